"""The assistant service as the gateway's pages call it."""

from pix_gateway.clients.assistant_models import Staging, Status
from pix_gateway.clients.base import ServiceClient, segment


class AssistantClient(ServiceClient):
    service = "assistant"

    async def status(self) -> Status:
        return await self.one(Status, "GET", "/status")

    async def staging(self, staging_id: str) -> Staging:
        return await self.one(Staging, "GET", f"/staging/{segment(staging_id)}")

    async def stage(self, listing_id: str, media_id: str, style: str) -> Staging:
        """Accepted at once (202); the staging runs in the assistant's job."""
        return await self.one(
            Staging,
            "POST",
            "/staging",
            json={"listing_id": listing_id, "media_id": media_id, "style": style},
        )
