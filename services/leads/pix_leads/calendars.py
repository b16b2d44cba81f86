"""The agent's CalDAV calendar (iCloud, Nextcloud, mailbox.org, Radicale, ...) through the
`caldav` library: find the calendar behind a URL, write and remove a viewing's event, and read
when the agent is busy.

caldav's client is synchronous (niquests); each call runs in a worker thread so the service's
event loop never waits on a calendar server. Every failure becomes one of three errors the
domain can act on: the server refused the credentials (ask the agent again), the calendar is
missing, or the server could not be reached (try later). Passwords are never logged, and
errors carry no credentials.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from caldav.davclient import DAVClient
from caldav.lib import error as dav_error
from icalendar import Calendar
from pix_runtime.logging import get_logger

from pix_leads.itip import ViewingEntry, calendar_copy

log = get_logger(__name__)


class CalendarError(Exception):
    """A calendar call failed; `code` says how (for the API and the connection's status)."""

    code = "calendar_unreachable"


class CalendarRefused(CalendarError):
    """The server refused the username or password (401/403)."""

    code = "calendar_auth"


class CalendarMissing(CalendarError):
    """No calendar (for events) at that address or for that account."""

    code = "calendar_missing"


class CalendarNotPublic(CalendarError):
    """The address is in a private, loopback or link-local network, or not TLS."""

    code = "internal_address"


async def check_public(url: str) -> None:
    """Refuse a calendar address that would make the service talk into its own network (or
    send the password without TLS): production only takes https to public addresses. A name
    is checked as it resolves now (a later change of its DNS is not caught here)."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise CalendarNotPublic("the calendar address must start with https://")
    host = (parts.hostname or "").strip("[]")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, parts.port or 443, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise CalendarError("the calendar server's name does not resolve") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses or not all(address.is_global for address in addresses):
        raise CalendarNotPublic("the calendar address points into a private or local network")


@dataclass(frozen=True)
class CalendarAccess:
    """Where a calendar is and how to get in (the password opened just for the call)."""

    url: str
    username: str
    password: str = ""
    timeout: float = 20.0

    def __repr__(self) -> str:  # never the password, in any log or traceback
        return f"CalendarAccess(url={self.url!r}, username={self.username!r})"


@dataclass(frozen=True)
class FoundCalendar:
    url: str
    name: str


def _client(access: CalendarAccess) -> Any:
    # caldav's methods are untyped: the client is handled as Any past this point.
    return DAVClient(
        access.url,
        username=access.username,
        password=access.password,
        timeout=max(1, int(access.timeout)),
    )


def _same(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _translated(exc: Exception, url: str) -> CalendarError:
    if isinstance(exc, CalendarError):
        return exc
    if isinstance(exc, dav_error.AuthorizationError):
        return CalendarRefused("the calendar server refused the username or password")
    if isinstance(exc, dav_error.NotFoundError):
        return CalendarMissing(f"no calendar at {url}")
    # Connection refused, TLS, timeouts, a 5xx: the server's fault, worth another try.
    return CalendarError(f"the calendar server did not answer ({exc.__class__.__name__})")


async def _run(access: CalendarAccess, work: Any, *args: Any) -> Any:
    try:
        return await asyncio.to_thread(work, *args)
    except Exception as exc:
        error = _translated(exc, access.url)
        log.warning(
            "calendar.call_failed", url=access.url, code=error.code, kind=type(exc).__name__
        )
        raise error from None


def _discover(access: CalendarAccess) -> FoundCalendar:
    with _client(access) as client:
        principal = client.principal()
        calendars = principal.get_calendars()
        chosen = next((c for c in calendars if _same(str(c.url), access.url)), None)
        if chosen is None:
            # A server or principal URL: its first calendar that holds events.
            for candidate in calendars:
                try:
                    components = candidate.get_supported_components()
                except dav_error.DAVError:
                    components = ["VEVENT"]
                if "VEVENT" in components:
                    chosen = candidate
                    break
        if chosen is None:
            raise CalendarMissing("the account has no calendar for events")
        name = chosen.get_display_name() or str(chosen.url).rstrip("/").rsplit("/", 1)[-1]
        return FoundCalendar(url=str(chosen.url), name=str(name)[:200])


async def discover(access: CalendarAccess) -> FoundCalendar:
    """The calendar `access.url` names (a calendar URL), or the account's first calendar for
    events (a server or principal URL). Signing in proves the password."""
    found: FoundCalendar = await _run(access, _discover, access)
    return found


def _calendar(client: Any, access: CalendarAccess) -> Any:
    return client.calendar(url=access.url)


def _put(access: CalendarAccess, ics: str) -> str:
    with _client(access) as client:
        # SEQUENCE is ours (it rises with every reschedule); caldav must not raise it again.
        saved = _calendar(client, access).add_event(ics, increase_seqno=False)
        return str(saved.url)


async def put_event(access: CalendarAccess, ics: str) -> str:
    """Create or replace the event with the UID inside `ics`; its URL."""
    href: str = await _run(access, _put, access, ics)
    return href


def _remove(access: CalendarAccess, uid: str) -> bool:
    with _client(access) as client:
        try:
            event = _calendar(client, access).get_event_by_uid(uid)
        except dav_error.NotFoundError:
            return False
        event.delete()
        return True


async def remove_event(access: CalendarAccess, uid: str) -> bool:
    """Delete the event with this UID; False if it was not there (already removed)."""
    removed: bool = await _run(access, _remove, access, uid)
    return removed


def _read(access: CalendarAccess, uid: str) -> str | None:
    with _client(access) as client:
        try:
            return str(_calendar(client, access).get_event_by_uid(uid).data)
        except dav_error.NotFoundError:
            return None


async def read_event(access: CalendarAccess, uid: str) -> str | None:
    """The event's iCalendar text as the server keeps it, or None."""
    text: str | None = await _run(access, _read, access, uid)
    return text


Period = tuple[datetime, datetime]


def _as_utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return None


def _busy_from_freebusy(text: str) -> list[Period]:
    periods: list[Period] = []
    for component in Calendar.from_ical(text).walk("VFREEBUSY"):
        values = component.get("FREEBUSY") or []
        for prop in values if isinstance(values, list) else [values]:
            kind = str(prop.params.get("FBTYPE", "BUSY")).upper()
            if kind == "FREE":
                continue
            for period in prop.dt if isinstance(prop.dt, list) else [prop.dt]:
                start, end_or_length = period
                begin = _as_utc(start)
                if begin is None:
                    continue
                finish = (
                    begin + end_or_length
                    if isinstance(end_or_length, timedelta)
                    else _as_utc(end_or_length)
                )
                if finish is not None:
                    periods.append((begin, finish))
    return periods


def _busy_from_events(calendar: Any, start: datetime, end: datetime) -> list[Period]:
    periods: list[Period] = []
    for found in calendar.search(start=start, end=end, event=True, expand=True):
        for event in found.icalendar_instance.walk("VEVENT"):
            if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
                continue
            if str(event.get("STATUS", "")).upper() == "CANCELLED":
                continue
            begin = _as_utc(event.decoded("DTSTART", None))
            finish = _as_utc(event.decoded("DTEND", None)) if "DTEND" in event else None
            if begin is None:
                continue  # a whole-day note blocks no viewing slot
            if finish is None:
                duration = event.decoded("DURATION", None)
                finish = begin + duration if isinstance(duration, timedelta) else begin
            periods.append((begin, finish))
    return periods


def _busy(access: CalendarAccess, start: datetime, end: datetime) -> list[Period]:
    with _client(access) as client:
        calendar = _calendar(client, access)
        try:
            answer = calendar.freebusy_request(start, end)
            return _busy_from_freebusy(str(answer.data))
        except dav_error.AuthorizationError:
            raise
        except dav_error.DAVError:
            # Not every server answers the free-busy REPORT (RFC 4791 §7.10): read the events.
            return _busy_from_events(calendar, start, end)


async def busy_periods(access: CalendarAccess, start: datetime, end: datetime) -> list[Period]:
    """When the calendar is busy between start and end (UTC): the CalDAV free-busy REPORT,
    or the events in the range where the server does not answer it. Transparent and cancelled
    events do not count."""
    periods: list[Period] = await _run(access, _busy, access, start, end)
    return periods


class ViewingCalendar(Protocol):
    """What the viewing code needs of an agent's calendar, whichever it is: write a viewing's
    event (created or replaced by its UID), remove it, and when the agent is busy."""

    async def write(self, entry: ViewingEntry, state: str) -> None: ...

    async def remove(self, uid: str) -> bool: ...

    async def busy(self, start: datetime, end: datetime) -> list[Period]: ...


@dataclass(frozen=True)
class CalDavCalendar:
    access: CalendarAccess

    async def write(self, entry: ViewingEntry, state: str) -> None:
        await put_event(self.access, calendar_copy(entry, state))

    async def remove(self, uid: str) -> bool:
        return await remove_event(self.access, uid)

    async def busy(self, start: datetime, end: datetime) -> list[Period]:
        return await busy_periods(self.access, start, end)
