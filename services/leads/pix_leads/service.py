"""The leads themselves: an inquiry becomes a lead (or joins its duplicate), is enriched and
scored, moves through its statuses, collects replies; agents list, search and edit them.

Every change is one transaction with its timeline entry, its events (outbox) and its jobs
(follow-ups, acknowledgement), so none of them can exist without the others.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pix_contracts import LeadCreated, LeadProfile, LeadStatusChanged, LeadUpdated
from pix_contracts.envelope import Event
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import Conflict, Invalid, NotFound
from pix_runtime.jobs import PlannedJob, cancel_jobs, enqueue_job, enqueue_jobs
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue, enqueue_events
from pydantic import BaseModel
from sqlalchemy import (
    RowMapping,
    String,
    any_,
    bindparam,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from pix_leads import models as m
from pix_leads.enrichment import (
    DUPLICATE_WINDOW_DAYS,
    CompletenessInput,
    completeness,
    normalise_email,
    normalise_phone,
    similar_names,
)
from pix_leads.parsers import Inquiry
from pix_leads.records import (
    STATUSES,
)
from pix_leads.scoring import ScoreInput, score
from pix_leads.sentiment import QuickScore, quick_score

log = get_logger(__name__)
SOURCE = "leads"

ACKNOWLEDGE = "leads.acknowledge"
FOLLOW_UP = "leads.follow-up"
EXPIRE = "leads.expire"
ANALYSE = "leads.analyse"
# The lead's wishes as a vector (pix_leads.wishes), after every change of its profile.
EMBED_WISHES = "leads.embed-wishes"
STATUS_ORDER = {"NEW": 0, "CONTACTED": 1, "CONVERSATION": 2, "BOOKED": 3}
# One statement, its values parameters: built per call with `.values(...)`, SQLAlchemy's cache
# key for it cost more CPU than the insert (every inquiry and status change records two).
ADD_ACTIVITY = m.activities.insert().returning(m.activities.c.id)
SAME_PERSON = (
    select(m.leads)
    .where(
        m.leads.c.org_id == bindparam("org_id"),
        or_(m.leads.c.email == bindparam("email"), m.leads.c.phone == bindparam("phone")),
    )
    .order_by(m.leads.c.created_at)
    .limit(1)
    .with_for_update()
)

# The leads added together (add_new_leads): one statement each, whatever their number.
LOCK_PEOPLE = text(
    "SELECT count(pg_advisory_xact_lock(hashtext(k))) FROM unnest(CAST(:keys AS text[])) AS k"
)
PEOPLE_KNOWN = select(m.leads.c.org_id, m.leads.c.email, m.leads.c.phone).where(
    m.leads.c.org_id == any_(bindparam("org_ids", type_=ARRAY(UUID))),
    or_(
        m.leads.c.email == any_(bindparam("emails", type_=ARRAY(String))),
        m.leads.c.phone == any_(bindparam("phones", type_=ARRAY(String))),
    ),
)
NAMES_ON_LISTINGS = select(m.leads.c.org_id, m.leads.c.listing_id, m.leads.c.name).where(
    m.leads.c.org_id == any_(bindparam("org_ids", type_=ARRAY(UUID))),
    m.leads.c.listing_id == any_(bindparam("listing_ids", type_=ARRAY(UUID))),
    m.leads.c.created_at >= bindparam("since"),
)
LISTINGS_NAMED = select(m.listings).where(
    m.listings.c.org_id == any_(bindparam("org_ids", type_=ARRAY(UUID))),
    m.listings.c.withdrawn.is_(False),
    or_(
        m.listings.c.portal_ids.overlap(bindparam("portal_ids", type_=ARRAY(String))),
        func.lower(m.listings.c.reference) == any_(bindparam("references", type_=ARRAY(String))),
    ),
)
LISTING_BY_ID = select(m.listings).where(
    m.listings.c.listing_id == bindparam("listing_id"),
    m.listings.c.org_id == bindparam("org_id"),
    m.listings.c.withdrawn.is_(False),
)
ADD_ACTIVITIES_RETURNING = m.activities.insert().returning(
    m.activities.c.id, sort_by_parameter_order=True
)
# Columns a new lead leaves to their defaults that its event reads.
NEW_ROW: dict[str, Any] = {"rooms_min": None, "area_min_m2": None}


@dataclass
class KnownPeople:
    """Who is already a lead: `org:email` and `org:phone` keys, and names per listing."""

    keys: set[str] = field(default_factory=set)
    names: dict[tuple[uuid.UUID, uuid.UUID | None], list[str]] = field(default_factory=dict)


class LeadRef(BaseModel):
    lead_id: uuid.UUID


class FollowUp(BaseModel):
    lead_id: uuid.UUID
    step: int


class Analysis(BaseModel):
    lead_id: uuid.UUID
    activity_id: int


@dataclass(frozen=True)
class Schedule:
    follow_up_days: tuple[int, ...] = (3, 7, 14)
    # The day after the last follow-up: a lead silent that long is LOST.
    lost_after_days: int = 15


def new_token() -> str:
    return secrets.token_urlsafe(12).replace("-", "x").replace("_", "y").lower()


_CONTACT_DATA = re.compile(
    r"[\w.+-]+@[\w-]+(\.[\w-]+)+|https?://\S+|www\.\S+|\+?\d[\d\s/()\-]{6,}\d"
)
_GREETING_LINE = re.compile(
    r"^\s*(sehr geehrte.*|guten (tag|abend|morgen).*|hallo.*|hi\b.*|hello.*|dear .*|grüß gott.*|"
    r"(mit )?(freundlichen|herzlichen|besten|viele|liebe) grüße?n?.*|mfg.*|lg\b.*|"
    r"(kind |best )?regards.*|cheers.*|danke.*|thanks.*)$",
    re.IGNORECASE,
)


def wishes_of(message: str, name: str) -> str:
    """What the lead wants, for matching: without contact data, greetings and their name."""
    lines = [line for line in message.splitlines() if not _GREETING_LINE.match(line)]
    text = _CONTACT_DATA.sub(" ", "\n".join(lines))
    for part in name.split():
        if len(part) > 2:
            text = re.sub(rf"\b{re.escape(part)}\b", " ", text)
    return " ".join(text.split())[:2000]


def profile_of(row: RowMapping | Mapping[str, Any]) -> LeadProfile:
    postcodes = list(row["postcodes"] or [])
    wishes = wishes_of(row["message"] or "", row["name"] or "")
    return LeadProfile(
        property_type=row["property_type"],
        marketing=row["marketing"],
        budget_min_eur=row["budget_min_eur"],
        budget_max_eur=row["budget_max_eur"],
        rooms_min=row["rooms_min"],
        area_min_m2=row["area_min_m2"],
        postcodes=postcodes,
        city=row["city"],
        wishes=wishes,
        financing=row["financing"],
    )


def scored(lead: RowMapping | Mapping[str, Any], listing_price: int | None) -> dict[str, Any]:
    """The completeness and score columns for a lead's values (a row, or one about to be)."""
    complete = completeness(
        CompletenessInput(
            name=lead["name"],
            email=lead["email"],
            phone=lead["phone"],
            message=lead["message"],
            listing_known=lead["listing_id"] is not None or bool(lead["portal_listing_ref"]),
            financing=lead["financing"],
            time_frame=lead["time_frame"],
            budget_known=lead["budget_max_eur"] is not None,
            household=lead["household"],
        )
    )
    total, factors = score(
        ScoreInput(
            time_frame=lead["time_frame"],
            financing=lead["financing"],
            source=lead["source"],
            budget_max_eur=lead["budget_max_eur"],
            listing_price_eur=listing_price,
            reply_count=lead["reply_count"],
            inquiry_count=lead["inquiry_count"],
            requested_viewing=lead["requested_viewing"],
            requested_callback=lead["requested_callback"],
            completeness=complete,
        )
    )
    return {
        "completeness": complete,
        "score": total,
        "score_factors": {k: f.model_dump() for k, f in factors.items()},
    }


