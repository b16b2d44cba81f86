"""Media's client gallery as the gateway's pages call it: the arrangement (order, title
picture), downloads by use, and share links (the agent's side with the caller's identity, the
visitor's side with none: the token, and for a PIN the grant, are the credential)."""

from pix_gateway.clients.base import ServiceClient, query, segment
from pix_gateway.clients.media_models import (
    Arrangement,
    DownloadView,
    SharedGallery,
    ShareGrantView,
    ShareLink,
)

GRANT_HEADER = "X-Pix-Share-Grant"


class ClientGalleryClient(ServiceClient):
    service = "media"

    async def arrangement(self, gallery_id: str) -> Arrangement:
        return await self.one(Arrangement, "GET", f"/galleries/{segment(gallery_id)}/arrangement")

    async def reorder(self, gallery_id: str, asset_ids: list[str]) -> Arrangement:
        path = f"/galleries/{segment(gallery_id)}/arrangement/order"
        return await self.one(Arrangement, "PUT", path, json={"asset_ids": asset_ids})

    async def choose_title(self, gallery_id: str, asset_id: str | None) -> Arrangement:
        path = f"/galleries/{segment(gallery_id)}/arrangement/title"
        return await self.one(Arrangement, "PUT", path, json={"asset_id": asset_id})

    async def download(self, gallery_id: str, asset_id: str, size: str) -> DownloadView:
        path = f"/galleries/{segment(gallery_id)}/photos/{segment(asset_id)}/download"
        return await self.one(DownloadView, "GET", path + query({"size": size}))

    async def share_links(self, gallery_id: str) -> list[ShareLink]:
        return await self.many(ShareLink, f"/galleries/{segment(gallery_id)}/shares")

    async def create_share_link(
        self, gallery_id: str, *, label: str, pin: str | None, expires_in_days: int
    ) -> ShareLink:
        body = {"label": label, "pin": pin, "expires_in_days": expires_in_days}
        return await self.one(
            ShareLink, "POST", f"/galleries/{segment(gallery_id)}/shares", json=body
        )

    async def revoke_share_link(self, gallery_id: str, share_id: str) -> ShareLink:
        path = f"/galleries/{segment(gallery_id)}/shares/{segment(share_id)}/revoke"
        return await self.one(ShareLink, "POST", path)


class SharedGalleryClient(ServiceClient):
    """The visitor's side: no identity at all."""

    service = "media"

    def _grant(self, grant: str | None) -> dict[str, str]:
        return {GRANT_HEADER: grant} if grant else {}

    async def shared(self, token: str, grant: str | None) -> SharedGallery:
        return await self.one(
            SharedGallery, "GET", f"/public/shares/{segment(token)}", headers=self._grant(grant)
        )

    async def unlock(self, token: str, pin: str) -> ShareGrantView:
        path = f"/public/shares/{segment(token)}/unlock"
        return await self.one(ShareGrantView, "POST", path, json={"pin": pin})

    async def download(
        self, token: str, grant: str | None, asset_id: str, size: str
    ) -> DownloadView:
        path = f"/public/shares/{segment(token)}/photos/{segment(asset_id)}/download"
        return await self.one(
            DownloadView, "GET", path + query({"size": size}), headers=self._grant(grant)
        )
