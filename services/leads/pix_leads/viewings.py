"""Viewings: an agent books one from a lead (or the lead picks a free slot on a public page);
it is stored here, written to the agent's calendar (CalDAV, or without one the Google or Outlook
calendar of the agent's mailbox grant), sent to the lead as an invitation
(.ics, METHOD:REQUEST; moved: SEQUENCE+1; cancelled: METHOD:CANCEL), and the lead's accept or
decline (an iTIP REPLY to the lead's reply address) comes back through the intake.

A booking is one transaction with its timeline entry, the lead's move to BOOKED, the mail
request to notify (outbox) and the calendar job; the calendar server is only talked to by that
job (after the commit) and, for free slots, before a transaction starts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
from pix_contracts import LeadMessageRequested
from pix_runtime.clock import Clock
from pix_runtime.errors import Conflict, Invalid, NotFound, Unavailable
from pix_runtime.identity import Identity
from pix_runtime.jobs import JobContext, PermanentJobError, enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.sealing import SecretBox, seal
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from sqlalchemy import RowMapping, and_, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_leads import calendars as dav
from pix_leads import models as m
from pix_leads.itip import (
    PARTSTAT_STATE,
    ViewingEntry,
    invitation,
    replies_in,
    viewing_uid,
)
from pix_leads.mail import ReadMail
from pix_leads.messages import message_event_id
from pix_leads.oauth_calendars import GoogleCalendar, GraphCalendar, UserCall
from pix_leads.organisation import OrgSettings, greeting
from pix_leads.service import LeadBook
from pix_leads.tenancy import lead_scope, org_scope
from pix_leads.viewing_models import calendars, viewings

log = get_logger(__name__)
# The forms name a field `date`; the type is taken under another name.
Day = date
BERLIN = ZoneInfo("Europe/Berlin")
# The job that brings a viewing's current state into the agent's calendar.
VIEWING_CALENDAR = "leads.viewing-calendar"
# The periodic job that takes an erased lead's viewings out of the calendars.
VIEWING_ORPHANS = "leads.viewing-orphans"
# Calendar rows that stand for a mailbox grant's calendar (their kind is the mailbox's provider).
OAUTH_KINDS = ("gmail", "outlook")
# Built once, run with parameters: every acknowledgement asks for the organisation's calendar.
USER_CALENDAR = select(calendars).where(
    calendars.c.org_id == bindparam("org_id"), calendars.c.user_id == bindparam("user_id")
)
FIRST_CALENDAR = (
    select(calendars)
    .where(calendars.c.org_id == bindparam("org_id"))
    .order_by(calendars.c.created_at)
    .limit(1)
)
_live_mailboxes = select(m.agent_mailboxes).where(
    m.agent_mailboxes.c.org_id == bindparam("org_id"),
    m.agent_mailboxes.c.provider.in_(OAUTH_KINDS),
    m.agent_mailboxes.c.status == "live",
)
USER_LIVE_MAILBOX = (
    _live_mailboxes.where(m.agent_mailboxes.c.user_id == bindparam("user_id"))
    .order_by(m.agent_mailboxes.c.created_at)
    .limit(1)
)
FIRST_LIVE_MAILBOX = _live_mailboxes.order_by(m.agent_mailboxes.c.created_at).limit(1)
ACTIVE = ("invited", "planned", "accepted", "tentative")
ViewingState = Literal["invited", "planned", "accepted", "declined", "tentative", "cancelled"]
WEEKDAYS = {
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


class ViewingRef(BaseModel):
    viewing_id: uuid.UUID


# --- what the API takes and gives ----------------------------------------------------------------


class WorkingHours(BaseModel):
    """When the agent offers viewings (Berlin time): ISO weekdays (1 = Monday), the day's
    first and last minute, and the slot length."""

    model_config = ConfigDict(extra="forbid")

    days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5], max_length=7)
    start: time = time(9, 0)
    end: time = time(18, 0)
    slot_minutes: int = Field(default=45, ge=15, le=240)

    @field_validator("days")
    @classmethod
    def _weekdays(cls, days: list[int]) -> list[int]:
        if any(d < 1 or d > 7 for d in days):
            raise ValueError("weekdays are 1 (Monday) to 7 (Sunday)")
        return sorted(set(days))


class CalendarConnect(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=1000, description="CalDAV calendar or server URL")
    username: str = Field(min_length=1, max_length=320)
    password: SecretStr = Field(min_length=1, max_length=1000)
    hours: WorkingHours | None = None


class CalendarView(BaseModel):
    """A connected calendar, without its password."""

    id: uuid.UUID
    kind: str
    server_url: str
    calendar_url: str
    name: str
    username: str
    status: str
    last_error: str | None
    hours: WorkingHours
    connected_at: datetime


class CalendarStatus(BaseModel):
    calendar: CalendarView | None


class ViewingForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: Day
    start: time
    end: time | None = Field(default=None, description="default: start + the slot length")
    place: str | None = Field(default=None, max_length=500, description="default: the listing")


class ViewingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: Day | None = None
    start: time | None = None
    end: time | None = None
    place: str | None = Field(default=None, max_length=500)


class Viewing(BaseModel):
    id: uuid.UUID
    lead_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    day: date = Field(description="Berlin time")
    start: time
    end: time
    place: str
    state: ViewingState
    sequence: int
    booked_via: str
    calendar_state: str
    calendar_error: str | None
    created_at: datetime
    replied_at: datetime | None

    @classmethod
    def from_row(cls, row: RowMapping) -> Viewing:
        start = row["starts_at"].astimezone(BERLIN)
        end = row["ends_at"].astimezone(BERLIN)
        return cls(
            id=row["id"],
            lead_id=row["lead_id"],
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            day=start.date(),
            start=start.time().replace(tzinfo=None),
            end=end.time().replace(tzinfo=None),
            place=row["place"],
            state=row["state"],
            sequence=row["sequence"],
            booked_via=row["booked_via"],
            calendar_state=row["calendar_state"],
            calendar_error=row["calendar_error"],
            created_at=row["created_at"],
            replied_at=row["replied_at"],
        )


class Slot(BaseModel):
    starts_at: datetime
    ends_at: datetime
    day: date = Field(description="Berlin time")
    start: time
    end: time


class PublicViewing(BaseModel):
    """What the lead sees of a booked viewing (no ids of ours)."""

    starts_at: datetime
    ends_at: datetime
    day: date
    start: time
    end: time
    place: str


class PublicOffer(BaseModel):
    locale: Literal["de", "en"]
    sender_name: str
    listing_title: str | None
    place: str
    slots: list[Slot]
    booked: PublicViewing | None
    calendar_unavailable: bool = False


class PublicPick(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: datetime


# --- helpers -------------------------------------------------------------------------------------


def _hours(row: RowMapping) -> WorkingHours:
    return WorkingHours(
        days=list(row["work_days"]),
        start=_time_of(row["day_start_minute"]),
        end=_time_of(row["day_end_minute"]),
        slot_minutes=row["slot_minutes"],
    )


def _time_of(minutes: int) -> time:
    return time(min(minutes // 60, 23), minutes % 60)


def _minutes(at: time) -> int:
    return at.hour * 60 + at.minute


def _view(row: RowMapping) -> CalendarView:
    return CalendarView(
        id=row["id"],
        kind=row["kind"],
        server_url=row["server_url"],
        calendar_url=row["calendar_url"],
        name=row["calendar_name"],
        username=row["username"],
        status=row["status"],
        last_error=row["last_error"],
        hours=_hours(row),
        connected_at=row["created_at"],
    )


def _public(row: RowMapping) -> PublicViewing:
    v = Viewing.from_row(row)
    return PublicViewing(
        starts_at=v.starts_at, ends_at=v.ends_at, day=v.day, start=v.start, end=v.end, place=v.place
    )


def _overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _when(locale: str, starts_at: datetime, ends_at: datetime) -> str:
    start, end = starts_at.astimezone(BERLIN), ends_at.astimezone(BERLIN)
    en = locale == "en"
    day = WEEKDAYS["en" if en else "de"][start.weekday()]
    if en:
        return f"{day}, {start:%d %B %Y}, {start:%H:%M}–{end:%H:%M} (Berlin time)"
    return f"{day}, {start:%d.%m.%Y}, {start:%H:%M}–{end:%H:%M} Uhr"


Change = Literal["booked", "moved", "cancelled"]

_SUBJECTS = {
    ("booked", "de"): "Einladung zur Besichtigung: {title}",
    ("booked", "en"): "Invitation to a viewing: {title}",
    ("moved", "de"): "Neuer Termin für die Besichtigung: {title}",
    ("moved", "en"): "New time for your viewing: {title}",
    ("cancelled", "de"): "Besichtigung abgesagt: {title}",
    ("cancelled", "en"): "Viewing cancelled: {title}",
}
_BODIES = {
    ("booked", "de"): "{greeting}\n\ngern zeigen wir Ihnen „{title}“:\n\n{when}\n{place}\n\n"
    "Die Einladung für Ihren Kalender ist angehängt; bitte sagen Sie dort zu oder ab, oder "
    "antworten Sie einfach auf diese E-Mail.\n\nMit freundlichen Grüßen\n{sender}",
    ("booked", "en"): "{greeting}\n\nwe would be glad to show you “{title}”:\n\n{when}\n{place}"
    "\n\nThe invitation for your calendar is attached; please accept or decline it there, or "
    "simply reply to this email.\n\nKind regards\n{sender}",
    ("moved", "de"): "{greeting}\n\ndie Besichtigung von „{title}“ findet zu einem neuen "
    "Termin statt:\n\n{when}\n{place}\n\nDie geänderte Einladung ist angehängt.\n\n"
    "Mit freundlichen Grüßen\n{sender}",
    ("moved", "en"): "{greeting}\n\nthe viewing of “{title}” has a new time:\n\n{when}\n{place}"
    "\n\nThe updated invitation is attached.\n\nKind regards\n{sender}",
    ("cancelled", "de"): "{greeting}\n\nleider müssen wir die Besichtigung von „{title}“ am "
    "{when} absagen. Wir melden uns mit einem neuen Vorschlag.\n\nMit freundlichen Grüßen\n"
    "{sender}",
    ("cancelled", "en"): "{greeting}\n\nunfortunately we have to cancel the viewing of "
    "“{title}” on {when}. We will get back to you with a new suggestion.\n\nKind regards\n"
    "{sender}",
}


class Viewings:
    def __init__(
        self,
        book: LeadBook,
        org: OrgSettings,
        *,
        box: SecretBox,
        mail_key: bytes,
        link_key: bytes,
        clock: Clock,
        public_url: str,
        link_days: int = 14,
        slot_days: int = 14,
        notice_hours: int = 12,
        timeout_seconds: float = 20.0,
        private_calendars: bool = False,
    ) -> None:
        # Development and tests reach calendars on localhost or without TLS (a local Radicale);
        # production only public https addresses.
        self._private_calendars = private_calendars
        # Whether the lead's person objected to contact (pix_leads.subjects): no invitation.
        self.objected: Callable[[AsyncSession, RowMapping], Awaitable[bool]] | None = None
        self._book = book
        self._db = book.db
        self._org = org
        self._box = box
        self._mail_key = mail_key
        self._link_key = link_key
        self._clock = clock
        self._public_url = public_url.rstrip("/")
        self._link_days = link_days
        self._slot_days = slot_days
        self._notice = timedelta(hours=notice_hours)
        self._timeout = timeout_seconds
        # The mailbox's authorised call (AgentMailboxes.calendar_call): a Gmail or Outlook
        # mailbox's grant also carries its calendar.
        self.provider_call: UserCall | None = None

    # --- the agent's calendar -------------------------------------------------------------------

    def _backend(self, row: RowMapping) -> dav.ViewingCalendar:
        """The calendar behind a row: CalDAV, or the Google/Outlook calendar of the agent's
        mailbox grant (kind gmail | outlook)."""
        if row["kind"] in OAUTH_KINDS:
            provider_call = self.provider_call
            user_id = row["user_id"]

            async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
                if provider_call is None:
                    raise dav.CalendarRefused("no mailbox grant can be used here")
                return await provider_call(user_id, method, path, **kwargs)

            if row["kind"] == "gmail":
                return GoogleCalendar(call)
            return GraphCalendar(call, row["username"])
        return dav.CalDavCalendar(self._access(row))

    def _access(self, row: RowMapping) -> dav.CalendarAccess:
        password = self._box.open(
            base64.b64decode(row["sealed_password"]), context=row["id"].bytes
        ).decode()
        return dav.CalendarAccess(
            url=row["calendar_url"],
            username=row["username"],
            password=password,
            timeout=self._timeout,
        )

    async def connect(self, viewer: Identity, form: CalendarConnect) -> CalendarView:
        """Sign in to the calendar (proving the password), then store it sealed."""
        url = form.url.strip()
        if not url.startswith(("https://", "http://")):
            raise Invalid("invalid", "the calendar address starts with https://", "url")
        password = form.password.get_secret_value()
        access = dav.CalendarAccess(
            url=url, username=form.username.strip(), password=password, timeout=self._timeout
        )
        try:
            if not self._private_calendars:
                await dav.check_public(url)
            found = await dav.discover(access)
            if not self._private_calendars:
                await dav.check_public(found.url)  # the server named where its calendar is
        except dav.CalendarNotPublic as exc:
            raise Invalid("internal_address", str(exc), "url") from exc
        except dav.CalendarRefused as exc:
            raise Invalid(
                "calendar_auth",
                "the calendar server refused the username or password",
                "password",
            ) from exc
        except dav.CalendarMissing as exc:
            raise Invalid(
                "calendar_missing", "no calendar for events at this address", "url"
            ) from exc
        except dav.CalendarError as exc:
            raise Invalid(
                "calendar_unreachable", "the calendar server could not be reached", "url"
            ) from exc
        hours = form.hours or WorkingHours()
        if _minutes(hours.end) - _minutes(hours.start) < hours.slot_minutes:
            raise Invalid("invalid", "the working day is shorter than one slot", "hours")
        now = self._clock.now()
        async with self._db.transaction() as session:
            existing = await session.scalar(
                select(calendars.c.id).where(calendars.c.user_id == viewer.user_id)
            )
            calendar_id = existing or uuid.uuid4()
            sealed = base64.b64encode(
                self._box.seal(password.encode(), context=calendar_id.bytes)
            ).decode()
            values: dict[str, Any] = dict(
                org_id=viewer.org_id,
                kind="caldav",
                server_url=url,
                calendar_url=found.url,
                calendar_name=found.name,
                username=access.username,
                sealed_password=sealed,
                agent_email=viewer.email or "",
                agent_name=(viewer.name or "")[:200],
                work_days=hours.days,
                day_start_minute=_minutes(hours.start),
                day_end_minute=_minutes(hours.end),
                slot_minutes=hours.slot_minutes,
                status="live",
                last_error=None,
                updated_at=now,
            )
            if existing is None:
                await session.execute(
                    calendars.insert().values(
                        id=calendar_id, user_id=viewer.user_id, created_at=now, **values
                    )
                )
            else:
                await session.execute(
                    update(calendars).where(calendars.c.id == calendar_id).values(**values)
                )
            row = await self._own_calendar(session, viewer)
        assert row is not None
        log.info("calendar.connected", calendar_id=str(calendar_id), url=found.url)
        return _view(row)

    async def _own_calendar(self, session: AsyncSession, viewer: Identity) -> RowMapping | None:
        found = await session.execute(
            select(calendars).where(
                calendars.c.user_id == viewer.user_id, calendars.c.org_id == viewer.org_id
            )
        )
        return found.mappings().first()

    async def calendar(self, viewer: Identity) -> CalendarStatus:
        """The caller's calendar: CalDAV, else the one of their Gmail or Outlook mailbox."""
        async with self._db.transaction() as session:
            row = await self._own_calendar(session, viewer)
            if row is None:
                row = await self._mailbox_calendar(session, viewer.org_id, viewer.user_id)
        return CalendarStatus(calendar=_view(row) if row is not None else None)

    async def set_hours(self, viewer: Identity, hours: WorkingHours) -> CalendarView:
        if _minutes(hours.end) - _minutes(hours.start) < hours.slot_minutes:
            raise Invalid("invalid", "the working day is shorter than one slot", "end")
        async with self._db.transaction() as session:
            row = await self._own_calendar(session, viewer)
            if row is None:
                raise NotFound("calendar")
            await session.execute(
                update(calendars)
                .where(calendars.c.id == row["id"])
                .values(
                    work_days=hours.days,
                    day_start_minute=_minutes(hours.start),
                    day_end_minute=_minutes(hours.end),
                    slot_minutes=hours.slot_minutes,
                    updated_at=self._clock.now(),
                )
            )
            row = await self._own_calendar(session, viewer)
        assert row is not None
        return _view(row)

    async def disconnect(self, viewer: Identity) -> None:
        """Forget the calendar and its password; viewings stay, without a calendar."""
        async with self._db.transaction() as session:
            await session.execute(
                calendars.delete().where(
                    calendars.c.user_id == viewer.user_id, calendars.c.org_id == viewer.org_id
                )
            )
        log.info("calendar.disconnected", user_id=str(viewer.user_id))

    async def _calendar_for(
        self, session: AsyncSession, lead: RowMapping, booker: uuid.UUID | None
    ) -> RowMapping | None:
        """The calendar a lead's viewing goes into: the booking agent's, else the lead's
        assignee's, else the organisation's first connected one."""
        wanted = [u for u in (booker, lead["assignee_id"]) if u is not None]
        for user_id in wanted:
            found = await session.execute(
                USER_CALENDAR, {"org_id": lead["org_id"], "user_id": user_id}
            )
            row = found.mappings().first()
            if row is not None:
                return row
            row = await self._mailbox_calendar(session, lead["org_id"], user_id)
            if row is not None:
                return row
        found = await session.execute(FIRST_CALENDAR, {"org_id": lead["org_id"]})
        row = found.mappings().first()
        if row is not None:
            return row
        return await self._mailbox_calendar(session, lead["org_id"], None)

    async def _mailbox_calendar(
        self, session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID | None
    ) -> RowMapping | None:
        """Without a CalDAV calendar: the calendar of a connected Gmail or Outlook mailbox
        (the user's, or with None the organisation's first), kept as a calendar row of its
        provider's kind so viewings and working hours hang on it like on CalDAV."""
        if self.provider_call is None:
            return None
        if user_id is None:
            found = await session.execute(FIRST_LIVE_MAILBOX, {"org_id": org_id})
        else:
            found = await session.execute(USER_LIVE_MAILBOX, {"org_id": org_id, "user_id": user_id})
        mailbox = found.mappings().first()
        if mailbox is None:
            return None
        now = self._clock.now()
        google = mailbox["provider"] == "gmail"
        await session.execute(
            pg_insert(calendars)
            .values(
                id=uuid.uuid4(),
                org_id=org_id,
                user_id=mailbox["user_id"],
                kind=mailbox["provider"],
                server_url="https://www.googleapis.com/calendar/v3"
                if google
                else "https://graph.microsoft.com/v1.0",
                calendar_url="primary" if google else "/me/calendar",
                calendar_name="Google Calendar" if google else "Outlook",
                username=mailbox["address"],
                sealed_password="",
                agent_email=mailbox["agent_email"],
                agent_name=mailbox["agent_name"],
                status="live",
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[calendars.c.user_id])
        )
        found = await session.execute(
            select(calendars).where(
                calendars.c.user_id == mailbox["user_id"], calendars.c.org_id == org_id
            )
        )
        return found.mappings().first()

    # --- booking --------------------------------------------------------------------------------

    async def _lead(
        self, session: AsyncSession, lead_id: uuid.UUID, viewer: Identity
    ) -> RowMapping:
        found = await session.execute(
            select(m.leads).where(m.leads.c.id == lead_id, lead_scope(viewer)).with_for_update()
        )
        lead = found.mappings().first()
        if lead is None:
            raise NotFound("lead")
        return lead

    async def _default_place(self, session: AsyncSession, lead: RowMapping) -> str:
        if lead["listing_id"] is None:
            return ""
        found = await session.execute(
            select(m.listings.c.street, m.listings.c.postcode, m.listings.c.city).where(
                m.listings.c.listing_id == lead["listing_id"],
                m.listings.c.org_id == lead["org_id"],
            )
        )
        row = found.first()
        if row is None:
            return ""
        street, postcode, city = row
        town = " ".join(p for p in (postcode, city) if p)
        return ", ".join(p for p in (street, town) if p)[:500]

    def _times(
        self, day: date, start: time, end: time | None, slot: int
    ) -> tuple[datetime, datetime]:
        starts_at = datetime.combine(day, start, tzinfo=BERLIN).astimezone(UTC)
        ends_at = (
            datetime.combine(day, end, tzinfo=BERLIN).astimezone(UTC)
            if end is not None
            else starts_at + timedelta(minutes=slot)
        )
        if ends_at <= starts_at:
            raise Invalid("invalid", "the viewing ends after it starts", "end")
        if ends_at - starts_at > timedelta(hours=8):
            raise Invalid("invalid", "a viewing lasts at most 8 hours", "end")
        if starts_at < self._clock.now():
            raise Invalid("in_past", "the viewing lies in the past", "date")
        return starts_at, ends_at

    async def book(self, lead_id: uuid.UUID, form: ViewingForm, viewer: Identity) -> Viewing:
        async with self._db.transaction() as session:
            lead = await self._lead(session, lead_id, viewer)
            calendar = await self._calendar_for(session, lead, viewer.user_id)
            slot = calendar["slot_minutes"] if calendar is not None else 45
            starts_at, ends_at = self._times(form.date, form.start, form.end, slot)
            place = (form.place or "").strip() or await self._default_place(session, lead)
            row = await self._create(
                session,
                lead,
                calendar,
                starts_at=starts_at,
                ends_at=ends_at,
                place=place,
                via="agent",
                actor=viewer.user_id,
            )
        return Viewing.from_row(row)

    async def _create(
        self,
        session: AsyncSession,
        lead: RowMapping,
        calendar: RowMapping | None,
        *,
        starts_at: datetime,
        ends_at: datetime,
        place: str,
        via: str,
        actor: uuid.UUID | None,
    ) -> RowMapping:
        if lead["status"] == "LOST":
            raise Conflict("lead_lost", "the lead is lost; no viewing can be booked", "status")
        now = self._clock.now()
        viewing_id = uuid.uuid4()
        # Without an address there is nobody to invite (a phone lead): the agent's own note.
        invited = "accepted" if via == "lead" else "invited"
        state = invited if lead["email"] else "planned"
        inserted = await session.execute(
            viewings.insert()
            .values(
                id=viewing_id,
                org_id=lead["org_id"],
                lead_id=lead["id"],
                calendar_id=calendar["id"] if calendar is not None else None,
                booked_by=actor,
                booked_via=via,
                uid=viewing_uid(viewing_id),
                starts_at=starts_at,
                ends_at=ends_at,
                place=place,
                state=state,
                sequence=0,
                calendar_state="pending" if calendar is not None else "none",
                created_at=now,
                updated_at=now,
            )
            .returning(*viewings.c)
        )
        row = inserted.mappings().one()
        await self._book.record(
            session,
            lead,
            "viewing",
            text_=_summary(row),
            data=self._timeline(row, "booked", via=via),
            actor=actor,
        )
        await self._changed(session, lead, row, "booked", actor=actor)
        if lead["status"] != "BOOKED":
            await self._book.set_status(
                session, lead, "BOOKED", reason="viewing booked", actor=actor
            )
        return row

    def _timeline(self, row: RowMapping, action: str, **extra: Any) -> dict[str, Any]:
        return {
            "viewing_id": str(row["id"]),
            "action": action,
            "starts_at": row["starts_at"].isoformat(),
            "ends_at": row["ends_at"].isoformat(),
            "place": row["place"],
            "state": row["state"],
            **extra,
        }

    async def _changed(
        self,
        session: AsyncSession,
        lead: RowMapping,
        row: RowMapping,
        change: Change,
        *,
        actor: uuid.UUID | None,
    ) -> None:
        """After every change: the invitation to the lead and the calendar's copy."""
        objected = self.objected is not None and await self.objected(session, lead)
        if lead["email"] and not objected:
            await self._invite(session, lead, row, change, actor=actor)
        if row["calendar_id"] is not None:
            await self._sync_later(session, row)

    async def _sync_later(self, session: AsyncSession, row: RowMapping) -> None:
        await enqueue_job(
            session,
            m.jobs,
            VIEWING_CALENDAR,
            ViewingRef(viewing_id=row["id"]),
            key=f"{row['id']}:{row['sequence']}:{row['state']}",
        )

    async def _viewing(
        self, session: AsyncSession, viewing_id: uuid.UUID, viewer: Identity
    ) -> tuple[RowMapping, RowMapping]:
        found = await session.execute(
            select(viewings)
            .join(m.leads, m.leads.c.id == viewings.c.lead_id)
            .where(
                viewings.c.id == viewing_id,
                org_scope(viewings.c.org_id, viewer),
                lead_scope(viewer),
            )
            .with_for_update(of=viewings)
        )
        row = found.mappings().first()
        if row is None:
            raise NotFound("viewing")
        lead = await self._lead(session, row["lead_id"], viewer)
        return row, lead

    async def get(self, viewing_id: uuid.UUID, viewer: Identity) -> Viewing:
        async with self._db.transaction() as session:
            row, _ = await self._viewing(session, viewing_id, viewer)
        return Viewing.from_row(row)

    async def of_lead(self, lead_id: uuid.UUID, viewer: Identity) -> list[Viewing]:
        async with self._db.sessions() as session:
            lead = await session.scalar(
                select(m.leads.c.id).where(m.leads.c.id == lead_id, lead_scope(viewer))
            )
            if lead is None:
                raise NotFound("lead")
            rows = await session.execute(
                select(viewings)
                .where(viewings.c.lead_id == lead_id)
                .order_by(viewings.c.starts_at.desc())
            )
            return [Viewing.from_row(r) for r in rows.mappings()]

    async def reschedule(
        self, viewing_id: uuid.UUID, change: ViewingChange, viewer: Identity
    ) -> Viewing:
        async with self._db.transaction() as session:
            row, lead = await self._viewing(session, viewing_id, viewer)
            if row["state"] == "cancelled":
                raise Conflict("cancelled", "a cancelled viewing cannot be moved", "state")
            old_start = row["starts_at"].astimezone(BERLIN)
            old_end = row["ends_at"].astimezone(BERLIN)
            day = change.date or old_start.date()
            start = change.start or old_start.time().replace(tzinfo=None)
            end = change.end
            if end is None:
                length = row["ends_at"] - row["starts_at"]
                end = (datetime.combine(day, start) + length).time()
                if change.start is None and change.date is None:
                    end = old_end.time().replace(tzinfo=None)
            starts_at, ends_at = self._times(day, start, end, 45)
            place = row["place"] if change.place is None else change.place.strip()
            moved = (starts_at, ends_at) != (row["starts_at"], row["ends_at"])
            if not moved and place == row["place"]:
                return Viewing.from_row(row)
            result = await session.execute(
                update(viewings)
                .where(viewings.c.id == row["id"])
                .values(
                    starts_at=starts_at,
                    ends_at=ends_at,
                    place=place[:500],
                    sequence=viewings.c.sequence + 1,
                    # A new time asks the lead again.
                    state="invited" if lead["email"] else "planned",
                    calendar_state="pending" if row["calendar_id"] else "none",
                    updated_at=self._clock.now(),
                )
                .returning(*viewings.c)
            )
            updated = result.mappings().one()
            await self._book.record(
                session,
                lead,
                "viewing",
                text_=_summary(updated),
                data=self._timeline(
                    updated, "moved", previous_starts_at=row["starts_at"].isoformat()
                ),
                actor=viewer.user_id,
            )
            await self._changed(session, lead, updated, "moved", actor=viewer.user_id)
        return Viewing.from_row(updated)

    async def cancel(self, viewing_id: uuid.UUID, viewer: Identity) -> Viewing:
        async with self._db.transaction() as session:
            row, lead = await self._viewing(session, viewing_id, viewer)
            if row["state"] == "cancelled":
                return Viewing.from_row(row)
            result = await session.execute(
                update(viewings)
                .where(viewings.c.id == row["id"])
                .values(
                    state="cancelled",
                    sequence=viewings.c.sequence + 1,
                    calendar_state="pending" if row["calendar_id"] else "none",
                    updated_at=self._clock.now(),
                )
                .returning(*viewings.c)
            )
            updated = result.mappings().one()
            await self._book.record(
                session,
                lead,
                "viewing",
                text_=f"✕ {_summary(updated)}",
                data=self._timeline(updated, "cancelled"),
                actor=viewer.user_id,
            )
            await self._changed(session, lead, updated, "cancelled", actor=viewer.user_id)
        return Viewing.from_row(updated)

    # --- the invitation -------------------------------------------------------------------------

    def _entry(
        self,
        lead: RowMapping | Mapping[str, Any],
        row: RowMapping,
        *,
        organizer: str,
        organizer_name: str,
    ) -> ViewingEntry:
        en = lead["locale"] == "en"
        title = lead["listing_title"] or ("Viewing" if en else "Besichtigung")
        summary = f"Viewing: {title}" if en else f"Besichtigung: {title}"
        return ViewingEntry(
            uid=row["uid"],
            sequence=row["sequence"],
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            summary=summary[:300],
            location=row["place"],
            description="",
            organizer=organizer,
            organizer_name=organizer_name,
            attendee=lead["email"] or organizer,
            attendee_name=lead["name"] or "",
            stamp=self._clock.now(),
        )

    async def _invite(
        self,
        session: AsyncSession,
        lead: RowMapping,
        row: RowMapping,
        change: Change,
        *,
        actor: uuid.UUID | None,
    ) -> None:
        key = f"{lead['id']}:viewing:{row['id']}:{row['sequence']}"
        already = await session.scalar(
            select(m.activities.c.id).where(
                m.activities.c.lead_id == lead["id"],
                m.activities.c.kind == "email_out",
                m.activities.c.data["message_key"].astext == key,
            )
        )
        if already is not None:
            return
        mailbox = await self._org.ensure_mailbox(session, lead["org_id"])
        reply_to = self._book.reply_address(mailbox["slug"], lead["reply_token"])
        locale = "en" if lead["locale"] == "en" else "de"
        entry = self._entry(lead, row, organizer=reply_to, organizer_name=mailbox["sender_name"])
        values = {
            "greeting": greeting(lead["locale"], lead["salutation"], lead["name"]),
            "title": lead["listing_title"]
            or ("our property" if locale == "en" else "die Immobilie"),
            "when": _when(locale, row["starts_at"], row["ends_at"]),
            "place": row["place"],
            "sender": mailbox["sender_name"],
        }
        subject = _SUBJECTS[(change, locale)].format(**values)
        body = _BODIES[(change, locale)].format(**values).replace("\n\n\n", "\n\n")
        cancelled = change == "cancelled"
        content = {
            "subject": subject,
            "text": body,
            "calendar": {
                "method": "CANCEL" if cancelled else "REQUEST",
                "filename": "besichtigung.ics" if locale == "de" else "viewing.ics",
                "content": invitation(entry, cancelled=cancelled),
            },
        }
        await self._book.publish(
            session,
            LeadMessageRequested(
                event_id=message_event_id(key),
                lead_id=lead["id"],
                org_id=lead["org_id"],
                message_key=key,
                kind="viewing",
                locale=locale,
                sender_name=mailbox["sender_name"],
                reply_to=reply_to,
                sealed_recipient=seal(lead["email"], self._mail_key, context=key),
                sealed_content=seal(json.dumps(content), self._mail_key, context=key),
            ),
        )
        await self._book.record(
            session,
            lead,
            "email_out",
            text_=body,
            data={"message_key": key, "subject": subject, "kind": "viewing", "variant": None},
            actor=actor,
        )
        await session.execute(
            update(m.leads)
            .where(m.leads.c.id == lead["id"])
            .values(last_outbound_at=self._clock.now())
        )

    # --- the calendar job -----------------------------------------------------------------------

    async def write_calendar(self, ref: ViewingRef, ctx: JobContext) -> None:
        """Bring the viewing's current state into the agent's calendar: the event written
        (with the lead's answer), or removed once cancelled."""
        async with self._db.sessions() as session:
            found = await session.execute(
                select(
                    viewings,
                    m.leads.c.locale,
                    m.leads.c.listing_title,
                    m.leads.c.email,
                    m.leads.c.name,
                    m.leads.c.reply_token,
                    m.leads.c.phone,
                )
                .join(m.leads, m.leads.c.id == viewings.c.lead_id)
                .where(viewings.c.id == ref.viewing_id)
            )
            row = found.mappings().first()
            if row is None or row["calendar_id"] is None:
                return
            calendar = (
                (
                    await session.execute(
                        select(calendars).where(calendars.c.id == row["calendar_id"])
                    )
                )
                .mappings()
                .first()
            )
            if calendar is None:
                return
            mailbox = await self._org.ensure_mailbox(session, row["org_id"])
        target = self._backend(calendar)
        reply_to = self._book.reply_address(mailbox["slug"], row["reply_token"])
        lead = {**row, "id": row["lead_id"]}
        entry = self._entry(lead, row, organizer=reply_to, organizer_name=mailbox["sender_name"])
        contact = ", ".join(p for p in (row["name"], row["email"], row["phone"]) if p)
        summary = f"{entry.summary} – {row['name']}" if row["name"] else entry.summary
        entry = replace(entry, description=contact, summary=summary[:300])
        try:
            if row["state"] == "cancelled":
                await target.remove(row["uid"])
                outcome = "removed"
            else:
                await target.write(entry, row["state"])
                outcome = "written"
        except dav.CalendarRefused as exc:
            await self._calendar_failed(calendar["id"], row["id"], str(exc))
            raise PermanentJobError(str(exc)) from exc
        except dav.CalendarMissing as exc:
            await self._calendar_failed(calendar["id"], row["id"], str(exc))
            raise PermanentJobError(str(exc)) from exc
        async with self._db.transaction() as session:
            await session.execute(
                update(viewings)
                .where(
                    viewings.c.id == row["id"],
                    viewings.c.sequence == row["sequence"],
                    viewings.c.state == row["state"],
                )
                .values(calendar_state=outcome, calendar_error=None)
            )
            await ctx.finish(session)

    async def remove_orphans(self, ctx: JobContext) -> None:
        """Viewings whose lead was erased: their events leave the agents' calendars (they name
        the person), then the rows go. A calendar that cannot be reached keeps its viewing
        for the next round."""
        async with self._db.sessions() as session:
            found = await session.execute(
                select(viewings.c.id, viewings.c.uid, viewings.c.calendar_id)
                .where(viewings.c.lead_id.is_(None))
                .limit(100)
            )
            orphans = list(found.all())
            wanted = {c for _, _, c in orphans if c is not None}
            rows = await session.execute(select(calendars).where(calendars.c.id.in_(wanted)))
            by_id = {row["id"]: row for row in rows.mappings()}
        gone: list[uuid.UUID] = []
        for viewing_id, uid, calendar_id in orphans:
            calendar = by_id.get(calendar_id)
            if calendar is not None:
                try:
                    await self._backend(calendar).remove(uid)
                except dav.CalendarError as exc:
                    log.warning("viewing.orphan_kept", viewing_id=str(viewing_id), code=exc.code)
                    continue
            gone.append(viewing_id)
        if gone:
            async with self._db.transaction() as session:
                await session.execute(viewings.delete().where(viewings.c.id.in_(gone)))

    async def _calendar_failed(
        self, calendar_id: uuid.UUID, viewing_id: uuid.UUID, why: str
    ) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(calendars)
                .where(calendars.c.id == calendar_id)
                .values(status="broken", last_error=why[:300], updated_at=self._clock.now())
            )
            await session.execute(
                update(viewings)
                .where(viewings.c.id == viewing_id)
                .values(calendar_state="failed", calendar_error=why[:300])
            )

    # --- the lead's answer ----------------------------------------------------------------------

    async def take_reply(
        self,
        session: AsyncSession,
        lead_id: uuid.UUID,
        mail: ReadMail,
        raw_message_id: uuid.UUID | None,
    ) -> bool:
        """An iTIP REPLY to one of the lead's viewings: its state, the timeline and the
        calendar follow. False when the mail carries no answer to a viewing of this lead
        (it is then an ordinary reply)."""
        answers = [
            reply
            for attachment in mail.attachments
            if attachment.content_type == "text/calendar"
            or attachment.filename.lower().endswith(".ics")
            for reply in replies_in(attachment.data)
        ]
        taken = False
        for answer in answers:
            found = await session.execute(
                select(viewings)
                .where(viewings.c.uid == answer.uid, viewings.c.lead_id == lead_id)
                .with_for_update()
            )
            row = found.mappings().first()
            if row is None:
                continue
            taken = True
            lead = (
                (await session.execute(select(m.leads).where(m.leads.c.id == lead_id)))
                .mappings()
                .one()
            )
            state = PARTSTAT_STATE[answer.partstat]
            stale = answer.sequence < row["sequence"] or row["state"] == "cancelled"
            await self._book.record(
                session,
                lead,
                "viewing_reply",
                text_="\n".join(
                    p for p in (f"{answer.partstat} · {_summary(row)}", answer.comment) if p
                ),
                data={
                    **self._timeline(row, "reply"),
                    "answer": state,
                    "sequence": answer.sequence,
                    "outdated": stale,
                },
                raw_message_id=raw_message_id,
            )
            if stale or row["state"] == state:
                continue  # an answer to an older time, or the same answer again
            result = await session.execute(
                update(viewings)
                .where(viewings.c.id == row["id"])
                .values(
                    state=state,
                    replied_at=self._clock.now(),
                    updated_at=self._clock.now(),
                    calendar_state="pending" if row["calendar_id"] else "none",
                )
                .returning(*viewings.c)
            )
            updated = result.mappings().one()
            if updated["calendar_id"] is not None:
                await self._sync_later(session, updated)
        return taken

    # --- free slots and the public page -----------------------------------------------------------

    async def _busy(
        self, calendar: RowMapping, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        try:
            periods = await self._backend(calendar).busy(start, end)
        except dav.CalendarError as exc:
            raise Unavailable(
                "calendar_unreachable", "the agent's calendar cannot be read right now"
            ) from exc
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(viewings.c.starts_at, viewings.c.ends_at).where(
                    viewings.c.calendar_id == calendar["id"],
                    viewings.c.lead_id.is_not(None),
                    viewings.c.state.in_(ACTIVE),
                    viewings.c.ends_at > start,
                    viewings.c.starts_at < end,
                )
            )
            # Viewings not yet written to the calendar block their time too.
            periods.extend((a, b) for a, b in rows.all())
        return periods

    def _grid(self, calendar: RowMapping) -> list[tuple[datetime, datetime]]:
        """Every slot of the working hours from the notice period on, `slot_days` ahead."""
        hours = _hours(calendar)
        earliest = self._clock.now() + self._notice
        first_day = earliest.astimezone(BERLIN).date()
        length = timedelta(minutes=hours.slot_minutes)
        slots: list[tuple[datetime, datetime]] = []
        for offset in range(self._slot_days + 1):
            day = first_day + timedelta(days=offset)
            if day.isoweekday() not in hours.days:
                continue
            at = datetime.combine(day, hours.start, tzinfo=BERLIN)
            closing = datetime.combine(day, hours.end, tzinfo=BERLIN)
            while at + length <= closing:
                start = at.astimezone(UTC)
                if start >= earliest:
                    slots.append((start, start + length))
                at = at + length
        return slots

    async def _free(self, calendar: RowMapping) -> list[Slot]:
        grid = self._grid(calendar)
        if not grid:
            return []
        busy = await self._busy(calendar, grid[0][0], grid[-1][1])
        return [_slot(s) for s in grid if not any(_overlaps(s, b) for b in busy)]

    async def free_slots(self, viewer: Identity, lead_id: uuid.UUID | None = None) -> list[Slot]:
        """The free slots of the calendar a viewing would go into (the viewer's own, or for a
        lead the one its viewing would use)."""
        async with self._db.transaction() as session:
            if lead_id is not None:
                lead = await self._lead(session, lead_id, viewer)
                calendar = await self._calendar_for(session, lead, viewer.user_id)
            else:
                calendar = await self._own_calendar(session, viewer)
        if calendar is None:
            raise NotFound("calendar")
        return await self._free(calendar)

    def link_token(self, lead_id: uuid.UUID) -> str:
        expires = int((self._clock.now() + timedelta(days=self._link_days)).timestamp())
        payload = f"{lead_id.hex}.{expires:x}"
        mac = hmac.new(self._link_key, payload.encode(), hashlib.sha256).digest()[:18]
        return f"{payload}.{base64.urlsafe_b64encode(mac).decode()}"

    def _lead_of_token(self, token: str) -> uuid.UUID:
        try:
            lead_hex, expires_hex, mac = token.split(".")
            lead_id = uuid.UUID(hex=lead_hex)
            expires = int(expires_hex, 16)
            given = base64.urlsafe_b64decode(mac.encode())
        except ValueError as exc:
            raise NotFound("viewing offer") from exc
        payload = f"{lead_hex}.{expires_hex}"
        wanted = hmac.new(self._link_key, payload.encode(), hashlib.sha256).digest()[:18]
        if not hmac.compare_digest(wanted, given):
            raise NotFound("viewing offer")
        if expires < self._clock.now().timestamp():
            raise Conflict("expired", "this link has expired; please reply to our email instead")
        return lead_id

    async def link_for(self, session: AsyncSession, lead: RowMapping) -> str | None:
        """The public page where the lead picks a slot, when the organisation has a calendar
        (the acknowledgement's `{viewing_link}`)."""
        calendar = await self._calendar_for(session, lead, None)
        if calendar is None or calendar["status"] != "live":
            return None
        return f"{self._public_url}/viewing/{self.link_token(lead['id'])}"

    async def _public_lead(
        self, session: AsyncSession, token: str, *, lock: bool = False
    ) -> RowMapping:
        lead_id = self._lead_of_token(token)
        query = select(m.leads).where(m.leads.c.id == lead_id)
        lead = (
            (await session.execute(query.with_for_update() if lock else query)).mappings().first()
        )
        if lead is None:
            raise NotFound("viewing offer")
        if lead["status"] == "LOST":
            raise Conflict("closed", "this offer is no longer open; please reply to our email")
        return lead

    async def _upcoming(self, session: AsyncSession, lead_id: uuid.UUID) -> RowMapping | None:
        found = await session.execute(
            select(viewings)
            .where(
                viewings.c.lead_id == lead_id,
                viewings.c.state.in_(ACTIVE),
                viewings.c.starts_at > self._clock.now(),
            )
            .order_by(viewings.c.starts_at)
            .limit(1)
        )
        return found.mappings().first()

    async def offer(self, token: str) -> PublicOffer:
        async with self._db.transaction() as session:
            lead = await self._public_lead(session, token)
            calendar = await self._calendar_for(session, lead, None)
            mailbox = await self._org.ensure_mailbox(session, lead["org_id"])
            place = await self._default_place(session, lead)
            booked = await self._upcoming(session, lead["id"])
        locale: Literal["de", "en"] = "en" if lead["locale"] == "en" else "de"
        slots: list[Slot] = []
        unavailable = calendar is None
        if booked is None and calendar is not None:
            try:
                slots = await self._free(calendar)
            except Unavailable:
                unavailable = True
        return PublicOffer(
            locale=locale,
            sender_name=mailbox["sender_name"],
            listing_title=lead["listing_title"],
            place=place,
            slots=slots,
            booked=_public(booked) if booked is not None else None,
            calendar_unavailable=unavailable,
        )

    async def pick(self, token: str, pick: PublicPick) -> PublicViewing:
        """The lead takes one of the offered slots; refused (409) when it became busy."""
        starts_at = pick.starts_at.astimezone(UTC)
        async with self._db.transaction() as session:
            lead = await self._public_lead(session, token)
            calendar = await self._calendar_for(session, lead, None)
        if calendar is None:
            raise Conflict("no_calendar", "no viewing times are offered at the moment")
        slot = next((s for s in self._grid(calendar) if s[0] == starts_at), None)
        if slot is None:
            raise Invalid("not_offered", "this time is not one of the offered slots", "starts_at")
        taken = Conflict(
            "slot_taken", "this time has just been taken; please choose another one", "starts_at"
        )
        if any(_overlaps(slot, b) for b in await self._busy(calendar, slot[0], slot[1])):
            raise taken
        async with self._db.transaction() as session:
            # One booking at a time per calendar: the check below and the insert are one step.
            await session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                {"k": f"leads.calendar:{calendar['id']}"},
            )
            lead = await self._public_lead(session, token, lock=True)
            if await self._upcoming(session, lead["id"]) is not None:
                raise Conflict("already_booked", "a viewing is already booked for you")
            clash = await session.scalar(
                select(viewings.c.id).where(
                    and_(
                        viewings.c.calendar_id == calendar["id"],
                        viewings.c.state.in_(ACTIVE),
                        viewings.c.starts_at < slot[1],
                        viewings.c.ends_at > slot[0],
                    )
                )
            )
            if clash is not None:
                raise taken
            place = await self._default_place(session, lead)
            row = await self._create(
                session,
                lead,
                calendar,
                starts_at=slot[0],
                ends_at=slot[1],
                place=place,
                via="lead",
                actor=None,
            )
        return _public(row)


def _summary(row: RowMapping) -> str:
    """The timeline's line of a viewing: numbers only, readable in German and English."""
    start, end = row["starts_at"].astimezone(BERLIN), row["ends_at"].astimezone(BERLIN)
    place = f" · {row['place']}" if row["place"] else ""
    return f"{start:%d.%m.%Y %H:%M}–{end:%H:%M}{place}"


def _slot(period: tuple[datetime, datetime]) -> Slot:
    start, end = period[0].astimezone(BERLIN), period[1].astimezone(BERLIN)
    return Slot(
        starts_at=period[0],
        ends_at=period[1],
        day=start.date(),
        start=start.time().replace(tzinfo=None),
        end=end.time().replace(tzinfo=None),
    )
