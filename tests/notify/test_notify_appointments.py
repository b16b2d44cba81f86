"""An order's appointment by mail: the client's mail carries a calendar entry that a standard
parser (icalendar) reads, with one UID per order and a rising SEQUENCE; the photographer hears
about the shoot. Through the real Mailgun client against the local fake of its API."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import icalendar
from pix_contracts.appointments import (
    Appointment,
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentScheduled,
)
from pix_notify.providers import Attachment, Mail, build_message
from test_notify_mailgun import FakeMailgun, Notify, address, mailgun, notify

__all__ = ["mailgun", "notify"]  # the fixtures, used by name

SHOOT_DAY = date(2027, 1, 15)  # winter: Berlin is UTC+1
SUMMER_DAY = date(2027, 7, 15)  # summer: UTC+2


def appointment(day: date, photographer: str, start: int = 9) -> Appointment:
    return Appointment(
        date=day,
        starts_at=time(start, 0),
        ends_at=time(start + 2, 0),
        photographer_id=uuid.uuid5(uuid.NAMESPACE_DNS, photographer),
        photographer_email=photographer,
        photographer_name="Paula Foto",
    )


def fields(order_id: uuid.UUID, client: str, when: Appointment, sequence: int) -> dict[str, object]:
    return {
        "order_id": order_id,
        "org_id": uuid.uuid4(),
        "gallery_id": uuid.uuid4(),
        "reference": "PIX-001234",
        "appointment": when,
        "sequence": sequence,
        "contact_name": "Erika Muster",
        "contact_email": client,
        "locale": "de",
        "property_address": "Lindenallee 5a, 10115 Berlin",
        "access_notes": "Schlüssel beim Hausmeister",
    }


def calendar_of(fake: FakeMailgun, to: str, index: int) -> icalendar.Calendar:
    sent = fake.to(to)[index]["fields"]
    assert "attachment" in sent, sent.keys()
    return icalendar.Calendar.from_ical(sent["attachment"])


def only_event(calendar: icalendar.Calendar) -> icalendar.Event:
    [event] = calendar.walk("VEVENT")
    return event


async def publish(notify: Notify, event: object) -> None:
    await notify.broker.publish(event.model_dump_json().encode(), type(event).topic)  # type: ignore[attr-defined]
    await notify.runtime.jobs.run_due()


async def test_scheduled_moved_and_cancelled_shoot_reaches_the_clients_calendar(
    notify: Notify,
) -> None:
    client, shooter, second = address(), address(), address()
    order_id = uuid.uuid4()
    first = appointment(SHOOT_DAY, shooter)
    scheduled = AppointmentScheduled.model_validate(fields(order_id, client, first, 0))
    # A redelivered event mails once.
    await publish(notify, scheduled)
    await publish(notify, scheduled)
    assert len(notify.fake.to(client)) == 1
    request = calendar_of(notify.fake, client, 0)
    assert request["METHOD"] == "REQUEST"
    entry = only_event(request)
    uid = str(entry["UID"])
    assert uid == f"order-{order_id}@pix.immo"
    assert int(entry["SEQUENCE"]) == 0
    # 09:00-11:00 in Berlin in January is 08:00-10:00 UTC.
    assert entry.decoded("DTSTART") == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    assert entry.decoded("DTEND") == datetime(2027, 1, 15, 10, 0, tzinfo=UTC)
    assert str(entry["LOCATION"]) == "Lindenallee 5a, 10115 Berlin"
    assert str(entry["ATTENDEE"]) == f"mailto:{client}"
    subject = notify.fake.to(client)[0]["fields"]["subject"]
    assert subject == "Ihr Fototermin für PIX-001234: 15.01.2027, 09:00–11:00"
    [shoot] = notify.fake.to(shooter)
    assert "Schlüssel beim Hausmeister" in shoot["fields"]["text"]
    assert "Lindenallee 5a" in shoot["fields"]["text"]
    assert "attachment" not in shoot["fields"]

    # Moved into summer and given to another photographer: the same UID, a higher SEQUENCE.
    moved = appointment(SUMMER_DAY, second, start=14)
    changed = AppointmentChanged.model_validate(
        {**fields(order_id, client, moved, 1), "previous": first}
    )
    await publish(notify, changed)
    update = only_event(calendar_of(notify.fake, client, 1))
    assert str(update["UID"]) == uid
    assert int(update["SEQUENCE"]) == 1
    assert update.decoded("DTSTART") == datetime(2027, 7, 15, 12, 0, tzinfo=UTC)
    assert len(notify.fake.to(second)) == 1
    # The first photographer is told the shoot is no longer theirs.
    assert "entfällt" in notify.fake.to(shooter)[1]["fields"]["subject"]

    cancelled = AppointmentCancelled.model_validate(fields(order_id, client, moved, 2))
    await publish(notify, cancelled)
    cancel = calendar_of(notify.fake, client, 2)
    assert cancel["METHOD"] == "CANCEL"
    gone = only_event(cancel)
    assert str(gone["UID"]) == uid
    assert int(gone["SEQUENCE"]) == 2
    assert str(gone["STATUS"]) == "CANCELLED"


def test_an_attachment_is_a_mime_part_with_its_calendar_method() -> None:
    entry = Attachment(
        "termin.ics",
        "text/calendar; method=REQUEST; charset=UTF-8",
        "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
    )
    mail = Mail("a@example.de", "Termin", "Hallo", "<p>Hallo</p>", attachments=(entry,))
    raw = bytes(build_message(mail, sender="noreply@pix.immo", idempotency_key="k"))
    parsed = message_from_bytes(raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    [part] = list(parsed.iter_attachments())
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == "REQUEST"
    assert part.get_filename() == "termin.ics"
    assert part.get_content().startswith("BEGIN:VCALENDAR")
