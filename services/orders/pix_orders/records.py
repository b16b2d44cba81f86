"""What the orders service hands out: orders, their history and internal notes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import RowMapping

COUNTRY_NAMES = {"AT": "Österreich", "CH": "Schweiz"}


class Record(BaseModel):
    """A value the orders service hands out: immutable, and the API's response shape."""

    model_config = ConfigDict(frozen=True)


class OrderLine(Record):
    key: str
    price_cents: int


class SlotView(Record):
    date: date
    window: str


class Order(Record):
    id: uuid.UUID
    number: int
    reference: str
    gallery_id: uuid.UUID
    org_id: uuid.UUID
    placed_by: uuid.UUID
    status: str
    contact_name: str
    contact_email: str
    contact_phone: str | None
    street: str
    house_number: str
    postcode: str
    city: str
    country: str
    property_address: str
    property_type: str
    marketing: str | None = Field(
        description="sale or rent; null for orders placed before it was asked"
    )
    living_area_m2: float | None
    rooms: float | None
    services: list[OrderLine]
    total_cents: int
    currency: str
    preferred_slots: list[SlotView]
    access_notes: str
    locale: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Order:
        return cls(
            id=row["id"],
            number=row["number"],
            reference=reference_of(row["number"]),
            gallery_id=row["gallery_id"],
            org_id=row["org_id"],
            placed_by=row["placed_by"],
            status=row["status"],
            contact_name=row["contact_name"],
            contact_email=row["contact_email"],
            contact_phone=row["contact_phone"],
            street=row["street"],
            house_number=row["house_number"],
            postcode=row["postcode"],
            city=row["city"],
            country=row["country"],
            property_address=row["property_address"],
            property_type=row["property_type"],
            marketing=row["marketing"],
            living_area_m2=row["living_area_m2"],
            rooms=row["rooms"],
            services=[
                OrderLine(key=s["key"], price_cents=int(s["price_cents"])) for s in row["services"]
            ],
            total_cents=row["total_cents"],
            currency=row["currency"],
            preferred_slots=[_slot(s) for s in row["preferred_slots"]],
            access_notes=row["access_notes"],
            locale=row["locale"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    @property
    def contact_deleted(self) -> bool:
        return self.contact_email.endswith("@invalid")


class HistoryEntry(Record):
    from_status: str | None
    to_status: str
    by: uuid.UUID
    by_name: str | None
    at: datetime
    note: str | None


class Note(Record):
    text: str
    by: uuid.UUID
    by_name: str | None
    at: datetime


class OrderDetail(Record):
    order: Order
    history: list[HistoryEntry]
    allowed_transitions: list[str]
    # None for clients: internal notes are for platform staff only.
    internal_notes: list[Note] | None


def _slot(raw: dict[str, Any]) -> SlotView:  # raw: a slot as the JSONB column keeps it
    return SlotView(date=date.fromisoformat(raw["date"]), window=raw["window"])


def reference_of(number: int) -> str:
    return f"PIX-{number:06d}"


def one_line_address(street: str, house_number: str, postcode: str, city: str, country: str) -> str:
    """ "Lindenallee 5, 10115 Berlin"; the country is named only outside Germany."""
    line = f"{street} {house_number}, {postcode} {city}"
    return f"{line}, {COUNTRY_NAMES[country]}" if country in COUNTRY_NAMES else line