def inquiry_details(inquiry: Inquiry) -> dict[str, Any]:
    """What the timeline keeps of an inquiry besides its text."""
    return {
        "source": inquiry.source,
        "name": inquiry.name,
        "portal_listing_id": inquiry.portal_listing_id,
        "listing_reference": inquiry.listing_reference,
        "financing": inquiry.financing,
        "time_frame": inquiry.time_frame,
        "budget_max_eur": inquiry.budget_max_eur,
        "requested_viewing": inquiry.requested_viewing,
    }


def first_entries(
    lead: RowMapping | Mapping[str, Any],
    inquiry: Inquiry,
    mood: QuickScore,
    *,
    at: datetime,
    raw_message_id: uuid.UUID | None,
    actor: uuid.UUID | None = None,
) -> list[dict[str, Any]]:
    """A new lead's first two timeline rows: the inquiry, and its keyword sentiment."""
    common = {"lead_id": lead["id"], "org_id": lead["org_id"], "at": at}
    return [
        common
        | {"kind": "inquiry", "text": inquiry.message, "data": inquiry_details(inquiry)}
        | {"actor_id": actor, "raw_message_id": raw_message_id},
        common
        | {"kind": "sentiment", "text": "", "data": mood.model_dump()}
        | {"actor_id": None, "raw_message_id": None},
    ]


