"""The captioning service's answers as the gateway reads them.

Generated from the service's OpenAPI by `make clients` (pix_stack.clients): do not edit.
"""

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    # Fields a newer service adds are ignored until the next `make clients`.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, protected_namespaces=())


class CaptionEdit(_Model):
    title_de: str | None = None
    title_en: str | None = None
    description_de: str | None = None
    description_en: str | None = None
    alt_text_de: str | None = None
    alt_text_en: str | None = None
    features: list[str] | None = None


class CaptionFailure(_Model):
    id: str
    asset_id: str
    asset_version: int
    gallery_id: str
    org_id: str
    pseudonym: str
    kind: str
    reason: str
    attempts: int
    provider: str
    created_at: dt.datetime
    updated_at: dt.datetime
    resolved_at: dt.datetime | None


class CaptionText(_Model):
    room_type: str | None
    title_de: str
    title_en: str
    description_de: str
    description_en: str
    alt_text_de: str
    alt_text_en: str
    features: list[str]


class CaptionView(_Model):
    asset_id: str
    gallery_id: str
    pseudonym: str
    asset_version: int
    caption_version: int
    status: str
    review_reason: str | None
    caption: CaptionText
    model: str
    provider: str
    prompt_version: str
    edited: bool
    created_by: str | None
    created_at: dt.datetime
    txt_key: str
    json_key: str


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


class ProviderCaptions(_Model):
    provider: str
    captions: int
    failures: int
    failure_rate_percent: float
    latency_p50_seconds: float | None
    latency_p95_seconds: float | None


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
