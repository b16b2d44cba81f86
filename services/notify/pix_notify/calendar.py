"""The shoot's appointment as an iCalendar entry (RFC 5545 / iTIP RFC 5546) for mail clients.

One UID per order, so every later mail (moved, given to another photographer, cancelled)
updates the entry the client's calendar already holds; SEQUENCE is the order's appointment
sequence, which only grows. Times are written in UTC: every calendar converts them, and no
VTIMEZONE has to be right about Berlin's rules.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText
from pix_contracts.appointments import Appointment

BERLIN = ZoneInfo("Europe/Berlin")
PRODID = "-//pix.immo//Appointments//DE"
UID_DOMAIN = "pix.immo"


def appointment_uid(order_id: object) -> str:
    return f"order-{order_id}@{UID_DOMAIN}"


def appointment_ics(
    *,
    order_id: object,
    reference: str,
    appointment: Appointment,
    sequence: int,
    summary: str,
    location: str,
    description: str,
    organizer: str,
    attendee: str,
    cancelled: bool,
    stamp: datetime,
) -> str:
    """The calendar text: METHOD REQUEST for a new or moved appointment, CANCEL for one that
    no longer takes place."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", appointment_uid(order_id))
    event.add("sequence", sequence)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", _utc(appointment, appointment.starts_at))
    event.add("dtend", _utc(appointment, appointment.ends_at))
    event.add("summary", summary)
    event.add("location", location)
    event.add("description", description)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event["organizer"] = vCalAddress(f"mailto:{organizer}")
    guest = vCalAddress(f"mailto:{attendee}")
    guest.params["role"] = vText("REQ-PARTICIPANT")
    event.add("attendee", guest, encode=False)
    event.add("x-pix-reference", reference)
    calendar.add_component(event)
    text: bytes = calendar.to_ical()
    return text.decode()


def _utc(appointment: Appointment, at: time) -> datetime:
    local = datetime.combine(appointment.date, at, tzinfo=BERLIN)
    return local.astimezone(UTC)
