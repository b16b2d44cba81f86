"""The leads service as the gateway's pages call it."""

from pix_gateway.clients.base import ServiceClient
from pix_gateway.clients.leads_models import LeadStats


class LeadsClient(ServiceClient):
    service = "leads"

    async def stats(self) -> LeadStats:
        return await self.one(LeadStats, "GET", "/stats")