def created_event(row: RowMapping | Mapping[str, Any]) -> LeadCreated:
    return LeadCreated(
        lead_id=row["id"],
        org_id=row["org_id"],
        listing_id=row["listing_id"],
        source=row["source"],
        status="NEW",
        score=row["score"],
        locale="en" if row["locale"] == "en" else "de",
        profile=profile_of(row),
    )


@dataclass(frozen=True)
class Arrival:
    """An inquiry that came with others (`LeadBook.add_new_leads`)."""

    org_id: uuid.UUID
    inquiry: Inquiry
    raw_message_id: uuid.UUID
    correlation_id: str | None


class LeadBook:
    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        inbound_domain: str,
        schedule: Schedule | None = None,
        analyse: bool = False,
    ) -> None:
        self._db = db
        self._clock = clock
        self._domain = inbound_domain
        self._schedule = schedule or Schedule()
        self._analyse = analyse

    @property
    def db(self) -> Database:
        return self._db

    def reply_address(self, slug: str, token: str) -> str:
        return f"{slug}+{token}@{self._domain}"

    # --- events and timeline --------------------------------------------------------------------

    async def publish(self, session: AsyncSession, event: Event) -> None:
        await enqueue(session, m.outbox, event, source=SOURCE)
        if isinstance(event, LeadCreated | LeadUpdated):
            # Every path that changes a lead's profile announces it here: embed it again.
            await enqueue_job(
                session,
                m.jobs,
                EMBED_WISHES,
                LeadRef(lead_id=event.lead_id),
                key=str(event.lead_id),
            )

    async def record(
        self,
        session: AsyncSession,
        lead: RowMapping,
        kind: str,
        *,
        text_: str = "",
        data: dict[str, Any] | None = None,
        actor: uuid.UUID | None = None,
        raw_message_id: uuid.UUID | None = None,
    ) -> int:
        activity_id = await session.scalar(
            ADD_ACTIVITY,
            dict(
                lead_id=lead["id"],
                org_id=lead["org_id"],
                kind=kind,
                at=self._clock.now(),
                actor_id=actor,
                raw_message_id=raw_message_id,
                text=text_,
                data=data or {},
            ),
        )
        assert activity_id is not None
        return int(activity_id)

    # --- intake ---------------------------------------------------------------------------------

    async def add_inquiry(
        self,
        session: AsyncSession,
        org_id: uuid.UUID,
        inquiry: Inquiry,
        *,
        raw_message_id: uuid.UUID | None,
        consent: tuple[str, datetime] | None = None,
        needs_review: bool = False,
        actor: uuid.UUID | None = None,
        listing_id: uuid.UUID | None = None,
    ) -> tuple[uuid.UUID, bool]:
        """The lead this inquiry belongs to (a duplicate found is merged, never dropped), and
        whether it is new."""
        email = normalise_email(inquiry.email)
        phone = normalise_phone(inquiry.phone, prefer=inquiry.phone_region)
        listing = await self._listing_for(session, org_id, inquiry, listing_id)
        # Two inquiries of one person arriving at once must not make two leads.
        keys = sorted(f"{org_id}:{identity}" for identity in (email, phone) if identity)
        if keys:
            # One round trip, the locks taken in a fixed order (no deadlock between two).
            await session.execute(LOCK_PEOPLE, {"keys": keys})
        duplicate = None
        if not needs_review:
            duplicate = await self._duplicate_of(
                session,
                org_id,
                email,
                phone,
                inquiry.name,
                listing["listing_id"] if listing else None,
            )
        if duplicate is not None:
            await self._merge(session, duplicate, inquiry, email, phone, listing, raw_message_id)
            await self.record(
                session,
                duplicate,
                "inquiry",
                text_=inquiry.message,
                data={**inquiry_details(inquiry), "merged": True},
                raw_message_id=raw_message_id,
            )
            row = await self.rescore(session, duplicate["id"])
            await self.publish(session, self._updated(row))
            return duplicate["id"], False
        lead_id = uuid.uuid4()
        mood = quick_score(inquiry.message)
        values = self._new_lead(
            lead_id, org_id, inquiry, email, phone, listing, mood, consent, needs_review
        )
        inserted = await session.execute(m.leads.insert().returning(*m.leads.c), values)
        row = inserted.mappings().one()
        timeline = first_entries(
            row, inquiry, mood, at=self._clock.now(), raw_message_id=raw_message_id, actor=actor
        )
        [activity_id, _] = (await session.execute(ADD_ACTIVITIES_RETURNING, timeline)).scalars()
        await self.publish(session, created_event(row))
        if not needs_review and email:
            await enqueue_job(
                session, m.jobs, ACKNOWLEDGE, LeadRef(lead_id=lead_id), key=str(lead_id)
            )
        if self._analyse and inquiry.message.strip():
            await enqueue_job(
                session, m.jobs, ANALYSE, Analysis(lead_id=lead_id, activity_id=activity_id)
            )
        return lead_id, True

    async def add_new_leads(
        self, session: AsyncSession, arrivals: list[Arrival]
    ) -> list[uuid.UUID | None]:
        """`add_inquiry` for inquiries that arrived together, in a fixed number of statements
        however many they are: each becomes a new lead, or None where it may belong to a lead
        already known (or to another of them), for the caller to add with `add_inquiry`.

        What each gets is what `add_inquiry` gives a new lead: its two timeline entries, its
        `leads.lead.created.v1` and its jobs, under the correlation id it arrived with."""
        people = [
            (
                normalise_email(a.inquiry.email),
                normalise_phone(a.inquiry.phone, prefer=a.inquiry.phone_region),
            )
            for a in arrivals
        ]
        listings = await self._listings_named(session, [(a.org_id, a.inquiry) for a in arrivals])
        pairs = zip(arrivals, people, strict=True)
        keys = sorted({f"{a.org_id}:{who}" for a, pair in pairs for who in pair if who})
        if keys:
            await session.execute(LOCK_PEOPLE, {"keys": keys})
        known = await self._people_known(session, arrivals, people, listings)
        new: list[tuple[Arrival, dict[str, Any], QuickScore]] = []
        ids: list[uuid.UUID | None] = []
        for arrival, (email, phone), listing in zip(arrivals, people, listings, strict=True):
            person = {f"{arrival.org_id}:{who}" for who in (email, phone) if who}
            named = (arrival.org_id, listing["listing_id"] if listing else None)
            if person & known.keys or any(
                similar_names(name, arrival.inquiry.name) for name in known.names.get(named, ())
            ):
                ids.append(None)
                continue
            # A later one of the same person (or name on the listing) is a duplicate of this.
            known.keys |= person
            if named[1] is not None and arrival.inquiry.name.strip():
                known.names.setdefault(named, []).append(arrival.inquiry.name)
            mood = quick_score(arrival.inquiry.message)
            lead_id = uuid.uuid4()
            values = self._new_lead(
                lead_id, arrival.org_id, arrival.inquiry, email, phone, listing, mood, None, False
            )
            new.append((arrival, values, mood))
            ids.append(lead_id)
        if not new:
            return ids
        await session.execute(m.leads.insert(), [values for _, values, _ in new])
        now = self._clock.now()
        timeline = [
            entry
            for arrival, values, mood in new
            for entry in first_entries(
                values, arrival.inquiry, mood, at=now, raw_message_id=arrival.raw_message_id
            )
        ]
        # Without RETURNING the rows go as one pipelined executemany of one prepared statement
        # (with it, a statement of its own per number of rows); only the analysis needs ids.
        activity_ids: list[int] = []
        if self._analyse:
            activity_ids = list(
                (await session.execute(ADD_ACTIVITIES_RETURNING, timeline)).scalars().all()
            )
        else:
            await session.execute(m.activities.insert(), timeline)
        await enqueue_events(
            session,
            m.outbox,
            [(created_event(NEW_ROW | values), a.correlation_id) for a, values, _ in new],
            source=SOURCE,
        )
        jobs: list[PlannedJob] = []
        for n, (arrival, values, _) in enumerate(new):
            lead = LeadRef(lead_id=values["id"])
            cid, key = arrival.correlation_id, str(values["id"])
            jobs.append(PlannedJob(EMBED_WISHES, lead, key=key, correlation_id=cid))
            if values["email"]:
                jobs.append(PlannedJob(ACKNOWLEDGE, lead, key=key, correlation_id=cid))
            if self._analyse and arrival.inquiry.message.strip():
                analysis = Analysis(lead_id=values["id"], activity_id=activity_ids[2 * n])
                jobs.append(PlannedJob(ANALYSE, analysis, correlation_id=cid))
        await enqueue_jobs(session, m.jobs, jobs)
        return ids

    async def _listings_named(
        self, session: AsyncSession, inquiries: list[tuple[uuid.UUID, Inquiry]]
    ) -> list[RowMapping | None]:
        """The listing each inquiry (with its organisation) names, by portal id or reference:
        one query for all."""
        portal_ids = [i.portal_listing_id for _, i in inquiries if i.portal_listing_id]
        references = [i.listing_reference.lower() for _, i in inquiries if i.listing_reference]
        if not portal_ids and not references:
            return [None] * len(inquiries)
        rows = (
            (
                await session.execute(
                    LISTINGS_NAMED,
                    {
                        "org_ids": list({org_id for org_id, _ in inquiries}),
                        "portal_ids": portal_ids,
                        "references": references,
                    },
                )
            )
            .mappings()
            .all()
        )
        found: list[RowMapping | None] = []
        for org_id, inquiry in inquiries:
            portal_id = inquiry.portal_listing_id
            reference = (inquiry.listing_reference or "").lower()
            found.append(
                next(
                    (
                        row
                        for row in rows
                        if row["org_id"] == org_id
                        and (
                            (portal_id and portal_id in (row["portal_ids"] or ()))
                            or (reference and (row["reference"] or "").lower() == reference)
                        )
                    ),
                    None,
                )
            )
        return found

    async def _people_known(
        self,
        session: AsyncSession,
        arrivals: list[Arrival],
        people: list[tuple[str | None, str | None]],
        listings: list[RowMapping | None],
    ) -> KnownPeople:
        """The leads the arrivals may be duplicates of, one query per way of being one (the
        same email or phone; a close name on the same listing within the window)."""
        known = KnownPeople()
        emails = [email for email, _ in people if email]
        phones = [phone for _, phone in people if phone]
        org_ids = list({a.org_id for a in arrivals})
        if emails or phones:
            rows = await session.execute(
                PEOPLE_KNOWN, {"org_ids": org_ids, "emails": emails, "phones": phones}
            )
            for org_id, email, phone in rows:
                known.keys |= {f"{org_id}:{who}" for who in (email, phone) if who}
        listing_ids = list({listing["listing_id"] for listing in listings if listing})
        if listing_ids:
            since = self._clock.now() - timedelta(days=DUPLICATE_WINDOW_DAYS)
            rows = await session.execute(
                NAMES_ON_LISTINGS, {"org_ids": org_ids, "listing_ids": listing_ids, "since": since}
            )
            for org_id, listing_id, name in rows:
                known.names.setdefault((org_id, listing_id), []).append(name)
        return known

    def _new_lead(
        self,
        lead_id: uuid.UUID,
        org_id: uuid.UUID,
        inquiry: Inquiry,
        email: str | None,
        phone: str | None,
        listing: RowMapping | Mapping[str, Any] | None,
        mood: QuickScore,
        consent: tuple[str, datetime] | None,
        needs_review: bool,
    ) -> dict[str, Any]:
        """A new lead's columns, scored."""
        now = self._clock.now()
        values: dict[str, Any] = dict(
            id=lead_id,
            org_id=org_id,
            listing_id=listing["listing_id"] if listing else None,
            listing_title=(listing["title"] if listing else None) or inquiry.listing_title,
            portal_listing_ref=inquiry.portal_listing_id or inquiry.listing_reference,
            source=inquiry.source,
            status="NEW",
            needs_review=needs_review,
            salutation=inquiry.salutation,
            name=inquiry.name[:200],
            email=email,
            phone=phone,
            phone_raw=(inquiry.phone or "")[:80] or None,
            locale=inquiry.locale,
            message=inquiry.message[:20_000],
            financing=inquiry.financing,
            time_frame=inquiry.time_frame,
            budget_min_eur=inquiry.budget_min_eur,
            budget_max_eur=inquiry.budget_max_eur,
            household=(inquiry.household or "")[:200] or None,
            requested_viewing=inquiry.requested_viewing,
            requested_callback=inquiry.requested_callback,
            property_type=inquiry.property_type or (listing["property_type"] if listing else None),
            marketing=inquiry.marketing or (listing["marketing"] if listing else None),
            postcodes=[listing["postcode"]] if listing and listing["postcode"] else [],
            city=inquiry.city or (listing["city"] if listing else None),
            sentiment=mood.model_dump(),
            reply_token=new_token(),
            conversation_text=inquiry.message[:20_000],
            consent_text=consent[0] if consent else None,
            consent_at=consent[1] if consent else None,
            created_at=now,
            updated_at=now,
            last_inbound_at=now,
            status_changed_at=now,
        )
        values |= {"reply_count": 0, "inquiry_count": 1}
        values |= scored(values, listing["price_eur"] if listing else None)
        return values

    async def _listing_for(
        self,
        session: AsyncSession,
        org_id: uuid.UUID,
        inquiry: Inquiry,
        listing_id: uuid.UUID | None,
    ) -> RowMapping | None:
        """The listing a form names by id, or the one the inquiry names."""
        if listing_id is None:
            [listing] = await self._listings_named(session, [(org_id, inquiry)])
            return listing
        found = await session.execute(LISTING_BY_ID, {"listing_id": listing_id, "org_id": org_id})
        by_id: RowMapping | None = found.mappings().first()
        return by_id

    async def _duplicate_of(
        self,
        session: AsyncSession,
        org_id: uuid.UUID,
        email: str | None,
        phone: str | None,
        name: str,
        listing_id: uuid.UUID | None,
    ) -> RowMapping | None:
        t = m.leads
        if email or phone:
            # NULL equals nothing: a missing email or phone matches no lead.
            found = await session.execute(
                SAME_PERSON, {"org_id": org_id, "email": email or None, "phone": phone or None}
            )
            row = found.mappings().first()
            if row is not None:
                return row
        if listing_id is None or not name.strip():
            return None
        since = self._clock.now() - timedelta(days=DUPLICATE_WINDOW_DAYS)
        candidates = await session.execute(
            select(t).where(
                t.c.org_id == org_id, t.c.listing_id == listing_id, t.c.created_at >= since
            )
        )
        for row in candidates.mappings():
            if similar_names(row["name"], name):
                return row
        return None

    async def _merge(
        self,
        session: AsyncSession,
        lead: RowMapping,
        inquiry: Inquiry,
        email: str | None,
        phone: str | None,
        listing: RowMapping | None,
        raw_message_id: uuid.UUID | None,
    ) -> None:
        """Fill what the lead lacked; the stronger of two facts wins (confirmed financing)."""
        better_financing = ["unknown", "none", "in_progress", "confirmed"]
        better_time = ["unknown", "later", "6_months", "3_months", "immediate"]
        values: dict[str, Any] = {
            "inquiry_count": m.leads.c.inquiry_count + 1,
            "conversation_text": m.leads.c.conversation_text + "\n\n" + inquiry.message[:20_000],
            "last_inbound_at": self._clock.now(),
            "updated_at": self._clock.now(),
            "requested_viewing": lead["requested_viewing"] or inquiry.requested_viewing,
            "requested_callback": lead["requested_callback"] or inquiry.requested_callback,
        }
        if not lead["email"] and email:
            values["email"] = email
        if not lead["phone"] and phone:
            values["phone"] = phone
        if not lead["name"] and inquiry.name:
            values["name"] = inquiry.name[:200]
        if better_financing.index(inquiry.financing) > better_financing.index(lead["financing"]):
            values["financing"] = inquiry.financing
        if better_time.index(inquiry.time_frame) > better_time.index(lead["time_frame"]):
            values["time_frame"] = inquiry.time_frame
        if lead["budget_max_eur"] is None and inquiry.budget_max_eur is not None:
            values["budget_max_eur"] = inquiry.budget_max_eur
        if lead["household"] is None and inquiry.household:
            values["household"] = inquiry.household[:200]
        if lead["listing_id"] is None and listing is not None:
            values["listing_id"] = listing["listing_id"]
            values["listing_title"] = listing["title"]
        await session.execute(update(m.leads).where(m.leads.c.id == lead["id"]).values(**values))

    async def rescore(self, session: AsyncSession, lead_id: uuid.UUID) -> RowMapping:
        """Completeness and score from the lead as it is now; stored, and the row returned."""
        price = (
            select(m.listings.c.price_eur)
            .where(m.listings.c.listing_id == m.leads.c.listing_id)
            .scalar_subquery()
            .label("listing_price")
        )
        row = (
            (await session.execute(select(m.leads, price).where(m.leads.c.id == lead_id)))
            .mappings()
            .one()
        )
        result = await session.execute(
            update(m.leads)
            .where(m.leads.c.id == lead_id)
            .values(**scored(row, row["listing_price"]))
            .returning(*m.leads.c)
        )
        return result.mappings().one()

    def _updated(self, row: RowMapping) -> LeadUpdated:
        return LeadUpdated(
            lead_id=row["id"],
            org_id=row["org_id"],
            listing_id=row["listing_id"],
            status=row["status"],
            score=row["score"],
            profile=profile_of(row),
        )

    # --- replies and statuses -------------------------------------------------------------------

    async def attach_reply(
        self,
        session: AsyncSession,
        lead_id: uuid.UUID,
        words: str,
        *,
        raw_message_id: uuid.UUID | None,
    ) -> RowMapping:
        """The lead answered: on its timeline, follow-ups off, and into CONVERSATION."""
        lead = await self._locked(session, lead_id)
        now = self._clock.now()
        await session.execute(
            update(m.leads)
            .where(m.leads.c.id == lead_id)
            .values(
                reply_count=m.leads.c.reply_count + 1,
                last_inbound_at=now,
                updated_at=now,
                conversation_text=m.leads.c.conversation_text + "\n\n" + words[:20_000],
                sentiment=quick_score(words).model_dump(),
            )
        )
        activity_id = await self.record(
            session,
            lead,
            "email_in",
            text_=words,
            data={"sentiment": quick_score(words).model_dump()},
            raw_message_id=raw_message_id,
        )
        await self.stop_follow_ups(session, lead_id)
        await session.execute(
            update(m.experiment_assignments)
            .where(
                m.experiment_assignments.c.lead_id == lead_id,
                m.experiment_assignments.c.replied_at.is_(None),
            )
            .values(replied_at=now)
        )
        if lead["status"] in ("NEW", "CONTACTED"):
            await self.set_status(
                session, lead, "CONVERSATION", reason="the lead replied", actor=None
            )
        if self._analyse and words.strip():
            await enqueue_job(
                session, m.jobs, ANALYSE, Analysis(lead_id=lead_id, activity_id=activity_id)
            )
        row = await self.rescore(session, lead_id)
        await self.publish(session, self._updated(row))
        return row

    async def stop_follow_ups(self, session: AsyncSession, lead_id: uuid.UUID) -> None:
        await cancel_jobs(session, m.jobs, FOLLOW_UP, key_prefix=f"{lead_id}:")
        await cancel_jobs(session, m.jobs, EXPIRE, key=str(lead_id))

    async def plan_follow_ups(self, session: AsyncSession, lead: RowMapping) -> None:
        """After the first message to the lead: follow-ups on day 3, 7, 14, LOST after."""
        start = self._clock.now()
        planned = [
            PlannedJob(
                FOLLOW_UP,
                FollowUp(lead_id=lead["id"], step=day),
                run_at=start + timedelta(days=day),
                key=f"{lead['id']}:{day}",
            )
            for day in self._schedule.follow_up_days
        ]
        planned.append(
            PlannedJob(
                EXPIRE,
                LeadRef(lead_id=lead["id"]),
                run_at=start + timedelta(days=self._schedule.lost_after_days),
                key=str(lead["id"]),
            )
        )
        await enqueue_jobs(session, m.jobs, planned)

    async def set_status(
        self,
        session: AsyncSession,
        lead: RowMapping,
        new: str,
        *,
        reason: str | None,
        actor: uuid.UUID | None,
    ) -> RowMapping:
        old = lead["status"]
        if new not in STATUSES:
            raise Invalid("invalid", f"unknown status {new}", "status")
        if new == old:
            return lead
        if new == "LOST":
            if not reason and actor is not None:
                raise Invalid("required", "a lead is marked lost with a reason", "reason")
        elif old == "LOST" or STATUS_ORDER[new] < STATUS_ORDER[old]:
            raise Conflict("invalid_transition", f"a {old} lead cannot become {new}", "status")
        now = self._clock.now()
        result = await session.execute(
            update(m.leads)
            .where(m.leads.c.id == lead["id"])
            .values(
                status=new,
                lost_reason=reason if new == "LOST" else None,
                status_changed_at=now,
                updated_at=now,
            )
            .returning(*m.leads.c)
        )
        row = result.mappings().one()
        await self.record(
            session, row, "status", data={"old": old, "new": new, "reason": reason}, actor=actor
        )
        if actor is not None or new not in ("NEW", "CONTACTED"):
            # A person took over (or the lead is decided): no more automatic follow-ups.
            await self.stop_follow_ups(session, lead["id"])
        if new == "BOOKED":
            await session.execute(
                update(m.experiment_assignments)
                .where(
                    m.experiment_assignments.c.lead_id == lead["id"],
                    m.experiment_assignments.c.booked_at.is_(None),
                )
                .values(booked_at=now)
            )
        await self.publish(
            session,
            LeadStatusChanged(
                lead_id=lead["id"],
                org_id=lead["org_id"],
                old_status=old,
                new_status=new,
                reason=reason,
                changed_by=actor,
            ),
        )
        return row

    async def _locked(self, session: AsyncSession, lead_id: uuid.UUID) -> RowMapping:
        row = (
            (
                await session.execute(
                    select(m.leads).where(m.leads.c.id == lead_id).with_for_update()
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("lead")
        return row
