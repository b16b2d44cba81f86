"""The export service's answers as the gateway reads them.

Generated from the service's OpenAPI by `make clients` (pix_stack.clients): do not edit.
"""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    # Fields a newer service adds are ignored until the next `make clients`.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, protected_namespaces=())


class CoverChoice(_Model):
    asset_id: str | None


class CrmConnection(_Model):
    org_id: str
    crm: Literal["onoffice", "propstack"]
    hint: str
    created_at: dt.datetime
    updated_at: dt.datetime


class CrmCredentials(_Model):
    token: str | None = None
    secret: str | None = None
    api_key: str | None = None


class CrmPush(_Model):
    id: str
    crm: Literal["onoffice", "propstack"]
    version: int
    record_id: str | None
    status: Literal["pending", "sending", "retrying", "pushed", "failed"]
    attempts: int
    images_pushed: int
    image_count: int | None
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: dt.datetime | None
    pushed_at: dt.datetime | None
    created_at: dt.datetime


class CrmTarget(_Model):
    crm: Literal["onoffice", "propstack"]
    record_id: str
    updated_at: dt.datetime


class CrmTargetSet(_Model):
    record_id: str | int


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


class ExportDownload(_Model):
    name: str
    format: str
    media_type: str
    download_url: str
    sha256: str
    byte_size: int


class ExportVersion(_Model):
    version: int
    asset_count: int
    failed_count: int = 0
    complete: bool = False
    delivery: int | None = None
    created_at: dt.datetime
    files: list[ExportDownload]


class GalleryPhoto(_Model):
    asset_id: str
    name: str
    status: Literal["pending", "ready", "failed"]
    room_type: str | None
    failure_reason: str | None
    cover: bool


class GalleryPhotos(_Model):
    gallery_id: str
    reference: str | None
    cover_asset_id: str | None
    cover_chosen: bool
    photos: list[GalleryPhoto]


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


class Webhook(_Model):
    id: str
    url: str
    description: str
    active: bool
    created_at: dt.datetime


class WebhookCreate(_Model):
    url: str
    description: str = ""


class WebhookCreated(_Model):
    id: str
    url: str
    description: str
    active: bool
    created_at: dt.datetime
    secret: str


class WebhookDelivery(_Model):
    id: str
    event_id: str
    event_type: str
    status: Literal["pending", "sending", "retrying", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime
