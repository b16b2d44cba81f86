"""The auth service as the gateway's pages call it (signed-in parts; sign-in itself stays in
pages.py, which forwards the browser's address and device)."""

from pix_gateway.clients.auth_models import (
    ErasureView,
    Member,
    OrganisationSummary,
    Profile,
    SessionInfo,
    UserSummary,
)
from pix_gateway.clients.base import ServiceClient, segment


class AuthClient(ServiceClient):
    service = "auth"

    async def organisations(self) -> list[OrganisationSummary]:
        """Every organisation (admins only)."""
        return await self.many(OrganisationSummary, "/admin/organisations")

    async def users(self) -> list[UserSummary]:
        """Every user (admins only)."""
        return await self.many(UserSummary, "/admin/users")

    async def erasures(self) -> list[ErasureView]:
        """The latest organisation erasures with each service's report (admins only)."""
        return await self.many(ErasureView, "/admin/erasures")

    async def invite_user(self, *, org_id: str, email: str, name: str, role: str) -> None:
        await self.call(
            "POST",
            "/admin/invitations",
            json={"org_id": org_id, "email": email, "name": name, "role": role},
        )

    async def set_user_role(self, user_id: str, role: str) -> None:
        await self.call("PATCH", f"/admin/users/{segment(user_id)}", json={"role": role})

    async def me(self) -> Profile:
        return await self.one(Profile, "GET", "/me")

    async def update_me(self, *, name: str | None, locale: str | None) -> Profile:
        return await self.one(Profile, "PATCH", "/me", json={"name": name, "locale": locale})

    async def delete_me(self, password: str) -> None:
        await self.call("POST", "/me/delete", json={"password": password})

    async def change_password(self, current_password: str, new_password: str) -> None:
        await self.call(
            "POST",
            "/password/change",
            json={"current_password": current_password, "new_password": new_password},
        )

    async def sessions(self) -> list[SessionInfo]:
        return await self.many(SessionInfo, "/sessions")

    async def revoke_session(self, session_id: str) -> None:
        await self.call("DELETE", f"/sessions/{segment(session_id)}")

    async def revoke_all_sessions(self) -> None:
        await self.call("POST", "/sessions/revoke-all")

    async def members(self) -> list[Member]:
        return await self.many(Member, "/organisation/members")

    async def invite(self, *, name: str, email: str, role: str) -> Member:
        return await self.one(
            Member,
            "POST",
            "/organisation/invitations",
            json={"name": name, "email": email, "role": role},
        )

    async def change_member_role(self, user_id: str, role: str) -> None:
        await self.call("PATCH", f"/organisation/members/{segment(user_id)}", json={"role": role})
