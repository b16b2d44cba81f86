"""The assistant service as the gateway's pages call it."""

from pix_gateway.clients.assistant_models import (
    Budget,
    Conversation,
    ConversationDetail,
    CostRow,
    Staging,
    Status,
    UsageEntry,
)
from pix_gateway.clients.base import ServiceClient, segment


class AssistantClient(ServiceClient):
    service = "assistant"

    async def status(self) -> Status:
        return await self.one(Status, "GET", "/status")

    async def conversations(self) -> list[Conversation]:
        return await self.many(Conversation, "/conversations")

    async def conversation(self, conversation_id: str) -> ConversationDetail:
        return await self.one(
            ConversationDetail, "GET", f"/conversations/{segment(conversation_id)}"
        )

    async def new_conversation(self) -> Conversation:
        return await self.one(Conversation, "POST", "/conversations", json={})

    async def costs(self) -> list[CostRow]:
        """Admins: cost per organisation, feature and day."""
        return await self.many(CostRow, "/admin/costs")

    async def calls(self, limit: int) -> list[UsageEntry]:
        return await self.many(UsageEntry, f"/admin/calls?limit={limit}")

    async def set_budget(self, org_id: str, monthly_eur: float) -> Budget:
        return await self.one(
            Budget, "PUT", f"/admin/budgets/{segment(org_id)}", json={"monthly_eur": monthly_eur}
        )

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
