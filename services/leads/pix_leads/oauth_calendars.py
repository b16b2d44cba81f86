"""The agent's Google or Outlook calendar, reached through the mailbox's OAuth grant (no second
OAuth client): the Google Calendar API v3 on the primary calendar, or Microsoft Graph's
/me/events and /me/calendar/getSchedule. Both stand behind `calendars.ViewingCalendar` beside
the CalDAV one.

The lead's invitation is our own iTIP mail, so the providers must not send theirs: Google is
told `sendUpdates=none`; Graph has no such switch and mails every attendee of an event it
creates, so there the lead is named in the event's text instead of being an attendee.

Failures become the calendar errors the viewing code already acts on: a refused or missing
grant (and a 401/403, e.g. a grant from before the calendar scopes) is `CalendarRefused`,
anything else `CalendarError` (the job tries again).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from pix_leads.calendars import CalendarError, CalendarRefused, Period
from pix_leads.itip import ViewingEntry
from pix_leads.mailbox_providers import MailboxRefused

# A named property that carries the viewing's UID on the Graph event (PS_PUBLIC_STRINGS).
GRAPH_UID_PROPERTY = "String {00020329-0000-0000-C000-000000000046} Name pixViewingUid"
RESPONSE = {
    "invited": "needsAction",
    "accepted": "accepted",
    "declined": "declined",
    "tentative": "tentative",
}


class ProviderCall(Protocol):
    """The mailbox's authorised call (AgentMailboxes.calendar_call) for one user."""

    async def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response: ...


async def _called(call: ProviderCall, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        response = await call(method, path, **kwargs)
    except MailboxRefused as exc:
        raise CalendarRefused(f"the mailbox's grant was refused ({exc.reason})") from None
    except httpx.HTTPError as exc:
        raise CalendarError(f"the calendar did not answer ({exc.__class__.__name__})") from None
    if response.status_code in (401, 403):
        raise CalendarRefused("the mailbox's grant does not cover the calendar")
    return response


def _ok(response: httpx.Response) -> httpx.Response:
    if response.is_error:
        raise CalendarError(f"the calendar answered {response.status_code}")
    return response


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    # Graph gives UTC wall time without an offset (we ask for UTC).
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def google_event_id(uid: str) -> str:
    """Google's event ids are base32hex (a-v, 0-9); a hex digest of the UID is one."""
    return hashlib.sha256(uid.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class GoogleCalendar:
    call: ProviderCall

    def _event(self, entry: ViewingEntry, state: str) -> dict[str, Any]:
        event: dict[str, Any] = {
            "summary": entry.summary,
            "location": entry.location,
            "description": entry.description,
            "start": {"dateTime": _utc(entry.starts_at), "timeZone": "UTC"},
            "end": {"dateTime": _utc(entry.ends_at), "timeZone": "UTC"},
            "transparency": "transparent" if state == "declined" else "opaque",
            "extendedProperties": {"private": {"pixViewingUid": entry.uid}},
        }
        if entry.attendee != entry.organizer:
            attendee = {
                "email": entry.attendee,
                "responseStatus": RESPONSE.get(state, "needsAction"),
            }
            if entry.attendee_name:
                attendee["displayName"] = entry.attendee_name
            event["attendees"] = [attendee]
        return event

    async def write(self, entry: ViewingEntry, state: str) -> None:
        event_id = google_event_id(entry.uid)
        body = self._event(entry, state)
        quiet = {"sendUpdates": "none"}
        path = f"/calendars/primary/events/{event_id}"
        patched = await _called(self.call, "PATCH", path, params=quiet, json=body)
        if patched.status_code not in (404, 410):
            _ok(patched)
            return
        created = await _called(
            self.call,
            "POST",
            "/calendars/primary/events",
            params=quiet,
            json={"id": event_id, **body},
        )
        _ok(created)

    async def remove(self, uid: str) -> bool:
        path = f"/calendars/primary/events/{google_event_id(uid)}"
        answer = await _called(self.call, "DELETE", path, params={"sendUpdates": "none"})
        if answer.status_code in (404, 410):
            return False
        _ok(answer)
        return True

    async def busy(self, start: datetime, end: datetime) -> list[Period]:
        query = {
            "timeMin": start.astimezone(UTC).isoformat(),
            "timeMax": end.astimezone(UTC).isoformat(),
            "timeZone": "UTC",
            "items": [{"id": "primary"}],
        }
        body = _ok(await _called(self.call, "POST", "/freeBusy", json=query)).json()
        primary = body.get("calendars", {}).get("primary", {})
        if primary.get("errors"):
            raise CalendarError("the calendar's free/busy could not be read")
        return [(_parse(b["start"]), _parse(b["end"])) for b in primary.get("busy", [])]


@dataclass(frozen=True)
class GraphCalendar:
    call: ProviderCall
    address: str

    async def _find(self, uid: str) -> str | None:
        safe = uid.replace("'", "''")
        query = {
            "$filter": (
                f"singleValueExtendedProperties/Any(ep: ep/id eq '{GRAPH_UID_PROPERTY}'"
                f" and ep/value eq '{safe}')"
            ),
            "$select": "id",
        }
        body = _ok(await _called(self.call, "GET", "/me/events", params=query)).json()
        found = body.get("value", [])
        return str(found[0]["id"]) if found else None

    async def write(self, entry: ViewingEntry, state: str) -> None:
        event: dict[str, Any] = {
            "subject": entry.summary,
            "body": {"contentType": "text", "content": entry.description},
            "start": {"dateTime": _utc(entry.starts_at), "timeZone": "UTC"},
            "end": {"dateTime": _utc(entry.ends_at), "timeZone": "UTC"},
            "location": {"displayName": entry.location},
            "showAs": "free" if state == "declined" else "busy",
        }
        event_id = await self._find(entry.uid)
        if event_id is not None:
            _ok(await _called(self.call, "PATCH", f"/me/events/{event_id}", json=event))
            return
        event["singleValueExtendedProperties"] = [{"id": GRAPH_UID_PROPERTY, "value": entry.uid}]
        _ok(await _called(self.call, "POST", "/me/events", json=event))

    async def remove(self, uid: str) -> bool:
        event_id = await self._find(uid)
        if event_id is None:
            return False
        answer = await _called(self.call, "DELETE", f"/me/events/{event_id}")
        if answer.status_code == 404:
            return False
        _ok(answer)
        return True

    async def busy(self, start: datetime, end: datetime) -> list[Period]:
        query = {
            "schedules": [self.address],
            "startTime": {"dateTime": _utc(start), "timeZone": "UTC"},
            "endTime": {"dateTime": _utc(end), "timeZone": "UTC"},
            "availabilityViewInterval": 15,
        }
        answer = await _called(
            self.call,
            "POST",
            "/me/calendar/getSchedule",
            json=query,
            headers={"Prefer": 'outlook.timezone="UTC"'},
        )
        periods: list[Period] = []
        for schedule in _ok(answer).json().get("value", []):
            if schedule.get("error"):
                raise CalendarError("the calendar's schedule could not be read")
            for item in schedule.get("scheduleItems", []):
                if item.get("status") == "free":
                    continue
                periods.append((_parse(item["start"]["dateTime"]), _parse(item["end"]["dateTime"])))
        return periods


class UserCall(Protocol):
    """AgentMailboxes.calendar_call: an authorised calendar call on a user's mailbox grant."""

    async def __call__(
        self, user_id: uuid.UUID, method: str, path: str, **kwargs: Any
    ) -> httpx.Response: ...
