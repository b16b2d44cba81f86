"""The listings service's answers as the gateway reads them.

Generated from the service's OpenAPI by `make clients` (pix_stack.clients): do not edit.
"""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    # Fields a newer service adds are ignored until the next `make clients`.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, protected_namespaces=())


class Comparable(_Model):
    listing_id: str | None
    title: str | None
    postcode: str | None
    living_area_m2: float
    price_eur: int
    price_per_m2: float
    own: bool
    outlier: bool
    proximity: Literal["postcode", "nearby", "region", "city"]
    distance_km: float | None = None


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


class Draft(_Model):
    description_de: str
    description_en: str
    model: str


class ErrorBody(_Model):
    error: dict[str, Any]


class EstimateRequest(_Model):
    property_type: Literal["apartment", "house", "commercial", "land"]
    marketing: Literal["sale", "rent"] = "sale"
    living_area_m2: float
    postcode: str
    city: str | None = None
    rooms: float | None = None
    exclude_listing_id: str | None = None


class Expose(_Model):
    id: str
    listing_id: str
    version: int
    locale: Literal["de", "en"]
    status: Literal["queued", "done", "failed"]
    byte_size: int | None
    pages: int | None
    render_ms: int | None
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    download_url: str | None = None


class ExposeRequest(_Model):
    locale: Literal["de", "en"] = "de"


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


class Match(_Model):
    id: str
    score: float
    similarity: float | None
    reasons: list[str]
    title: str | None = None
    reference: str | None = None
    status: str | None = None
    price_eur: int | None = None
    rooms: float | None = None
    living_area_m2: float | None = None
    postcode: str | None = None
    city: str | None = None
    lead_score: int | None = None
    distance_km: float | None = None


class LeadMatches(_Model):
    count: int
    matches: list[Match]


class MediaItem(_Model):
    id: str
    asset_id: str | None
    name: str
    room_type: str | None
    title_de: str
    title_en: str
    caption_de: str
    caption_en: str
    features: list[str]
    position: int
    is_title: bool
    is_floor_plan: bool
    url: str | None = None
    storage_key: str
    staged: bool = False
    source_photo_id: str | None = None
    staging_style: Literal["modern", "scandinavian", "classic", "industrial", "cosy"] | None = None
    label: str | None = None


class Listing(_Model):
    id: str
    org_id: str
    order_id: str | None
    gallery_id: str | None
    reference: str
    status: Literal["draft", "published", "withdrawn"]
    title: str
    property_type: Literal["apartment", "house", "commercial", "land"] | None
    marketing: Literal["sale", "rent"]
    price_eur: int | None
    service_charge_eur: int | None
    deposit_eur: int | None
    rooms: float | None
    living_area_m2: float | None
    plot_area_m2: float | None
    year_built: int | None
    energy_certificate_type: Literal["bedarf", "verbrauch"] | None
    energy_value_kwh: float | None
    energy_class: Literal["A+", "A", "B", "C", "D", "E", "F", "G", "H"] | None
    energy_carrier: str | None
    features: list[str]
    description_de: str
    description_en: str
    draft_de: str | None
    draft_en: str | None
    draft_model: str | None
    available_from: str | None
    video_url: str | None
    tour_url: str | None
    street: str | None
    postcode: str | None
    city: str | None
    country: str
    latitude: float | None
    longitude: float | None
    geo_source: str | None = None
    portal_ids: list[str]
    contact_name: str | None
    contact_email: str | None
    contact_phone: str | None
    withdraw_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime | None
    media: list[MediaItem] | None = None


class ListingChanges(_Model):
    reference: str | None = None
    title: str | None = None
    property_type: Literal["apartment", "house", "commercial", "land"] | None = None
    marketing: Literal["sale", "rent"] | None = None
    price_eur: int | None = None
    service_charge_eur: int | None = None
    deposit_eur: int | None = None
    rooms: float | None = None
    living_area_m2: float | None = None
    plot_area_m2: float | None = None
    year_built: int | None = None
    energy_certificate_type: Literal["bedarf", "verbrauch"] | None = None
    energy_value_kwh: float | None = None
    energy_class: Literal["A+", "A", "B", "C", "D", "E", "F", "G", "H"] | None = None
    energy_carrier: str | None = None
    features: list[str] | None = None
    description_de: str | None = None
    description_en: str | None = None
    available_from: str | None = None
    video_url: str | None = None
    tour_url: str | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    portal_ids: list[str] | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None


class ListingSummary(_Model):
    id: str
    reference: str
    status: Literal["draft", "published", "withdrawn"]
    title: str
    property_type: Literal["apartment", "house", "commercial", "land"] | None
    marketing: Literal["sale", "rent"]
    price_eur: int | None
    rooms: float | None
    living_area_m2: float | None
    postcode: str | None
    city: str | None
    updated_at: dt.datetime
    title_picture_url: str | None = None
    title_picture_label: str | None = None


class MediaOrder(_Model):
    order: list[str]
    title_media_id: str | None = None


class NewListing(_Model):
    reference: str | None = None
    title: str | None = None
    property_type: Literal["apartment", "house", "commercial", "land"] | None = None
    marketing: Literal["sale", "rent"] | None = None
    price_eur: int | None = None
    service_charge_eur: int | None = None
    deposit_eur: int | None = None
    rooms: float | None = None
    living_area_m2: float | None = None
    plot_area_m2: float | None = None
    year_built: int | None = None
    energy_certificate_type: Literal["bedarf", "verbrauch"] | None = None
    energy_value_kwh: float | None = None
    energy_class: Literal["A+", "A", "B", "C", "D", "E", "F", "G", "H"] | None = None
    energy_carrier: str | None = None
    features: list[str] | None = None
    description_de: str | None = None
    description_en: str | None = None
    available_from: str | None = None
    video_url: str | None = None
    tour_url: str | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    portal_ids: list[str] | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    org_id: str | None = None


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


class PriceEstimate(_Model):
    status: Literal["ok", "low_confidence", "too_few_comparables"]
    message: str
    estimate_eur: int | None
    low_eur: int | None
    high_eur: int | None
    price_per_m2: float | None
    comparables_used: int
    outliers_removed: int
    located: bool = False
    comparables: list[Comparable]


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


class SearchHit(_Model):
    id: str
    reference: str
    title: str
    status: str
    city: str | None
    postcode: str | None
    price_eur: int | None
    matched: list[Literal["text", "meaning"]]
    text_rank: float | None
    similarity: float | None
    headline: str | None
    score: float


class ServiceOperations(_Model):
    service: str
    outbox: OutboxFigures | None
    lag: list[GroupLag]
    lag_known: bool
    lines: list[OperationsLine]


class Withdrawal(_Model):
    reason: str | None = None
