"""The captioning service as the gateway's pages call it."""

from collections.abc import Mapping

from pix_gateway.clients.base import ServiceClient, segment
from pix_gateway.clients.captioning_models import CaptionFailure, CaptionView


class CaptioningClient(ServiceClient):
    service = "captioning"

    async def gallery_captions(self, gallery_id: str) -> list[CaptionView]:
        return await self.many(CaptionView, f"/galleries/{segment(gallery_id)}/captions")

    async def edit_caption(self, asset_id: str, edit: Mapping[str, str]) -> CaptionView:
        return await self.one(
            CaptionView, "PATCH", f"/assets/{segment(asset_id)}/caption", json=dict(edit)
        )

    async def failures(self) -> list[CaptionFailure]:
        """Photos whose captioning gave up (admins only)."""
        return await self.many(CaptionFailure, "/admin/failures")

    async def retry_failure(self, failure_id: str) -> CaptionView:
        return await self.one(CaptionView, "POST", f"/admin/failures/{segment(failure_id)}/retry")

    async def regenerate(self, asset_id: str) -> CaptionView:
        return await self.one(
            CaptionView, "POST", f"/assets/{segment(asset_id)}/caption/regenerate"
        )
