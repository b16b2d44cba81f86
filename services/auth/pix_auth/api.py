from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pix_runtime.errors import DomainError
from pix_runtime.identity import Identity
from pydantic import BaseModel, EmailStr, Field

from pix_auth.service import Accounts


class RegisterRequest(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    password: str = Field(max_length=1024)
    company: str = Field(min_length=1, max_length=200)
    locale: Literal["de", "en"] = "de"


class LoginRequest(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class TokenRequest(BaseModel):
    token: str = Field(max_length=200)


class SessionView(BaseModel):
    token: str
    expires_at: datetime
    identity: Identity


class SessionInvalid(DomainError):
    status = 401

    def __init__(self) -> None:
        super().__init__("session_invalid", "the session is invalid or has expired")


def create_router(accounts: Accounts, current_identity: Any) -> APIRouter:
    router = APIRouter()
    Caller = Annotated[Identity, Depends(current_identity)]

    @router.post("/register", status_code=201)
    async def register(body: RegisterRequest) -> Identity:
        return await accounts.register(
            name=body.name,
            email=str(body.email),
            password=body.password,
            company=body.company,
            locale=body.locale,
        )

    @router.post("/login")
    async def login(body: LoginRequest) -> SessionView:
        token, identity = await accounts.login(body.email, body.password)
        return SessionView(token=token.token, expires_at=token.expires_at, identity=identity)

    # Called by the gateway: knowing the token is the credential.
    @router.post("/sessions/validate")
    async def validate(body: TokenRequest) -> Identity:
        identity = await accounts.validate(body.token)
        if identity is None:
            raise SessionInvalid()
        return identity

    @router.post("/sessions/revoke", status_code=204)
    async def revoke(body: TokenRequest) -> None:
        await accounts.revoke(body.token)

    @router.post("/sessions/revoke-all")
    async def revoke_all(caller: Caller) -> dict[str, int]:
        return {"revoked": await accounts.revoke_all(caller.user_id)}

    @router.get("/me")
    async def me(caller: Caller) -> Identity:
        return caller

    return router
