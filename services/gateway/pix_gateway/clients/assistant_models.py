"""The assistant service's answers as the gateway reads them.

Generated from the service's OpenAPI by `make clients` (pix_stack.clients): do not edit.
"""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    # Fields a newer service adds are ignored until the next `make clients`.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, protected_namespaces=())


class Action(_Model):
    id: str
    conversation_id: str | None
    kind: str
    summary: str
    arguments: dict[str, Any]
    status: Literal[
        "pending", "running", "done", "failed", "rejected", "expired", "undoing", "undone"
    ]
    result: Any | None = None
    error: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    decided_at: dt.datetime | None


class AuditEntry(_Model):
    id: int
    kind: str
    name: str
    detail: dict[str, Any]
    at: dt.datetime


class Budget(_Model):
    org_id: str
    monthly_eur: float
    spent_eur: float
    month: str


class BudgetChange(_Model):
    monthly_eur: float


class ChatMessage(_Model):
    id: int
    role: Literal["user", "assistant"]
    content: str
    created_at: dt.datetime


class Conversation(_Model):
    id: str
    title: str
    summary: str
    rating: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ConversationDetail(_Model):
    conversation: Conversation
    messages: list[ChatMessage]
    pending: list[Action]


class CostRow(_Model):
    org_id: str
    feature: str
    day: dt.date
    calls: int
    tokens_in: int
    tokens_out: int
    cost_eur: float
    errors: int


class DayProviderCost(_Model):
    day: str
    model: str
    calls: int
    tokens_in: int
    tokens_out: int
    cost_eur: float


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


class ImportRow(_Model):
    line: int
    name: str
    email: str | None = None
    phone: str | None = None
    message: str = ""
    financing: Literal["confirmed", "in_progress", "none"] | None = None
    budget_max_eur: int | None = None
    locale: Literal["de", "en"] = "de"


class ListingRow(_Model):
    line: int
    title: str
    reference: str | None = None
    marketing: Literal["sale", "rent"] = "sale"
    property_type: Literal["apartment", "house", "commercial", "land"] | None = None
    price_eur: int | None = None
    rooms: float | None = None
    living_area_m2: float | None = None
    plot_area_m2: float | None = None
    year_built: int | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    description_de: str = ""


class ImportPreview(_Model):
    kind: Literal["leads", "listings"] = "leads"
    filename: str
    columns: dict[str, str]
    ignored_columns: list[str]
    rows: list[ImportRow]
    listings: list[ListingRow] = Field(default_factory=lambda: [])
    skipped: list[str]


class ImportProposal(_Model):
    preview: ImportPreview
    action: Action


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


class Memory(_Model):
    id: str
    fact: str
    created_at: dt.datetime


class NewConversation(_Model):
    title: str = ""


class NewMemory(_Model):
    fact: str


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


class ProcessingRecord(_Model):
    service: str
    declarations: list[PersonalData]


class Rating(_Model):
    rating: int


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


class StagedPhoto(_Model):
    id: str
    listing_id: str
    media_id: str
    style: Literal["modern", "scandinavian", "classic", "industrial", "cosy"]
    label: str
    storage_key: str
    url: str
    model: str


class Staging(_Model):
    id: str
    listing_id: str
    media_id: str
    style: Literal["modern", "scandinavian", "classic", "industrial", "cosy"]
    status: Literal["queued", "running", "done", "failed"]
    attempts: int
    error: str | None
    result: StagedPhoto | None
    created_at: dt.datetime
    updated_at: dt.datetime


class StagingOrder(_Model):
    listing_id: str
    media_id: str
    style: Literal["modern", "scandinavian", "classic", "industrial", "cosy"] = "modern"


class Status(_Model):
    configured: bool
    model: str | None
    router_model: str | None
    base_url: str | None
    missing: list[str]
    staging: bool = False
    staging_model: str | None = None


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


class UsageEntry(_Model):
    id: int
    org_id: str
    user_id: str | None
    conversation_id: str | None
    feature: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_eur: float
    latency_ms: int
    outcome: str
    at: dt.datetime


class UserMessage(_Model):
    text: str
