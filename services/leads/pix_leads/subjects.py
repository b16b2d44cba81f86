"""The rights of the people behind leads (GDPR Art. 15, 17, 21), who are not users.

An agent serves a person who asks: `find` every lead of theirs in the organisation by email
address or phone number, `export` it (machine-readable), `erase` it by anonymising (the leads
stay as counts and stages in the organisation's statistics, without anything that names the
person), and `object` to contact: the objection is kept as the keyed digests of the address and
the number (pix_runtime.personal_data), so it outlives the erasure without keeping the address,
and the messenger sends no acknowledgement or follow-up to, and assigns no A/B variant for, a
lead whose address or number has one.

Retention uses the same anonymisation: LOST leads a year after they were lost, and raw inbound
messages (the original mails) after 30 days.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import Forbidden, Invalid
from pix_runtime.identity import Identity
from pix_runtime.jobs import JobContext, cancel_jobs
from pix_runtime.logging import get_logger
from pix_runtime.personal_data import subject_digest
from pix_runtime.storage import LocalStorage, S3Storage
from pydantic import BaseModel, Field, JsonValue, model_validator
from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    Integer,
    RowMapping,
    String,
    Table,
    Uuid,
    bindparam,
    delete,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_leads import models as m
from pix_leads.enrichment import normalise_phone
from pix_leads.service import ACKNOWLEDGE, LeadBook

log = get_logger(__name__)
SERVICE = "leads"

# Objections to contact (Art. 21) by the keyed digest of an address or a phone number.
objections = Table(
    "objections",
    m.metadata,
    Column("org_id", Uuid, primary_key=True),
    Column("subject_digest", String(64), primary_key=True),
    Column("recorded_by", Uuid, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Built once, run with parameters: every acknowledgement and follow-up asks it.
OBJECTION_OF = select(objections.c.subject_digest).where(
    objections.c.org_id == bindparam("org_id"),
    objections.c.subject_digest.in_(bindparam("digests", expanding=True)),
)

# An organisation's own retention windows; none (or a null) means the platform's default.
retention = Table(
    "retention",
    m.metadata,
    Column("org_id", Uuid, primary_key=True),
    Column("lost_lead_days", Integer, nullable=True),
    Column("raw_message_days", Integer, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# What stays of an anonymised lead: status, source, dates, score, the wished property; what goes.
ANONYMOUS = {
    "salutation": None,
    "name": "",
    "email": None,
    "phone": None,
    "phone_raw": None,
    "message": "",
    "household": None,
    "notes": "",
    "conversation_text": "",
    "consent_text": None,
    "search": None,
}


# Timeline entries whose data holds no personal data and makes the statistics (stage changes).
KEPT_DATA = ("status",)


class Subject(BaseModel):
    """A person, as they identify themselves: an email address, a phone number, or both."""

    email: str | None = None
    phone: str | None = None

    @model_validator(mode="after")
    def _one_of_them(self) -> Subject:
        self.email = (self.email or "").strip().lower() or None
        if self.email is not None and "@" not in self.email:
            raise Invalid("email_invalid", "not an email address", field="email")
        if self.phone:
            number = normalise_phone(self.phone)
            if number is None:
                raise Invalid("phone_invalid", "not a phone number", field="phone")
            self.phone = number
        else:
            self.phone = None
        if self.email is None and self.phone is None:
            raise Invalid("subject_missing", "give an email address or a phone number")
        return self


class SubjectFound(BaseModel):
    service: str = SERVICE
    lead_ids: list[uuid.UUID]
    raw_messages: int
    objected: bool


class SubjectActivity(BaseModel):
    kind: str
    at: datetime
    text: str
    data: dict[str, JsonValue]


class SubjectRawMessage(BaseModel):
    id: uuid.UUID
    channel: str
    mail_from: str | None
    received_at: datetime


class SubjectLead(BaseModel):
    id: uuid.UUID
    status: str
    source: str
    created_at: datetime
    listing_title: str | None
    salutation: str | None
    name: str
    email: str | None
    phone: str | None
    message: str
    notes: str
    household: str | None
    financing: str
    budget_min_eur: int | None
    budget_max_eur: int | None
    consent_text: str | None
    consent_at: datetime | None
    activities: list[SubjectActivity]


class SubjectExport(BaseModel):
    service: str = SERVICE
    exported_at: datetime
    subject: Subject
    objected: bool
    leads: list[SubjectLead]
    raw_messages: list[SubjectRawMessage]


class Retention(BaseModel):
    """An organisation's retention windows in days; null keeps the platform's default. Bounded:
    a lost lead is kept at most two years, an original message at most 90 days."""

    lost_lead_days: int | None = Field(default=None, ge=1, le=730)
    raw_message_days: int | None = Field(default=None, ge=1, le=90)


class RetentionView(BaseModel):
    lost_lead_days: int
    raw_message_days: int
    own: Retention


class SubjectErased(BaseModel):
    service: str = SERVICE
    leads: int
    raw_messages: int


@dataclass(frozen=True)
class Anonymised:
    leads: int
    storage_keys: list[str]


class SubjectObjected(BaseModel):
    service: str = SERVICE
    leads: int


def _organisation(viewer: Identity) -> uuid.UUID:
    # Owners and agents serve the people who write to their organisation, organisation-wide
    # (an export limited to the agent's own leads would be incomplete).
    if viewer.role not in ("owner", "agent", "client"):
        raise Forbidden()
    return viewer.org_id


class Subjects:
    def __init__(
        self,
        book: LeadBook,
        storage: LocalStorage | S3Storage,
        *,
        subject_key: bytes,
        clock: Clock,
        lost_after: timedelta = timedelta(days=365),
        raw_after: timedelta = timedelta(days=30),
    ) -> None:
        self._book = book
        self._db: Database = book.db
        self._storage = storage
        self._key = subject_key
        self._clock = clock
        self._lost_after = lost_after
        self._raw_after = raw_after

    def _digests(self, email: str | None, phone: str | None) -> list[str]:
        return [subject_digest(v, self._key) for v in (email, phone) if v]

    async def objected(self, session: AsyncSession, lead: RowMapping) -> bool:
        """Whether the lead's address or number objected to contact in its organisation."""
        digests = self._digests(lead["email"], lead["phone"])
        if not digests:
            return False
        found = await session.scalar(OBJECTION_OF, {"org_id": lead["org_id"], "digests": digests})
        return found is not None

    def _matches(self, org_id: uuid.UUID, subject: Subject) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if subject.email:
            where.append(func.lower(m.leads.c.email) == subject.email)
        if subject.phone:
            where.append(m.leads.c.phone == subject.phone)
        return [m.leads.c.org_id == org_id, or_(*where)]

    async def _lead_ids(
        self, session: AsyncSession, org_id: uuid.UUID, subject: Subject
    ) -> list[uuid.UUID]:
        query = select(m.leads.c.id).where(*self._matches(org_id, subject))
        return list((await session.scalars(query.order_by(m.leads.c.created_at))).all())

    def _raw_where(
        self, org_id: uuid.UUID, lead_ids: list[uuid.UUID], subject: Subject
    ) -> ColumnElement[bool]:
        mine: list[ColumnElement[bool]] = [m.raw_messages.c.lead_id.in_(lead_ids)]
        if subject.email:
            # Messages that never became a lead (not parsed) are theirs by the sender.
            mine.append(func.lower(m.raw_messages.c.mail_from) == subject.email)
        return (m.raw_messages.c.org_id == org_id) & or_(*mine)

    async def find(self, subject: Subject, viewer: Identity) -> SubjectFound:
        org_id = _organisation(viewer)
        async with self._db.sessions() as session:
            ids = await self._lead_ids(session, org_id, subject)
            raw = await session.scalar(
                select(func.count()).where(self._raw_where(org_id, ids, subject))
            )
            objected = await self._has_objection(session, org_id, subject)
        return SubjectFound(lead_ids=ids, raw_messages=raw or 0, objected=objected)

    async def _has_objection(
        self, session: AsyncSession, org_id: uuid.UUID, subject: Subject
    ) -> bool:
        digests = self._digests(subject.email, subject.phone)
        found = await session.scalar(
            select(func.count()).where(
                objections.c.org_id == org_id, objections.c.subject_digest.in_(digests)
            )
        )
        return bool(found)

    async def export(self, subject: Subject, viewer: Identity) -> SubjectExport:
        org_id = _organisation(viewer)
        async with self._db.sessions() as session:
            ids = await self._lead_ids(session, org_id, subject)
            rows = (
                await session.execute(
                    select(m.leads).where(m.leads.c.id.in_(ids)).order_by(m.leads.c.created_at)
                )
            ).mappings()
            leads = []
            for row in rows.all():
                found = await session.execute(
                    select(m.activities)
                    .where(m.activities.c.lead_id == row["id"], m.activities.c.org_id == org_id)
                    .order_by(m.activities.c.at, m.activities.c.id)
                )
                activities = [
                    SubjectActivity(kind=a["kind"], at=a["at"], text=a["text"], data=a["data"])
                    for a in found.mappings()
                ]
                leads.append(
                    SubjectLead.model_validate(
                        {**row, "activities": activities}, from_attributes=False
                    )
                )
            raw = (
                await session.execute(
                    select(m.raw_messages).where(self._raw_where(org_id, ids, subject))
                )
            ).mappings()
            messages = [SubjectRawMessage.model_validate(dict(r)) for r in raw.all()]
            objected = await self._has_objection(session, org_id, subject)
        log.info("subject.exported", org_id=str(org_id), leads=len(leads))
        return SubjectExport(
            exported_at=self._clock.now(),
            subject=subject,
            objected=objected,
            leads=leads,
            raw_messages=messages,
        )

    async def erase(self, subject: Subject, viewer: Identity) -> SubjectErased:
        """Anonymise every lead of the person and delete their original messages."""
        org_id = _organisation(viewer)
        async with self._db.transaction() as session:
            ids = await self._lead_ids(session, org_id, subject)
            keys = list(
                (
                    await session.execute(
                        delete(m.raw_messages)
                        .where(self._raw_where(org_id, ids, subject))
                        .returning(m.raw_messages.c.storage_key)
                    )
                ).scalars()
            )
            await self._anonymise(session, ids, actor=viewer.user_id)
        await self._delete_objects(keys)
        log.info("subject.erased", org_id=str(org_id), leads=len(ids), raw_messages=len(keys))
        return SubjectErased(leads=len(ids), raw_messages=len(keys))

    async def _anonymise(
        self, session: AsyncSession, lead_ids: list[uuid.UUID], *, actor: uuid.UUID | None
    ) -> None:
        if not lead_ids:
            return
        await session.execute(
            sql_update(m.leads)
            .where(m.leads.c.id.in_(lead_ids))
            .values(**ANONYMOUS, updated_at=self._clock.now())
        )
        # The timeline keeps what happened when (statistics) and the stages, not what was said.
        await session.execute(
            sql_update(m.activities).where(m.activities.c.lead_id.in_(lead_ids)).values(text="")
        )
        await session.execute(
            sql_update(m.activities)
            .where(m.activities.c.lead_id.in_(lead_ids), m.activities.c.kind.not_in(KEPT_DATA))
            .values(data={})
        )
        await session.execute(delete(m.lead_vectors).where(m.lead_vectors.c.lead_id.in_(lead_ids)))
        for lead_id in lead_ids:
            await self._book.stop_follow_ups(session, lead_id)
            await cancel_jobs(session, m.jobs, ACKNOWLEDGE, key=str(lead_id))
            row = (
                (await session.execute(select(m.leads).where(m.leads.c.id == lead_id)))
                .mappings()
                .one()
            )
            await self._book.record(session, row, "anonymised", actor=actor)
            await self._book.publish(session, self._book._updated(row))

    async def _delete_objects(self, keys: list[str]) -> None:
        for key in keys:
            await self._storage.delete(key)

    async def object(self, subject: Subject, viewer: Identity) -> SubjectObjected:
        """Record the objection for good and stop what is planned for the person's leads."""
        org_id = _organisation(viewer)
        now = self._clock.now()
        async with self._db.transaction() as session:
            for digest in self._digests(subject.email, subject.phone):
                await session.execute(
                    insert(objections)
                    .values(
                        org_id=org_id,
                        subject_digest=digest,
                        recorded_by=viewer.user_id,
                        created_at=now,
                    )
                    .on_conflict_do_nothing()
                )
            ids = await self._lead_ids(session, org_id, subject)
            for lead_id in ids:
                await self._book.stop_follow_ups(session, lead_id)
                await cancel_jobs(session, m.jobs, ACKNOWLEDGE, key=str(lead_id))
                row = (
                    (await session.execute(select(m.leads).where(m.leads.c.id == lead_id)))
                    .mappings()
                    .one()
                )
                await self._book.record(session, row, "contact_objected", actor=viewer.user_id)
        log.info("subject.objected", org_id=str(org_id), leads=len(ids))
        return SubjectObjected(leads=len(ids))

    # --- retention ------------------------------------------------------------------------------

    async def retention(self, viewer: Identity) -> RetentionView:
        org_id = _organisation(viewer)
        async with self._db.sessions() as session:
            row = (
                (await session.execute(select(retention).where(retention.c.org_id == org_id)))
                .mappings()
                .first()
            )
        own = Retention.model_validate(dict(row)) if row else Retention()
        return RetentionView(
            lost_lead_days=own.lost_lead_days or self._lost_after.days,
            raw_message_days=own.raw_message_days or self._raw_after.days,
            own=own,
        )

    async def set_retention(self, wanted: Retention, viewer: Identity) -> RetentionView:
        if viewer.role not in ("owner", "client"):
            raise Forbidden()
        values = {**wanted.model_dump(), "updated_at": self._clock.now()}
        async with self._db.transaction() as session:
            await session.execute(
                insert(retention)
                .values(org_id=viewer.org_id, **values)
                .on_conflict_do_update(index_elements=[retention.c.org_id], set_=values)
            )
        return await self.retention(viewer)

    def _due(self, column: Column[int], default: timedelta, now: datetime) -> ColumnElement[Any]:
        """The moment before which a row is due: now minus the organisation's window in days
        (or the default)."""
        days = func.coalesce(column, default.days)
        return literal(now, DateTime(timezone=True)) - func.make_interval(0, 0, 0, days)

    async def anonymise_lost(self, ctx: JobContext) -> int:
        """Periodic: LOST leads a year (by default) after they were lost are anonymised."""
        due = self._due(retention.c.lost_lead_days, self._lost_after, ctx.now)
        async with self._db.transaction() as session:
            ids = list(
                (
                    await session.scalars(
                        select(m.leads.c.id)
                        .outerjoin(retention, retention.c.org_id == m.leads.c.org_id)
                        .where(
                            m.leads.c.status == "LOST",
                            m.leads.c.status_changed_at <= due,
                            # Anonymised ones have neither; they are not done twice.
                            or_(
                                m.leads.c.email.is_not(None),
                                m.leads.c.phone.is_not(None),
                                m.leads.c.name != "",
                            ),
                        )
                        .limit(500)
                    )
                ).all()
            )
            keys = list(
                (
                    await session.execute(
                        delete(m.raw_messages)
                        .where(m.raw_messages.c.lead_id.in_(ids))
                        .returning(m.raw_messages.c.storage_key)
                    )
                ).scalars()
            )
            await self._anonymise(session, ids, actor=None)
        await self._delete_objects(keys)
        log.info("retention.lost_leads_anonymised", leads=len(ids), raw_messages=len(keys))
        return len(ids)

    async def purge_raw_messages(self, ctx: JobContext) -> int:
        """Periodic: original inbound messages go 30 days (by default) after they arrived; what
        was parsed from them stays on the lead."""
        due = self._due(retention.c.raw_message_days, self._raw_after, ctx.now)
        async with self._db.transaction() as session:
            keys = list(
                (
                    await session.execute(
                        delete(m.raw_messages)
                        .where(
                            # The organisation's window where it set one, the default else.
                            m.raw_messages.c.received_at
                            <= func.coalesce(
                                select(due)
                                .where(retention.c.org_id == m.raw_messages.c.org_id)
                                .scalar_subquery(),
                                literal(ctx.now - self._raw_after, DateTime(timezone=True)),
                            ),
                            # One still waiting to be parsed is kept: nothing accepted is lost.
                            m.raw_messages.c.status != "received",
                        )
                        .returning(m.raw_messages.c.storage_key)
                    )
                ).scalars()
            )
        await self._delete_objects(keys)
        log.info("retention.raw_messages_deleted", count=len(keys))
        return len(keys)
