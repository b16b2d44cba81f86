"""What agents do with leads: list, search, read, edit, move through statuses, erase.

Every query carries the organisation filter (`tenancy.org_scope`); another organisation's
lead is "not found", never "forbidden".
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from pix_contracts import LeadErased
from pix_runtime.clock import Clock
from pix_runtime.errors import Invalid, NotFound
from pix_runtime.identity import Identity
from pix_runtime.jobs import cancel_jobs
from sqlalchemy import (
    ColumnElement,
    RowMapping,
    delete,
    desc,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from pix_leads import models as m
from pix_leads.enrichment import normalise_email, normalise_phone
from pix_leads.parsers import Inquiry
from pix_leads.records import (
    OPEN_STATUSES,
    Activity,
    Lead,
    LeadChanges,
    LeadDetail,
    LeadFilter,
    LeadStats,
    LeadSummary,
    ManualLead,
    PlannedJob,
    SearchHit,
)
from pix_leads.service import ACKNOWLEDGE, EXPIRE, FOLLOW_UP, LeadBook
from pix_leads.tenancy import lead_scope

RANK_WINDOW = 500
# For this transaction only (a session's autobegun one).
CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")
_EMPTY: dict[str, Any] = {"name": "", "notes": "", "financing": "unknown", "time_frame": "unknown"}


class LeadDesk:
    def __init__(self, book: LeadBook, *, clock: Clock) -> None:
        self._book = book
        self._db = book.db
        self._clock = clock

    @staticmethod
    def _visible(viewer: Identity) -> ColumnElement[bool]:
        return lead_scope(viewer)

    async def _own(self, session: AsyncSession, lead_id: uuid.UUID, viewer: Identity) -> RowMapping:
        row = (
            (
                await session.execute(
                    select(m.leads)
                    .where(m.leads.c.id == lead_id, self._visible(viewer))
                    .with_for_update()
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("lead")
        return row

    async def change_status(
        self, lead_id: uuid.UUID, new: str, reason: str | None, viewer: Identity
    ) -> Lead:
        async with self._db.transaction() as session:
            lead = await self._own(session, lead_id, viewer)
            await self._book.set_status(session, lead, new, reason=reason, actor=viewer.user_id)
            row = await self._book.rescore(session, lead_id)
        return await self._lead(row)

    async def create_manual(self, form: ManualLead, viewer: Identity) -> Lead:
        inquiry = Inquiry(
            source="manual",
            name=form.name.strip(),
            email=form.email,
            phone=form.phone,
            message=form.message,
            locale=form.locale,
        )
        if form.email and not normalise_email(form.email):
            raise Invalid("invalid", "not an email address", "email")
        if form.phone and not normalise_phone(form.phone):
            raise Invalid("invalid", "not a phone number", "phone")
        async with self._db.transaction() as session:
            lead_id, _ = await self._book.add_inquiry(
                session,
                viewer.org_id,
                inquiry,
                raw_message_id=None,
                actor=viewer.user_id,
                listing_id=form.listing_id,
            )
            row = (
                (await session.execute(select(m.leads).where(m.leads.c.id == lead_id)))
                .mappings()
                .one()
            )
        return await self._lead(row)

    async def edit(self, lead_id: uuid.UUID, changes: LeadChanges, viewer: Identity) -> Lead:
        values: dict[str, Any] = {}
        given = changes.model_dump(exclude_unset=True)
        if "email" in given:
            email = normalise_email(changes.email) if changes.email else None
            if changes.email and email is None:
                raise Invalid("invalid", "not an email address", "email")
            values["email"] = email
        if "phone" in given:
            phone = normalise_phone(changes.phone) if changes.phone else None
            if changes.phone and phone is None:
                raise Invalid("invalid", "not a phone number", "phone")
            values["phone"] = phone
        for key in ("name", "notes", "financing", "time_frame", "budget_max_eur", "household"):
            if key in given:
                values[key] = given[key] if given[key] is not None else _EMPTY.get(key)
        if changes.assignee_id is not None:
            values["assignee_id"] = changes.assignee_id
        if changes.unassign:
            values["assignee_id"] = None
        async with self._db.transaction() as session:
            lead = await self._own(session, lead_id, viewer)
            if changes.listing_id is not None:
                listing = await session.execute(
                    select(m.listings).where(
                        m.listings.c.listing_id == changes.listing_id,
                        m.listings.c.org_id == lead["org_id"],
                    )
                )
                found = listing.mappings().first()
                if found is None:
                    raise NotFound("listing")
                values["listing_id"] = found["listing_id"]
                values["listing_title"] = found["title"]
            if values:
                values["updated_at"] = self._clock.now()
                await session.execute(
                    update(m.leads).where(m.leads.c.id == lead_id).values(**values)
                )
                changed = sorted(k for k in values if k not in ("updated_at", "notes"))
                if changed:
                    await self._book.record(
                        session, lead, "edited", data={"fields": changed}, actor=viewer.user_id
                    )
                if "assignee_id" in values:
                    await self._book.record(
                        session,
                        lead,
                        "assigned",
                        data={"assignee_id": str(values["assignee_id"] or "")},
                        actor=viewer.user_id,
                    )
            row = await self._book.rescore(session, lead_id)
            await self._book.publish(session, self._book._updated(row))
        return await self._lead(row)

    async def erase(self, lead_id: uuid.UUID, viewer: Identity) -> list[str]:
        """Forget the lead (GDPR Art. 17); returns the storage keys of its raw messages, which
        the caller deletes after the commit."""
        async with self._db.transaction() as session:
            lead = await self._own(session, lead_id, viewer)
            keys = list(
                (
                    await session.execute(
                        delete(m.raw_messages)
                        .where(m.raw_messages.c.lead_id == lead_id)
                        .returning(m.raw_messages.c.storage_key)
                    )
                ).scalars()
            )
            await self._book.stop_follow_ups(session, lead_id)
            await cancel_jobs(session, m.jobs, ACKNOWLEDGE, key=str(lead_id))
            await session.execute(
                delete(m.experiment_assignments).where(
                    m.experiment_assignments.c.lead_id == lead_id
                )
            )
            await session.execute(delete(m.leads).where(m.leads.c.id == lead_id))
            await self._book.publish(session, LeadErased(lead_id=lead_id, org_id=lead["org_id"]))
        return keys

    # --- reading -------------------------------------------------------------------------------

    async def _lead(self, row: RowMapping) -> Lead:
        async with self._db.sessions() as session:
            slug = await session.scalar(
                select(m.mailboxes.c.slug).where(m.mailboxes.c.org_id == row["org_id"])
            )
        return Lead.of(row, self._book.reply_address(slug or "inbox", row["reply_token"]))

    async def get(self, lead_id: uuid.UUID, viewer: Identity) -> LeadDetail:
        async with self._db.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(m.leads).where(m.leads.c.id == lead_id, self._visible(viewer))
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound("lead")
            timeline = await session.execute(
                select(m.activities)
                .where(m.activities.c.lead_id == lead_id)
                .order_by(m.activities.c.at, m.activities.c.id)
            )
            planned = await session.execute(
                select(m.jobs.c.kind, m.jobs.c.run_at, m.jobs.c.payload)
                .where(
                    m.jobs.c.status == "queued",
                    m.jobs.c.kind.in_([FOLLOW_UP, EXPIRE, ACKNOWLEDGE]),
                    or_(m.jobs.c.key == str(lead_id), m.jobs.c.key.startswith(f"{lead_id}:")),
                )
                .order_by(m.jobs.c.run_at)
            )
            plans = [
                PlannedJob(kind=kind, run_at=run_at, step=payload.get("step"))
                for kind, run_at, payload in planned.all()
            ]
            activities = [Activity.from_row(a) for a in timeline.mappings()]
        return LeadDetail(
            id=row["id"],
            name=row["name"],
            lead=await self._lead(row),
            timeline=activities,
            planned=plans,
        )

    async def raw_key(self, lead_id: uuid.UUID, raw_id: uuid.UUID, viewer: Identity) -> str:
        async with self._db.sessions() as session:
            key = await session.scalar(
                select(m.raw_messages.c.storage_key)
                .join(m.leads, m.leads.c.id == m.raw_messages.c.lead_id)
                .where(
                    m.raw_messages.c.id == raw_id,
                    m.raw_messages.c.lead_id == lead_id,
                    self._visible(viewer),
                )
            )
        if key is None:
            raise NotFound("message")
        return str(key)

    def _filtered(self, viewer: Identity, wanted: LeadFilter) -> Any:
        t = m.leads
        query = select(t).where(self._visible(viewer))
        if wanted.status:
            query = query.where(t.c.status == wanted.status)
        if wanted.source:
            query = query.where(t.c.source == wanted.source)
        if wanted.listing_id:
            query = query.where(t.c.listing_id == wanted.listing_id)
        if wanted.min_score is not None:
            query = query.where(t.c.score >= wanted.min_score)
        if wanted.max_score is not None:
            query = query.where(t.c.score <= wanted.max_score)
        if wanted.needs_review is not None:
            query = query.where(t.c.needs_review.is_(wanted.needs_review))
        if wanted.assignee == "me":
            query = query.where(t.c.assignee_id == viewer.user_id)
        elif wanted.assignee == "none":
            query = query.where(t.c.assignee_id.is_(None))
        elif wanted.assignee:
            try:
                query = query.where(t.c.assignee_id == uuid.UUID(wanted.assignee))
            except ValueError as exc:
                raise Invalid("invalid", "assignee is me, none or a user id", "assignee") from exc
        return query

    async def inbox(self, viewer: Identity, wanted: LeadFilter) -> list[LeadSummary]:
        if wanted.q:
            return [hit.lead for hit in await self.search(viewer, wanted)]
        query = (
            self._filtered(viewer, wanted)
            .order_by(desc(m.leads.c.created_at), desc(m.leads.c.id))
            .limit(wanted.limit)
            .offset(wanted.offset)
        )
        async with self._db.sessions() as session:
            rows = await session.execute(query)
            return [LeadSummary.from_row(r) for r in rows.mappings()]

    async def search(self, viewer: Identity, wanted: LeadFilter) -> list[SearchHit]:
        """German full-text search (weighted: name and contact A, notes and listing B, the
        conversation C); prefix matching on the last word, so the box finds as one types."""
        words = [
            w
            for w in "".join(
                c if c.isalnum() or c in "@.+-" else " " for c in (wanted.q or "")
            ).split()
            if w
        ]
        if not words:
            return []
        terms = [func.plainto_tsquery("german", w) for w in words[:-1]]
        last = words[-1].replace("'", "")
        prefix = func.to_tsquery("simple", f"'{last}':*")
        query_ts = func.plainto_tsquery("german", last).op("||")(prefix)
        for term in terms:
            query_ts = term.op("&&")(query_ts)
        # Ranking costs per matching row: a common word can match most of an organisation's
        # leads, so only the newest RANK_WINDOW matches are ranked (an agent looks for recent
        # inquiries); a rare word or a name is found wherever it is.
        matches = (
            self._filtered(viewer, wanted)
            .where(m.leads.c.search.op("@@")(query_ts))
            .order_by(desc(m.leads.c.created_at))
            .limit(RANK_WINDOW)
            .subquery()
        )
        rank = func.ts_rank_cd(matches.c.search, query_ts).label("rank")
        query = (
            select(matches, rank)
            .order_by(desc(rank), desc(matches.c.created_at))
            .limit(wanted.limit)
            .offset(wanted.offset)
        )
        async with self._db.sessions() as session:
            # A plan for these words, not a generic one: after five runs of the prepared
            # statement PostgreSQL may settle on a plan made without the words, which walks
            # every lead of the organisation newest first; fine for a common word, 300 ms for
            # a name among 100,000 leads.
            await session.execute(CUSTOM_PLANS)
            rows = await session.execute(query)
            return [
                SearchHit(lead=LeadSummary.from_row(r), rank=float(r["rank"]))
                for r in rows.mappings()
            ]

    async def stats(self, viewer: Identity) -> LeadStats:
        t = m.leads
        week_ago = self._clock.now() - timedelta(days=7)
        async with self._db.sessions() as session:
            row = (
                await session.execute(
                    select(
                        func.count().filter(t.c.status == "NEW"),
                        func.count().filter(t.c.status.in_(OPEN_STATUSES)),
                        func.count().filter(t.c.needs_review.is_(True)),
                        func.count(),
                        func.count().filter(t.c.created_at >= week_ago),
                    ).where(self._visible(viewer))
                )
            ).one()
        return LeadStats(
            new=row[0], open=row[1], needs_review=row[2], total=row[3], received_this_week=row[4]
        )
