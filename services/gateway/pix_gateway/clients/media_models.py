"""The media service's answers as the gateway reads them.

Generated from the service's OpenAPI by `make clients` (pix_stack.clients): do not edit.
"""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    # Fields a newer service adds are ignored until the next `make clients`.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, protected_namespaces=())


class Arrangement(_Model):
    gallery_id: str
    asset_ids: list[str]
    title_asset_id: str | None
    revision: int


class AssetView(_Model):
    id: str
    gallery_id: str
    label: str
    status: str
    pseudonym: str | None
    room_type: str | None
    width: int | None
    height: int | None
    byte_size: int | None
    faces_blurred: int | None
    error_code: str | None
    error_message: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    kind: str = "photo"
    content_type: str | None = None
    file_size: int | None = None
    duration_ms: int | None = None
    page_count: int | None = None
    thumb_url: str | None = None
    web_url: str | None = None
    file_url: str | None = None


class CompletePart(_Model):
    part_number: int
    etag: str


class CompleteRequest(_Model):
    parts: list[CompletePart] | None = None


class DayPhotos(_Model):
    day: str
    processed: int
    rejected: int


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


class DeliveryStateView(_Model):
    gallery_id: str
    state: str
    set_version: int
    photo_count: int
    in_flight: int
    delivered: bool
    up_to_date: bool
    delivery_count: int
    delivered_at: dt.datetime | None
    auto_deliver: bool


class DownloadView(_Model):
    asset_id: str
    size: Literal["web", "portal", "print"]
    url: str
    file_name: str


class ErrorBody(_Model):
    error: dict[str, Any]


class GalleryDetail(_Model):
    id: str
    order_id: str
    reference: str
    title: str
    created_at: dt.datetime
    ordered_services: list[str] | None = None
    watermarked: bool
    assets: list[AssetView]


class GalleryStatusView(_Model):
    gallery_id: str
    cursor: dt.datetime
    counts: dict[str, int]
    watermarked: bool
    assets: list[AssetView]


class GalleryView(_Model):
    id: str
    order_id: str
    reference: str
    title: str
    created_at: dt.datetime
    ordered_services: list[str] | None = None


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


class PartUrlView(_Model):
    part_number: int
    url: str


class UploadedPartView(_Model):
    part_number: int
    size: int
    etag: str


class MultipartView(_Model):
    part_size: int
    part_count: int
    uploaded: list[UploadedPartView]
    missing: list[PartUrlView]


class OperationsLine(_Model):
    key: str
    value: float | None = None
    detail: str | None = None
    at: dt.datetime | None = None


class OrderChoice(_Model):
    asset_ids: list[str]


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


class PinAttempt(_Model):
    pin: str


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


class Retention(_Model):
    original_days: int | None = None


class RetentionView(_Model):
    original_days: int
    own: Retention


class ServiceOperations(_Model):
    service: str
    outbox: OutboxFigures | None
    lag: list[GroupLag]
    lag_known: bool
    lines: list[OperationsLine]


class ShareGrantView(_Model):
    grant: str
    expires_at: dt.datetime


class ShareLink(_Model):
    id: str
    gallery_id: str
    token: str
    label: str
    has_pin: bool
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    active: bool
    view_count: int
    last_viewed_at: dt.datetime | None


class ShareRequest(_Model):
    label: str = ""
    pin: str | None = None
    expires_in_days: int = 14


class SharedPhoto(_Model):
    id: str
    name: str
    width: int | None
    height: int | None
    thumb_url: str | None
    web_url: str | None
    title: bool


class SharedGallery(_Model):
    title: str
    expires_at: dt.datetime
    downloads: bool
    photos: list[SharedPhoto]


class TitleChoice(_Model):
    asset_id: str | None


class UploadRequest(_Model):
    file_name: str
    byte_size: int
    kind: Literal["photo", "floor_plan", "video"] = "photo"


class UploadTicketView(_Model):
    asset_id: str
    upload_url: str | None
    method: str
    expires_at: dt.datetime
    max_bytes: int
    multipart: MultipartView | None
