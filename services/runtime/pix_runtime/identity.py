"""The identity the gateway vouches for, as a signed `X-Pix-Identity` header.

Internal services trust nothing else: no header, a bad signature or an expired one is a 401.
Format: base64url(JSON payload) + "." + hex HMAC-SHA256 over that text with the internal key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from pix_runtime.errors import Forbidden

# Platform staff: `admin` (everything) and `photographer` (the shoots assigned to them).
# Members of an organisation: its `owner` (users, billing, integrations) and `agent`s.
Role = Literal["admin", "photographer", "owner", "agent"]

IDENTITY_HEADER = "X-Pix-Identity"
IDENTITY_TTL_SECONDS = 60


class Identity(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role
    email: str
    name: str
    locale: Literal["de", "en"] = "de"
    # The session behind this request, so "log out this device" and "current session" work.
    session_id: str | None = None
    email_verified: bool = False
    exp: int = 0

    @field_validator("role", mode="before")
    @classmethod
    def _members_were_clients(cls, role: object) -> object:
        # Before the roles were split every member was a "client" with an owner's rights.
        return "owner" if role == "client" else role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def manages_organisation(self) -> bool:
        """May change the organisation itself: its users, billing and integrations."""
        return self.role in ("admin", "owner")

    def may_access(self, org_id: uuid.UUID) -> bool:
        return self.is_admin or self.org_id == org_id


class InvalidIdentity(Exception):
    pass


def _mac(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def sign_identity(identity: Identity, key: bytes, *, ttl: int = IDENTITY_TTL_SECONDS) -> str:
    stamped = identity.model_copy(update={"exp": int(time.time()) + ttl})
    payload = base64.urlsafe_b64encode(stamped.model_dump_json().encode()).decode().rstrip("=")
    return f"{payload}.{_mac(key, payload)}"


def verify_identity(header: str, key: bytes) -> Identity:
    payload, _, mac = header.partition(".")
    if not payload or not hmac.compare_digest(_mac(key, payload), mac):
        raise InvalidIdentity("bad signature")
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        identity = Identity.model_validate_json(raw)
    except (ValueError, ValidationError) as exc:
        raise InvalidIdentity("malformed identity") from exc
    if identity.exp < time.time():
        raise InvalidIdentity("expired identity")
    return identity


def report_scope(caller: Identity, org_id: uuid.UUID | None) -> uuid.UUID | None:
    """Whose figures (`/reports/...`) a caller may see: an admin all organisations or the one
    asked for, an owner always their own; anyone else none."""
    if caller.is_admin:
        return org_id
    if caller.role == "owner":
        return caller.org_id
    raise Forbidden("administrators and owners only")
