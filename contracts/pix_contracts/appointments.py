"""Events of an order's appointment: the shoot's date, time window and assigned photographer.

Notify mails the client (with a calendar entry) and the photographer; media learns which
photographer may upload into the order's gallery. `sequence` grows with every change, so
calendars replace the entry they hold (the iCalendar SEQUENCE) and consumers can ignore an
older state arriving late.
"""

from __future__ import annotations

import datetime
import uuid
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from pix_contracts.envelope import Event
from pix_contracts.events import Locale


class Appointment(BaseModel):
    model_config = ConfigDict(frozen=True)

    date: datetime.date = Field(description="The shoot's day in Europe/Berlin")
    starts_at: datetime.time = Field(description="Start of the time window, Europe/Berlin")
    ends_at: datetime.time = Field(description="End of the time window, Europe/Berlin")
    photographer_id: uuid.UUID = Field(description="The user (role photographer) who shoots")
    photographer_email: EmailStr | None = None
    photographer_name: str | None = None


class _AppointmentEvent(Event):
    key_field: ClassVar[str] = "order_id"

    order_id: uuid.UUID
    org_id: uuid.UUID
    gallery_id: uuid.UUID
    reference: str
    appointment: Appointment
    sequence: int = Field(ge=0, description="0 when scheduled, +1 with every change")
    contact_name: str
    # None once the client erased their account: the photographer still shoots, nobody is mailed.
    contact_email: EmailStr | None
    locale: Locale = "de"
    property_address: str
    access_notes: str = ""


class AppointmentScheduled(_AppointmentEvent):
    topic: ClassVar[str] = "orders.appointment.scheduled.v1"


class AppointmentChanged(_AppointmentEvent):
    """Rescheduled or given to another photographer (`previous` is what it was)."""

    topic: ClassVar[str] = "orders.appointment.changed.v1"

    previous: Appointment


class AppointmentCancelled(_AppointmentEvent):
    """`appointment` is the one that no longer takes place."""

    topic: ClassVar[str] = "orders.appointment.cancelled.v1"


APPOINTMENT_EVENTS: tuple[type[Event], ...] = (
    AppointmentScheduled,
    AppointmentChanged,
    AppointmentCancelled,
)
