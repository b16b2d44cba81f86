"""The notify service as the gateway's pages call it."""

from pydantic import TypeAdapter

from pix_gateway.clients.base import ServiceClient, segment
from pix_gateway.clients.notify_models import LoggedMail, PreferenceView

PREFERENCES = TypeAdapter(list[PreferenceView])


class NotifyClient(ServiceClient):
    service = "notify"

    async def mail_log(self) -> list[LoggedMail]:
        """The latest mails (admins only)."""
        return await self.many(LoggedMail, "/mail")

    async def preferences(self, user_id: str) -> list[PreferenceView]:
        """The user's notification emails per kind (a user reads only their own)."""
        return await self.many(
            PreferenceView, f"/users/{segment(user_id)}/notification-preferences"
        )

    async def set_preference(self, user_id: str, kind: str, enabled: bool) -> list[PreferenceView]:
        response = await self.call(
            "PUT",
            f"/users/{segment(user_id)}/notification-preferences/{segment(kind)}",
            json={"enabled": enabled},
        )
        return PREFERENCES.validate_json(response.content)
