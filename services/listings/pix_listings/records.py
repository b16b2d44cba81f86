"""The listings service's domain values: what the API and the domain exchange."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

PropertyType = Literal["apartment", "house", "commercial", "land"]
Marketing = Literal["sale", "rent"]
Locale = Literal["de", "en"]
ListingStatus = Literal["draft", "published", "withdrawn"]
CertificateType = Literal["bedarf", "verbrauch"]
EnergyClass = Literal["A+", "A", "B", "C", "D", "E", "F", "G", "H"]

POSTCODE = re.compile(r"^[0-9]{4,5}$")


class ListingChanges(BaseModel):
    """Fields an agent sets; on update only the ones sent change (null clears)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reference: str | None = Field(default=None, min_length=1, max_length=60)
    title: str | None = Field(default=None, max_length=200)
    property_type: PropertyType | None = None
    marketing: Marketing | None = None
    price_eur: int | None = Field(default=None, ge=0, le=1_000_000_000)
    service_charge_eur: int | None = Field(default=None, ge=0, le=100_000)
    deposit_eur: int | None = Field(default=None, ge=0, le=1_000_000)
    rooms: float | None = Field(default=None, gt=0, le=100)
    living_area_m2: float | None = Field(default=None, gt=0, le=100_000)
    plot_area_m2: float | None = Field(default=None, gt=0, le=10_000_000)
    year_built: int | None = Field(default=None, ge=1000, le=2100)
    energy_certificate_type: CertificateType | None = None
    energy_value_kwh: float | None = Field(default=None, ge=0, le=2000)
    energy_class: EnergyClass | None = None
    energy_carrier: str | None = Field(default=None, max_length=60)
    features: list[str] | None = Field(default=None, max_length=40)
    description_de: str | None = Field(default=None, max_length=20_000)
    description_en: str | None = Field(default=None, max_length=20_000)
    available_from: str | None = Field(default=None, max_length=60)
    video_url: HttpUrl | None = None
    tour_url: HttpUrl | None = None
    street: str | None = Field(default=None, max_length=200)
    postcode: str | None = None
    city: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    portal_ids: list[str] | None = Field(default=None, max_length=20)
    contact_name: str | None = Field(default=None, max_length=200)
    contact_email: str | None = Field(default=None, max_length=320)
    contact_phone: str | None = Field(default=None, max_length=40)

    @field_validator("postcode")
    @classmethod
    def _postcode(cls, value: str | None) -> str | None:
        if value is not None and not POSTCODE.match(value):
            raise ValueError("a postcode has 4 or 5 digits")
        return value

    @field_validator("features", "portal_ids")
    @classmethod
    def _short_items(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [v.strip() for v in value if v.strip()]
        if any(len(v) > 60 for v in cleaned):
            raise ValueError("each entry has at most 60 characters")
        return list(dict.fromkeys(cleaned))

    def columns(self) -> dict[str, Any]:
        """The sent fields as column values (URLs as text)."""
        values = self.model_dump(exclude_unset=True)
        for url in ("video_url", "tour_url"):
            if values.get(url) is not None:
                values[url] = str(values[url])
        return values


class NewListing(ListingChanges):
    reference: str | None = Field(default=None, min_length=1, max_length=60)
    org_id: uuid.UUID | None = Field(
        default=None, description="Only admins choose the organisation"
    )


# In Germany a virtually furnished photo must be marked as such, in any language.
STAGED_LABEL = "Virtuell eingerichtet"
StagingStyle = Literal["modern", "scandinavian", "classic", "industrial", "cosy"]


class MediaItem(BaseModel):
    id: uuid.UUID
    # None for a staged photo: it is a copy of another photo, not an asset of the gallery.
    asset_id: uuid.UUID | None
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
    source_photo_id: uuid.UUID | None = None
    staging_style: StagingStyle | None = None
    # "Virtuell eingerichtet" for a staged photo: what every view and export shows beside it.
    label: str | None = None


class Listing(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    order_id: uuid.UUID | None
    gallery_id: uuid.UUID | None
    reference: str
    status: ListingStatus
    title: str
    property_type: PropertyType | None
    marketing: Marketing
    price_eur: int | None
    service_charge_eur: int | None
    deposit_eur: int | None
    rooms: float | None
    living_area_m2: float | None
    plot_area_m2: float | None
    year_built: int | None
    energy_certificate_type: CertificateType | None
    energy_value_kwh: float | None
    energy_class: EnergyClass | None
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
    geo_source: str | None = Field(
        default=None,
        description="geocoded, manual (typed by the agent), not_found; null: not located yet",
    )
    portal_ids: list[str]
    contact_name: str | None
    contact_email: str | None
    contact_phone: str | None
    withdraw_reason: str | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    media: list[MediaItem] = Field(default_factory=list)

    @property
    def address(self) -> str:
        place = " ".join(p for p in (self.postcode, self.city) if p)
        return ", ".join(p for p in (self.street, place) if p)


class ListingSummary(BaseModel):
    id: uuid.UUID
    reference: str
    status: ListingStatus
    title: str
    property_type: PropertyType | None
    marketing: Marketing
    price_eur: int | None
    rooms: float | None
    living_area_m2: float | None
    postcode: str | None
    city: str | None
    updated_at: datetime
    title_picture_url: str | None = None
    # "Virtuell eingerichtet" when the agent made a staged photo the title picture.
    title_picture_label: str | None = None


class MediaOrder(BaseModel):
    """The agent's order of the media (ids, first shown first) and the title picture."""

    model_config = ConfigDict(extra="forbid")

    order: list[uuid.UUID] = Field(max_length=500)
    title_media_id: uuid.UUID | None = None


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=300)


class Draft(BaseModel):
    description_de: str
    description_en: str
    model: str


class ExposeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    locale: Locale = "de"


class Expose(BaseModel):
    id: uuid.UUID
    listing_id: uuid.UUID
    version: int
    locale: Locale
    status: Literal["queued", "done", "failed"]
    byte_size: int | None
    pages: int | None
    render_ms: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    download_url: str | None = None
