"""A viewing as iCalendar (RFC 5545) and iTIP (RFC 5546): the invitation the lead's mail client
adds to their calendar (METHOD:REQUEST, moved with a higher SEQUENCE, METHOD:CANCEL), the copy
in the agent's own calendar, and the lead's answer (METHOD:REPLY) read back.

The ORGANIZER is the lead's own reply address (`<slug>+<token>@…`): a calendar client sends its
REPLY there, so the answer arrives through the intake like any reply and finds its lead. Times
are written in UTC (every calendar converts them; no VTIMEZONE has to be right about Berlin).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//pix.immo//Viewings//DE"
UID_DOMAIN = "pix.immo"

# The lead's answer as iCalendar says it, and the viewing's state it means.
PARTSTAT_STATE = {"ACCEPTED": "accepted", "DECLINED": "declined", "TENTATIVE": "tentative"}
STATE_PARTSTAT = {v: k for k, v in PARTSTAT_STATE.items()}


def viewing_uid(viewing_id: object) -> str:
    return f"viewing-{viewing_id}@{UID_DOMAIN}"


@dataclass(frozen=True)
class ViewingEntry:
    uid: str
    sequence: int
    starts_at: datetime
    ends_at: datetime
    summary: str
    location: str
    description: str
    organizer: str
    organizer_name: str
    attendee: str
    attendee_name: str
    stamp: datetime


def _event(entry: ViewingEntry, *, cancelled: bool) -> Event:
    event = Event()
    event.add("uid", entry.uid)
    event.add("sequence", entry.sequence)
    event.add("dtstamp", entry.stamp.astimezone(UTC))
    event.add("dtstart", entry.starts_at.astimezone(UTC))
    event.add("dtend", entry.ends_at.astimezone(UTC))
    event.add("summary", entry.summary)
    if entry.location:
        event.add("location", entry.location)
    if entry.description:
        event.add("description", entry.description)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    return event


def _people(event: Event, entry: ViewingEntry, partstat: str, *, client_scheduled: bool) -> None:
    organizer = vCalAddress(f"mailto:{entry.organizer}")
    if entry.organizer_name:
        organizer.params["cn"] = vText(entry.organizer_name)
    guest = vCalAddress(f"mailto:{entry.attendee}")
    if entry.attendee_name:
        guest.params["cn"] = vText(entry.attendee_name)
    guest.params["role"] = vText("REQ-PARTICIPANT")
    guest.params["partstat"] = vText(partstat)
    if client_scheduled:
        # The invitation goes by our mail; a scheduling server (RFC 6638) must not send its own.
        organizer.params["schedule-agent"] = vText("CLIENT")
        guest.params["schedule-agent"] = vText("CLIENT")
    else:
        guest.params["rsvp"] = vText("TRUE")
    event["organizer"] = organizer
    event.add("attendee", guest, encode=False)


def _text(calendar: Calendar) -> str:
    data: bytes = calendar.to_ical()
    return data.decode()


def invitation(entry: ViewingEntry, *, cancelled: bool) -> str:
    """The mail's calendar entry: METHOD REQUEST (new or moved) or CANCEL."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = _event(entry, cancelled=cancelled)
    _people(event, entry, "NEEDS-ACTION", client_scheduled=False)
    calendar.add_component(event)
    return _text(calendar)


def calendar_copy(entry: ViewingEntry, state: str) -> str:
    """The event in the agent's calendar: the lead's answer on the attendee, and a declined
    viewing no longer blocks the time (TRANSP:TRANSPARENT)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    event = _event(entry, cancelled=False)
    if state == "declined":
        event.add("transp", "TRANSPARENT")
    _people(event, entry, STATE_PARTSTAT.get(state, "NEEDS-ACTION"), client_scheduled=True)
    calendar.add_component(event)
    return _text(calendar)


@dataclass(frozen=True)
class Reply:
    """One attendee's answer in a METHOD:REPLY."""

    uid: str
    sequence: int
    partstat: str
    attendee: str
    comment: str


def replies_in(ics: bytes | str) -> list[Reply]:
    """The answers in an iTIP REPLY; nothing for any other method or unreadable text."""
    try:
        calendar = Calendar.from_ical(ics)
    except Exception:
        return []
    if str(calendar.get("METHOD", "")).upper() != "REPLY":
        return []
    found: list[Reply] = []
    for event in calendar.walk("VEVENT"):
        attendees = event.get("ATTENDEE")
        if attendees is None:
            continue
        for attendee in attendees if isinstance(attendees, list) else [attendees]:
            partstat = str(attendee.params.get("PARTSTAT", "")).upper()
            if partstat not in PARTSTAT_STATE:
                continue
            try:
                sequence = int(event.get("SEQUENCE", 0))
            except (TypeError, ValueError):
                sequence = 0
            found.append(
                Reply(
                    uid=str(event.get("UID", "")),
                    sequence=sequence,
                    partstat=partstat,
                    attendee=str(attendee).removeprefix("mailto:").removeprefix("MAILTO:"),
                    comment=str(event.get("COMMENT", ""))[:2000],
                )
            )
    return found
