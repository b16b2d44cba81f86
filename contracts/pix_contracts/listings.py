"""Events of the listings service: properties published, updated and withdrawn.

They carry what the leads service needs to attach an inquiry to its listing and to score a
budget match (facts and ids, no personal data); the full record stays in the listings API.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from pix_contracts.envelope import Event

PropertyType = Literal["apartment", "house", "commercial", "land"]
Marketing = Literal["sale", "rent"]


class ListingFacts(BaseModel):
    """The facts of a listing that other services match and link on."""

    model_config = ConfigDict(frozen=True)

    reference: str = Field(description="The agent's object number (OpenImmo objektnr_extern)")
    title: str
    property_type: PropertyType | None
    marketing: Marketing
    price_eur: int | None = Field(description="Purchase price, or the cold rent per month")
    rooms: float | None
    living_area_m2: float | None
    street: str | None
    postcode: str | None
    city: str | None
    country: str = "DE"
    latitude: float | None = None
    longitude: float | None = None
    portal_ids: list[str] = Field(
        default_factory=list,
        description="The listing's ids at ImmoScout24, immowelt, … (an inquiry naming one "
        "finds the listing)",
    )
    expose_url: str | None = Field(
        default=None, description="Public link to the current exposé PDF, if any"
    )


class ListingPublished(Event):
    topic: ClassVar[str] = "listings.listing.published.v1"
    key_field: ClassVar[str] = "listing_id"

    listing_id: uuid.UUID
    org_id: uuid.UUID
    order_id: uuid.UUID | None
    facts: ListingFacts


class ListingUpdated(Event):
    """A published listing changed (facts, price, a new exposé)."""

    topic: ClassVar[str] = "listings.listing.updated.v1"
    key_field: ClassVar[str] = "listing_id"

    listing_id: uuid.UUID
    org_id: uuid.UUID
    order_id: uuid.UUID | None
    facts: ListingFacts


class ListingWithdrawn(Event):
    topic: ClassVar[str] = "listings.listing.withdrawn.v1"
    key_field: ClassVar[str] = "listing_id"

    listing_id: uuid.UUID
    org_id: uuid.UUID
    reason: str | None = None


LISTING_EVENTS: tuple[type[Event], ...] = (ListingPublished, ListingUpdated, ListingWithdrawn)
