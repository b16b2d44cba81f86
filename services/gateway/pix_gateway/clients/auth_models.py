"""The auth service's answers as the gateway reads them.

Generated from the service's OpenAPI by `make clients` (pix_stack.clients): do not edit.
"""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    # Fields a newer service adds are ignored until the next `make clients`.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, protected_namespaces=())


class CancelErasureRequest(_Model):
    email: str
    password: str


class ChangePasswordRequest(_Model):
    current_password: str
    new_password: str


class ColleagueInvitation(_Model):
    email: str
    name: str
    role: Literal["owner", "agent"] = "agent"


class DeadLetterView(_Model):
    id: int
    consumer_group: str
    topic: str
    event_id: str | None
    partition: int | None
    offset: int | None
    key: str | None
    payload: str
    headers: dict[str, str]
    error: str
    traceback: str | None
    attempts: int
    status: str
    first_failed_at: dt.datetime
    last_failed_at: dt.datetime
    replayed_at: dt.datetime | None


class DeleteRequest(_Model):
    password: str


class EmailRequest(_Model):
    email: str


class ServiceReport(_Model):
    service: str
    rows: int
    objects: int
    reported_at: dt.datetime


class ErasureView(_Model):
    id: str
    org_id: str
    status: Literal["pending", "cancelled", "erasing", "done"]
    requested_by_role: str
    requested_at: dt.datetime
    due_at: dt.datetime
    cancelled_at: dt.datetime | None
    erased_at: dt.datetime | None
    completed_at: dt.datetime | None
    reports: list[ServiceReport]
    waiting_for: list[str]


class ErrorBody(_Model):
    error: dict[str, Any]


class GroupLag(_Model):
    group: str
    topic: str
    lag: int


class Identity(_Model):
    user_id: str
    org_id: str
    role: Literal["admin", "photographer", "owner", "agent"]
    email: str
    name: str
    locale: Literal["de", "en"] = "de"
    session_id: str | None = None
    email_verified: bool = False
    exp: int = 0


class InviteRequest(_Model):
    org_id: str
    email: str
    name: str
    role: Literal["admin", "photographer", "owner", "agent"] = "agent"


class JobCounts(_Model):
    kind: str
    status: str
    count: int
    oldest_run_at: dt.datetime | None


class JobView(_Model):
    id: int
    kind: str
    key: str | None
    status: str
    attempts: int
    run_at: dt.datetime
    last_error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    payload: dict[str, Any]


class LoginRequest(_Model):
    email: str
    password: str


class Member(_Model):
    user_id: str
    name: str
    email: str
    role: Literal["admin", "photographer", "owner", "agent"]


class MemberRole(_Model):
    role: Literal["owner", "agent"]


class OperationsLine(_Model):
    key: str
    value: float | None = None
    detail: str | None = None
    at: dt.datetime | None = None


class OrganisationSummary(_Model):
    id: str
    name: str
    created_at: dt.datetime
    members: int


class OutboxFigures(_Model):
    unpublished: int
    oldest_seconds: float
    parked: int


class Processor(_Model):
    name: str
    receives: str
    location: str
    condition: str = ""


class PersonalData(_Model):
    category: str
    subjects: str
    purpose: str
    legal_basis: str
    retention: str
    processors: list[Processor] = Field(default_factory=lambda: [])


class ProcessingRecord(_Model):
    service: str
    declarations: list[PersonalData]


class Profile(_Model):
    id: str
    name: str
    email: str
    role: Literal["admin", "photographer", "owner", "agent"]
    locale: Literal["de", "en"]
    organisation: str | None
    email_verified: bool
    created_at: dt.datetime


class ProfileUpdate(_Model):
    name: str | None = None
    locale: Literal["de", "en"] | None = None


class RegisterRequest(_Model):
    name: str
    email: str
    password: str
    company: str
    locale: Literal["de", "en"] = "de"


class ReplayOutcome(_Model):
    id: int
    replayed: bool
    error: str | None = None


class ReplayReport(_Model):
    replayed: int
    failed: int
    outcomes: list[ReplayOutcome]


class ResetRequest(_Model):
    token: str
    password: str


class RoleUpdate(_Model):
    role: Literal["admin", "photographer", "owner", "agent"]


class ServiceOperations(_Model):
    service: str
    outbox: OutboxFigures | None
    lag: list[GroupLag]
    lag_known: bool
    lines: list[OperationsLine]


class SessionInfo(_Model):
    id: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    user_agent: str | None
    current: bool


class SessionView(_Model):
    token: str
    expires_at: dt.datetime
    identity: Identity
    device_token: str


class TokenRequest(_Model):
    token: str


class UserSummary(_Model):
    id: str
    name: str
    email: str
    role: Literal["admin", "photographer", "owner", "agent"]
    locale: Literal["de", "en"]
    email_verified_at: dt.datetime | None
    created_at: dt.datetime
    organisation: str
    org_id: str
