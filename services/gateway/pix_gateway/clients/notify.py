"""The notify service as the gateway's pages call it."""

from pix_gateway.clients.base import ServiceClient
from pix_gateway.clients.notify_models import LoggedMail


class NotifyClient(ServiceClient):
    service = "notify"

    async def mail_log(self) -> list[LoggedMail]:
        """The latest mails (admins only)."""
        return await self.many(LoggedMail, "/mail")
