"""The media service as the gateway's pages call it."""

from pix_gateway.clients.base import ServiceClient, segment
from pix_gateway.clients.media_models import DeliveryStateView, GalleryDetail, GalleryView


class MediaClient(ServiceClient):
    service = "media"

    async def galleries(self) -> list[GalleryView]:
        return await self.many(GalleryView, "/galleries")

    async def gallery(self, gallery_id: str) -> GalleryDetail:
        return await self.one(GalleryDetail, "GET", f"/galleries/{segment(gallery_id)}")

    async def delivery(self, gallery_id: str) -> DeliveryStateView:
        return await self.one(
            DeliveryStateView, "GET", f"/galleries/{segment(gallery_id)}/delivery"
        )

    async def deliver(self, gallery_id: str) -> DeliveryStateView:
        return await self.one(
            DeliveryStateView, "POST", f"/galleries/{segment(gallery_id)}/deliver"
        )

    async def delete_asset(self, asset_id: str) -> None:
        await self.call("DELETE", f"/assets/{segment(asset_id)}")
