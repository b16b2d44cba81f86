"""The orders service's answers as the gateway reads them.

Generated from the service's OpenAPI by `make clients` (pix_stack.clients): do not edit.
"""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    # Fields a newer service adds are ignored until the next `make clients`.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, protected_namespaces=())


class AddressView(_Model):
    street: str
    house_number: str
    postcode: str
    city: str
    country: str


class Appointment(_Model):
    date: dt.date
    starts_at: str
    ends_at: str
    photographer_id: str
    photographer_email: str | None = None
    photographer_name: str | None = None


class AppointmentRequest(_Model):
    date: dt.date
    starts_at: str
    ends_at: str
    photographer_id: str
    photographer_email: str | None = None
    photographer_name: str | None = None


class AppointmentView(_Model):
    order_id: str
    appointment: Appointment
    sequence: int
    cancelled: bool
    map_url: str


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


class HistoryEntry(_Model):
    from_status: str | None
    to_status: str
    by: str
    by_name: str | None
    at: dt.datetime
    note: str | None


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


class Note(_Model):
    text: str
    by: str
    by_name: str | None
    at: dt.datetime


class NoteRequest(_Model):
    text: str


class OperationsLine(_Model):
    key: str
    value: float | None = None
    detail: str | None = None
    at: dt.datetime | None = None


class OrderLine(_Model):
    key: str
    price_cents: int


class SlotView(_Model):
    date: dt.date
    window: str


class OrderDetailView(_Model):
    id: str
    reference: str
    gallery_id: str
    org_id: str
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
    marketing: str | None
    living_area_m2: float | None
    rooms: float | None
    services: list[OrderLine]
    total_cents: int
    currency: str
    preferred_slots: list[SlotView]
    access_notes: str
    locale: str
    created_at: dt.datetime
    updated_at: dt.datetime
    history: list[HistoryEntry]
    allowed_transitions: list[str]
    internal_notes: list[Note] | None = None


class SlotRequest(_Model):
    date: str | None = None
    window: str | None = None


class OrderRequest(_Model):
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    street: str | None = None
    house_number: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = None
    property_type: str | None = None
    marketing: str | None = None
    living_area_m2: float | str | None = None
    rooms: float | str | None = None
    services: list[str] = Field(default_factory=lambda: [])
    preferred_slots: list[SlotRequest] = Field(default_factory=lambda: [])
    access_notes: str | None = None
    locale: str | None = None


class OrderView(_Model):
    id: str
    reference: str
    gallery_id: str
    org_id: str
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
    marketing: str | None
    living_area_m2: float | None
    rooms: float | None
    services: list[OrderLine]
    total_cents: int
    currency: str
    preferred_slots: list[SlotView]
    access_notes: str
    locale: str
    created_at: dt.datetime
    updated_at: dt.datetime


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


class PriceView(_Model):
    key: str
    label_de: str
    label_en: str
    price_cents: int


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


class ShootView(_Model):
    order_id: str
    gallery_id: str
    reference: str
    status: str
    property_address: str
    access_notes: str
    contact_name: str
    contact_email: str
    contact_phone: str | None
    appointment: Appointment
    map_url: str


class StatusRequest(_Model):
    status: Literal["received", "confirmed", "scheduled", "shot", "delivered", "cancelled"]
    note: str | None = None


class SuggestionView(_Model):
    place_id: str
    text: str


class WeekDeliveryTime(_Model):
    week: str
    orders: int
    median_hours: float
    p90_hours: float


class WeekOrders(_Model):
    week: str
    status: str
    service: str
    orders: int
