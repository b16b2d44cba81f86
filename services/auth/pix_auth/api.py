import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pix_runtime.errors import DomainError
from pix_runtime.http import CurrentIdentity, client_address
from pix_runtime.identity import Identity, Role
from pydantic import BaseModel, EmailStr, Field

from pix_auth.devices import DEVICE_HEADER
from pix_auth.hashing import HashingBusy
from pix_auth.organisations import ErasureView, OrganisationErasures
from pix_auth.service import Accounts, OrganisationSummary, Profile, SessionInfo, UserSummary
from pix_auth.throttle import RateLimited

Password = Annotated[str, Field(max_length=1024)]


class RegisterRequest(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    password: Password
    company: str = Field(min_length=1, max_length=200)
    locale: Literal["de", "en"] = "de"


class LoginRequest(BaseModel):
    email: str = Field(max_length=320)
    password: Password


class TokenRequest(BaseModel):
    token: str = Field(min_length=1, max_length=200)


class EmailRequest(BaseModel):
    email: str = Field(max_length=320)


class ResetRequest(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    password: Password


class ChangePasswordRequest(BaseModel):
    current_password: Password
    new_password: Password


class ProfileUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    locale: Literal["de", "en"] | None = None


class DeleteRequest(BaseModel):
    password: Password


class InviteRequest(BaseModel):
    org_id: uuid.UUID
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    role: Role = "agent"


class ColleagueInvitation(BaseModel):
    """An owner invites a colleague into their own organisation."""

    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    role: Literal["owner", "agent"] = "agent"


class RoleUpdate(BaseModel):
    role: Role


class MemberRole(BaseModel):
    role: Literal["owner", "agent"]


class Member(BaseModel):
    user_id: uuid.UUID
    name: str
    email: str
    role: Role


class SessionView(BaseModel):
    token: str
    expires_at: datetime
    identity: Identity
    # The gateway keeps it in a cookie; sent back on the next sign-in, it marks a trusted device.
    device_token: str


class SessionInvalid(DomainError):
    status = 401

    def __init__(self) -> None:
        super().__init__("session_invalid", "the session is invalid or has expired")


def client_ip(request: Request) -> str:
    """The browser's address as the gateway signed it; limits count on it."""
    return client_address(request)


def accounts_of(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


AccountsDep = Annotated[Accounts, Depends(accounts_of)]
router = APIRouter()


@router.post("/register", status_code=201)
async def register(accounts: AccountsDep, body: RegisterRequest, request: Request) -> Identity:
    return await accounts.register(
        name=body.name,
        email=str(body.email),
        password=body.password,
        company=body.company,
        locale=body.locale,
        ip=client_ip(request),
    )


@router.post("/verify-email")
async def verify_email(accounts: AccountsDep, body: TokenRequest) -> dict[str, str]:
    await accounts.verify_email(body.token)
    return {"status": "verified"}


@router.post("/verify-email/resend", status_code=202)
async def resend_verification(accounts: AccountsDep, caller: CurrentIdentity) -> dict[str, str]:
    await accounts.resend_verification(caller)
    return {"status": "sent"}


@router.post("/login")
async def login(accounts: AccountsDep, body: LoginRequest, request: Request) -> SessionView:
    signed_in = await accounts.login(
        body.email,
        body.password,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        device_token=request.headers.get(DEVICE_HEADER),
    )
    return SessionView(
        token=signed_in.session.token,
        expires_at=signed_in.session.expires_at,
        identity=signed_in.identity,
        device_token=signed_in.device_token,
    )


# Called by the gateway: knowing the token is the credential.
@router.post("/sessions/validate")
async def validate(accounts: AccountsDep, body: TokenRequest) -> Identity:
    identity = await accounts.validate(body.token)
    if identity is None:
        raise SessionInvalid()
    return identity


@router.post("/sessions/revoke", status_code=204)
async def revoke(accounts: AccountsDep, body: TokenRequest) -> None:
    await accounts.revoke(body.token)


@router.post("/sessions/revoke-all")
async def revoke_all(accounts: AccountsDep, caller: CurrentIdentity) -> dict[str, int]:
    return {"revoked": await accounts.revoke_all(caller.user_id)}


@router.get("/sessions")
async def list_sessions(accounts: AccountsDep, caller: CurrentIdentity) -> list[SessionInfo]:
    return await accounts.list_sessions(caller)


@router.delete("/sessions/{session_id}", status_code=204)
async def revoke_session(accounts: AccountsDep, session_id: str, caller: CurrentIdentity) -> None:
    await accounts.revoke_session(caller, session_id)


@router.post("/password/forgot", status_code=202)
async def forgot_password(
    accounts: AccountsDep, body: EmailRequest, request: Request
) -> dict[str, str]:
    await accounts.request_password_reset(body.email, ip=client_ip(request))
    return {"status": "if the account exists, an email is on its way"}


@router.post("/password/reset")
async def reset_password(accounts: AccountsDep, body: ResetRequest) -> dict[str, str]:
    await accounts.reset_password(body.token, body.password)
    return {"status": "password changed"}


@router.post("/password/change")
async def change_password(
    accounts: AccountsDep, body: ChangePasswordRequest, caller: CurrentIdentity
) -> dict[str, str]:
    await accounts.change_password(caller, body.current_password, body.new_password)
    return {"status": "password changed"}


@router.get("/me")
async def me(accounts: AccountsDep, caller: CurrentIdentity) -> Profile:
    return await accounts.profile(caller)


@router.patch("/me")
async def update_me(accounts: AccountsDep, body: ProfileUpdate, caller: CurrentIdentity) -> Profile:
    await accounts.update_profile(caller, name=body.name, locale=body.locale)
    return await accounts.profile(caller)


@router.get("/me/export")
async def export_me(accounts: AccountsDep, caller: CurrentIdentity) -> JSONResponse:
    return JSONResponse(
        (await accounts.export_data(caller)).model_dump(mode="json"),
        headers={
            "content-disposition": 'attachment; filename="pix-immo-my-data.json"',
            "cache-control": "no-store",
        },
    )


@router.post("/me/delete", status_code=204)
async def delete_me(accounts: AccountsDep, body: DeleteRequest, caller: CurrentIdentity) -> None:
    await accounts.delete_account(caller, body.password)


@router.get("/admin/users")
async def admin_users(accounts: AccountsDep, caller: CurrentIdentity) -> list[UserSummary]:
    return await accounts.list_users(caller)


@router.get("/admin/organisations")
async def admin_organisations(
    accounts: AccountsDep, caller: CurrentIdentity
) -> list[OrganisationSummary]:
    return await accounts.list_organisations(caller)


@router.post("/admin/invitations", status_code=201)
async def invite(accounts: AccountsDep, body: InviteRequest, caller: CurrentIdentity) -> Identity:
    return await accounts.invite(
        caller, org_id=body.org_id, email=str(body.email), name=body.name, role=body.role
    )


@router.patch("/admin/users/{user_id}")
async def set_role(
    accounts: AccountsDep, user_id: uuid.UUID, body: RoleUpdate, caller: CurrentIdentity
) -> dict[str, str]:
    await accounts.set_role(caller, user_id, body.role)
    return {"role": body.role}


@router.get("/organisation/members")
async def members(accounts: AccountsDep, caller: CurrentIdentity) -> list[Member]:
    return [
        Member(user_id=m.user_id, name=m.name, email=m.email, role=m.role)
        for m in await accounts.members(caller)
    ]


@router.post("/organisation/invitations", status_code=201)
async def invite_colleague(
    accounts: AccountsDep, body: ColleagueInvitation, caller: CurrentIdentity
) -> Member:
    invited = await accounts.invite(
        caller, org_id=caller.org_id, email=str(body.email), name=body.name, role=body.role
    )
    return Member(
        user_id=invited.user_id, name=invited.name, email=invited.email, role=invited.role
    )


@router.patch("/organisation/members/{user_id}")
async def set_member_role(
    accounts: AccountsDep, user_id: uuid.UUID, body: MemberRole, caller: CurrentIdentity
) -> dict[str, str]:
    await accounts.set_role(caller, user_id, body.role)
    return {"role": body.role}


def erasures_of(request: Request) -> OrganisationErasures:
    erasures: OrganisationErasures = request.app.state.erasures
    return erasures


ErasuresDep = Annotated[OrganisationErasures, Depends(erasures_of)]


class CancelErasureRequest(BaseModel):
    email: str = Field(max_length=320)
    password: Password


@router.post("/organisation/erasure", status_code=202)
async def request_erasure(
    erasures: ErasuresDep, body: DeleteRequest, caller: CurrentIdentity
) -> ErasureView:
    """The owner deletes their organisation; it is locked (every session ends) until then."""
    return await erasures.request(caller, caller.org_id, body.password)


@router.post("/organisation/erasure/cancel")
async def cancel_erasure(erasures: ErasuresDep, body: CancelErasureRequest) -> ErasureView:
    """No session exists while the organisation is locked: the owner's password suffices."""
    return await erasures.cancel_with_password(body.email, body.password)


@router.post("/admin/organisations/{org_id}/erasure", status_code=202)
async def admin_request_erasure(
    erasures: ErasuresDep, org_id: uuid.UUID, body: DeleteRequest, caller: CurrentIdentity
) -> ErasureView:
    return await erasures.request(caller, org_id, body.password)


@router.get("/admin/erasures")
async def admin_erasures(erasures: ErasuresDep, caller: CurrentIdentity) -> list[ErasureView]:
    """The latest organisation erasures and each one's progress per service."""
    return await erasures.recent(caller)


@router.get("/admin/organisations/{org_id}/erasure")
async def admin_erasure(
    erasures: ErasuresDep, org_id: uuid.UUID, caller: CurrentIdentity
) -> ErasureView:
    return await erasures.status_as_admin(caller, org_id)


@router.post("/admin/organisations/{org_id}/erasure/cancel")
async def admin_cancel_erasure(
    erasures: ErasuresDep, org_id: uuid.UUID, caller: CurrentIdentity
) -> ErasureView:
    return await erasures.cancel_as_admin(caller, org_id)


async def rate_limited_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited | HashingBusy)
    return JSONResponse(
        {"error": {"code": exc.code, "message": exc.message}},
        status_code=exc.status,
        headers={"retry-after": str(exc.retry_after)},
    )
