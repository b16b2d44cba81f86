"""The export service as the gateway's pages call it."""

from pix_gateway.clients.base import ServiceClient, segment
from pix_gateway.clients.export_models import (
    CrmConnection,
    CrmPush,
    CrmTarget,
    ExportDownload,
    ExportVersion,
    GalleryPhotos,
    Webhook,
    WebhookCreated,
    WebhookDelivery,
)


class ExportClient(ServiceClient):
    service = "export"

    async def webhooks(self) -> list[Webhook]:
        return await self.many(Webhook, "/webhooks")

    async def add_webhook(self, url: str, description: str) -> WebhookCreated:
        """The new webhook with its signing secret, shown this once."""
        return await self.one(
            WebhookCreated, "POST", "/webhooks", json={"url": url, "description": description}
        )

    async def deliveries(self, webhook_id: str) -> list[WebhookDelivery]:
        return await self.many(WebhookDelivery, f"/webhooks/{segment(webhook_id)}/deliveries")

    async def test_webhook(self, webhook_id: str) -> WebhookDelivery:
        return await self.one(WebhookDelivery, "POST", f"/webhooks/{segment(webhook_id)}/test")

    async def delete_webhook(self, webhook_id: str) -> None:
        await self.call("DELETE", f"/webhooks/{segment(webhook_id)}")

    async def crm_connections(self) -> list[CrmConnection]:
        return await self.many(CrmConnection, "/crm/connections")

    async def connect_crm(self, crm: str, credentials: dict[str, str]) -> CrmConnection:
        return await self.one(
            CrmConnection, "PUT", f"/crm/connections/{segment(crm)}", json=credentials
        )

    async def gallery_photos(self, gallery_id: str) -> GalleryPhotos:
        return await self.one(GalleryPhotos, "GET", f"/galleries/{segment(gallery_id)}/photos")

    async def choose_cover(self, gallery_id: str, asset_id: str) -> GalleryPhotos:
        return await self.one(
            GalleryPhotos,
            "PUT",
            f"/galleries/{segment(gallery_id)}/cover",
            json={"asset_id": asset_id},
        )

    async def exports(self, gallery_id: str) -> list[ExportVersion]:
        """Newest first; 402 (PaymentRequired) while the order waits for its payment."""
        return await self.many(ExportVersion, f"/galleries/{segment(gallery_id)}/exports")

    async def original_bundle(self, gallery_id: str, version: int) -> ExportDownload:
        return await self.one(
            ExportDownload,
            "POST",
            f"/galleries/{segment(gallery_id)}/exports/{version}/bundle?size=original",
        )

    async def crm_targets(self, gallery_id: str) -> list[CrmTarget]:
        return await self.many(CrmTarget, f"/galleries/{segment(gallery_id)}/crm-targets")

    async def crm_pushes(self, gallery_id: str) -> list[CrmPush]:
        return await self.many(CrmPush, f"/galleries/{segment(gallery_id)}/crm-pushes")

    async def set_crm_target(self, gallery_id: str, crm: str, record_id: str) -> CrmTarget:
        return await self.one(
            CrmTarget,
            "PUT",
            f"/galleries/{segment(gallery_id)}/crm-targets/{segment(crm)}",
            json={"record_id": record_id},
        )

    async def clear_crm_target(self, gallery_id: str, crm: str) -> None:
        await self.call("DELETE", f"/galleries/{segment(gallery_id)}/crm-targets/{segment(crm)}")
