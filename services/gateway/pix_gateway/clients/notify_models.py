"""The notify service's answers as the gateway reads them.

Generated from the service's OpenAPI by `make clients` (pix_stack.clients): do not edit.
"""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    # Fields a newer service adds are ignored until the next `make clients`.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, protected_namespaces=())


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


class ErrorBody(_Model):
    error: dict[str, Any]


class GroupLag(_Model):
    group: str
    topic: str
    lag: int


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


class LoggedMail(_Model):
    id: str
    kind: str
    recipient: str
    locale: str
    subject: str
    text_body: str
    status: Literal["sending", "sent", "retrying", "failed", "suppressed", "bounced", "skipped"]
    provider: str
    attempts: int
    error: str | None
    provider_message_id: str | None
    created_at: dt.datetime
    attempted_at: dt.datetime | None
    next_attempt_at: dt.datetime | None
    sent_at: dt.datetime | None


class MailgunSignature(_Model):
    timestamp: str
    token: str
    signature: str


class MailgunWebhook(_Model):
    signature: MailgunSignature
    event_data_: dict[str, Any] = Field(alias="event-data")


class OperationsLine(_Model):
    key: str
    value: float | None = None
    detail: str | None = None
    at: dt.datetime | None = None


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


class PreferenceChange(_Model):
    enabled: bool


class PreferenceView(_Model):
    kind: Literal["order_updates", "gallery_delivered", "appointments", "admin_alerts", "security"]
    enabled: bool
    switchable: bool


class ProcessingRecord(_Model):
    service: str
    declarations: list[PersonalData]


class ReplayOutcome(_Model):
    id: int
    replayed: bool
    error: str | None = None


class ReplayReport(_Model):
    replayed: int
    failed: int
    outcomes: list[ReplayOutcome]


class ServiceOperations(_Model):
    service: str
    outbox: OutboxFigures | None
    lag: list[GroupLag]
    lag_known: bool
    lines: list[OperationsLine]


class SubjectErasure(_Model):
    service: str
    erased: int


class SubjectRecord(_Model):
    kind: str
    id: str
    at: dt.datetime | None
    text: str


class SubjectFindings(_Model):
    service: str
    records: list[SubjectRecord]


class SubjectQuery(_Model):
    email: str | None = None
    phone: str | None = None


class Suppression(_Model):
    email: str
    reason: str
    detail: str | None
    source: str
    created_at: dt.datetime
