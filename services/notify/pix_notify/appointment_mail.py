"""An order's appointment by mail: the client gets it as a calendar entry (.ics) that their
calendar adds, moves or removes; the photographer gets the shoot with address and notes.

Keys are the event id and the recipient's part, so a redelivered event never mails twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from email.utils import parseaddr
from typing import Literal

from pix_contracts.appointments import (
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentScheduled,
)
from pix_runtime.logging import get_logger

from pix_notify.calendar import appointment_ics
from pix_notify.i18n import gettext
from pix_notify.providers import Attachment, Mail

log = get_logger(__name__)

AppointmentEvent = AppointmentScheduled | AppointmentChanged | AppointmentCancelled
Render = Callable[..., Mail]
Deliver = Callable[[str, str, Mail, str, uuid.UUID | None], Awaitable[None]]
Change = Literal["scheduled", "changed", "cancelled"]


def change_of(event: AppointmentEvent) -> Change:
    if isinstance(event, AppointmentCancelled):
        return "cancelled"
    return "changed" if isinstance(event, AppointmentChanged) else "scheduled"


class AppointmentMailer:
    def __init__(self, render: Render, deliver: Deliver, *, sender: str) -> None:
        self._render = render
        self._deliver = deliver
        # The calendar entry's ORGANIZER: the platform's own address.
        self._organizer = parseaddr(sender)[1] or "noreply@pix.immo"

    async def appointment(self, event: AppointmentEvent) -> None:
        change = change_of(event)
        a = event.appointment
        client_address = str(event.contact_email) if event.contact_email else None
        window = f"{a.starts_at:%H:%M}–{a.ends_at:%H:%M}"
        day = a.date.strftime("%d.%m.%Y") if event.locale == "de" else a.date.isoformat()
        values = {
            "reference": event.reference,
            "address": event.property_address,
            "day": day,
            "window": window,
            "change": change,
        }
        summary = gettext(event.locale, "appointment.summary", reference=event.reference)
        ics = appointment_ics(
            order_id=event.order_id,
            reference=event.reference,
            appointment=a,
            sequence=event.sequence,
            summary=summary,
            location=event.property_address,
            description=summary,
            organizer=self._organizer,
            attendee=client_address or self._organizer,
            cancelled=change == "cancelled",
            stamp=event.occurred_at,
        )
        method = "CANCEL" if change == "cancelled" else "REQUEST"
        entry = Attachment(
            filename="termin.ics" if event.locale == "de" else "appointment.ics",
            content_type=f"text/calendar; method={method}; charset=UTF-8",
            content=ics,
        )
        if client_address:
            client = self._render(
                "appointment",
                event.locale,
                client_address,
                name=event.contact_name,
                **values,
            )
            client = replace(
                client,
                subject=gettext(event.locale, f"subject.appointment.{change}", **values),
                attachments=(entry,),
            )
            await self._deliver(
                f"{event.event_id}:appointment", "appointment", client, event.locale, event.org_id
            )
        if a.photographer_email:
            shoot = self._render(
                "appointment_photographer",
                "de",
                str(a.photographer_email),
                name=a.photographer_name or "",
                notes=event.access_notes,
                contact=event.contact_name,
                **values,
            )
            shoot = replace(
                shoot, subject=gettext("de", f"subject.appointment_photographer.{change}", **values)
            )
            await self._deliver(
                f"{event.event_id}:appointment_photographer",
                "appointment_photographer",
                shoot,
                "de",
                event.org_id,
            )
        # A photographer taken off the shoot hears that it is no longer theirs.
        if isinstance(event, AppointmentChanged) and (
            event.previous.photographer_email
            and event.previous.photographer_id != a.photographer_id
        ):
            gone = self._render(
                "appointment_photographer",
                "de",
                str(event.previous.photographer_email),
                name=event.previous.photographer_name or "",
                notes="",
                contact=event.contact_name,
                **{**values, "change": "cancelled"},
            )
            gone = replace(
                gone,
                subject=gettext("de", "subject.appointment_photographer.cancelled", **values),
            )
            await self._deliver(
                f"{event.event_id}:appointment_photographer_previous",
                "appointment_photographer",
                gone,
                "de",
                event.org_id,
            )
        log.info("mail.appointment", reference=event.reference, change=change)
