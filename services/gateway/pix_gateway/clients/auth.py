"""The auth service as the gateway's pages call it (signed-in parts; sign-in itself stays in
pages.py, which forwards the browser's address and device)."""

from pix_gateway.clients.auth_models import OrganisationSummary, Profile
from pix_gateway.clients.base import ServiceClient


class AuthClient(ServiceClient):
    service = "auth"

    async def organisations(self) -> list[OrganisationSummary]:
        """Every organisation (admins only)."""
        return await self.many(OrganisationSummary, "/admin/organisations")

    async def me(self) -> Profile:
        return await self.one(Profile, "GET", "/me")
