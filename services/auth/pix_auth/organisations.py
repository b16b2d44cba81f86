"""Deleting an organisation (GDPR Art. 17 for all of it): request, grace period, erasure.

The owner (or a platform admin) confirms with their own password. From then on the
organisation is locked: every session of its members ends and none of them can sign in until
the deletion is cancelled, so no identity of the organisation reaches any service and nothing
it holds can change. Only the cancellation works without a session (an owner's email and
password), and an admin can cancel too. When the grace period ends, a job (run_at = its end)
erases auth's own rows of the organisation and announces `OrganisationErasureDue` (ids only);
every service erases what it holds and answers with its `<service>.organisation.erased.v1`,
recorded here as the erasure's progress.

Kept apart from `service.py` (accounts and sessions, already past the house's ~400 lines).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

from pix_contracts import (
    ERASURE_REPORTS,
    OrganisationErased,
    OrganisationErasureDue,
    UserDeletedV2,
)
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.erasure import forget_mentions
from pix_runtime.errors import Conflict, Forbidden, Invalid, NotFound
from pix_runtime.identity import Identity
from pix_runtime.inbox import first_delivery
from pix_runtime.jobs import JobContext, cancel_jobs, enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue
from pix_runtime.personal_data import subject_digest
from pydantic import BaseModel
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_auth.hashing import PasswordHashing
from pix_auth.models import (
    dead_letters,
    erasure_reports,
    inbox,
    jobs,
    organisation_erasures,
    organisations,
    outbox,
    sessions,
    tokens,
    users,
)

log = get_logger(__name__)

SOURCE = "/pix/auth"
ERASURE_JOB = "auth.organisation-erasure"
REPORTS_CONSUMER = "auth.erasure-reports"
# Auth erases its own rows in the job; it is one of the services an erasure waits for.
SERVICES: tuple[str, ...] = ("auth", *ERASURE_REPORTS)
LIVE = ("pending", "erasing")

ErasureStatus = Literal["pending", "cancelled", "erasing", "done"]


class ErasureDue(BaseModel):
    erasure_id: uuid.UUID
    org_id: uuid.UUID


class ServiceReport(BaseModel):
    service: str
    rows: int
    objects: int
    reported_at: datetime


class ErasureView(BaseModel):
    """An organisation's erasure as its owner and admins see it."""

    id: uuid.UUID
    org_id: uuid.UUID
    status: ErasureStatus
    requested_by_role: str
    requested_at: datetime
    due_at: datetime
    cancelled_at: datetime | None
    erased_at: datetime | None
    completed_at: datetime | None
    reports: list[ServiceReport]
    waiting_for: list[str]


class OrganisationErasures:
    def __init__(
        self,
        db: Database,
        *,
        hashing: PasswordHashing,
        clock: Clock,
        grace: timedelta,
        subject_key: bytes,
    ) -> None:
        self._db = db
        self._subject_key = subject_key
        self._hashing = hashing
        self._clock = clock
        self._grace = grace

    async def _confirm_password(self, user_id: uuid.UUID, password: str) -> None:
        async with self._db.sessions() as session:
            stored = await session.scalar(
                select(users.c.password_hash).where(users.c.id == user_id)
            )
        if stored is None or not await self._hashing.verify(stored, password):
            raise Invalid("wrong_password", "the password is wrong", "password")

    @staticmethod
    def _may_erase(who: Identity, org_id: uuid.UUID) -> None:
        if who.is_admin:
            return
        if who.role != "owner" or who.org_id != org_id:
            raise Forbidden("only the organisation's owner or an administrator")

    async def request(self, who: Identity, org_id: uuid.UUID, password: str) -> ErasureView:
        """Lock the organisation and schedule its erasure at the end of the grace period."""
        self._may_erase(who, org_id)
        await self._confirm_password(who.user_id, password)
        now = self._clock.now()
        erasure_id = uuid.uuid4()
        async with self._db.transaction() as session:
            if not await session.scalar(
                select(organisations.c.id).where(organisations.c.id == org_id)
            ):
                raise NotFound("organisation")
            # Staff accounts live in an organisation too; erasing it would lock them out.
            if await session.scalar(
                select(users.c.id).where(users.c.org_id == org_id, users.c.role == "admin")
            ):
                raise Conflict("staff_organisation", "the platform's own organisation stays")
            created = await session.execute(
                insert(organisation_erasures)
                .values(
                    id=erasure_id,
                    org_id=org_id,
                    status="pending",
                    requested_by_role=who.role,
                    requested_at=now,
                    due_at=now + self._grace,
                )
                .on_conflict_do_nothing()
                .returning(organisation_erasures.c.id)
            )
            if created.first() is None:
                raise Conflict("erasure_pending", "the organisation's deletion is already pending")
            await session.execute(
                delete(sessions).where(
                    sessions.c.user_id.in_(select(users.c.id).where(users.c.org_id == org_id))
                )
            )
            await enqueue_job(
                session,
                jobs,
                ERASURE_JOB,
                ErasureDue(erasure_id=erasure_id, org_id=org_id),
                run_at=now + self._grace,
                key=str(erasure_id),
            )
        log.info("organisation.erasure_requested", org_id=str(org_id), erasure_id=str(erasure_id))
        return await self.status(org_id)

    async def cancel(self, org_id: uuid.UUID) -> ErasureView:
        async with self._db.transaction() as session:
            row = (
                await session.execute(
                    update(organisation_erasures)
                    .where(
                        organisation_erasures.c.org_id == org_id,
                        organisation_erasures.c.status == "pending",
                    )
                    .values(status="cancelled", cancelled_at=self._clock.now())
                    .returning(organisation_erasures.c.id)
                )
            ).first()
            if row is None:
                raise NotFound("erasure")
            await cancel_jobs(session, jobs, ERASURE_JOB, key_prefix=str(row.id))
        log.info("organisation.erasure_cancelled", org_id=str(org_id), erasure_id=str(row.id))
        return await self.status(org_id)

    async def cancel_as_admin(self, who: Identity, org_id: uuid.UUID) -> ErasureView:
        if not who.is_admin:
            raise Forbidden()
        return await self.cancel(org_id)

    async def cancel_with_password(self, email: str, password: str) -> ErasureView:
        """The owner cancels without a session (none can exist while locked)."""
        async with self._db.sessions() as session:
            user = (
                await session.execute(
                    select(users.c.id, users.c.org_id, users.c.role, users.c.password_hash).where(
                        func.lower(users.c.email) == email.strip().lower()
                    )
                )
            ).first()
        matches = await self._hashing.verify(user.password_hash if user else None, password)
        if user is None or not matches or user.role != "owner":
            raise Invalid("wrong_password", "email or password is wrong", "password")
        return await self.cancel(user.org_id)

    async def status(self, org_id: uuid.UUID) -> ErasureView:
        async with self._db.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(organisation_erasures)
                        .where(organisation_erasures.c.org_id == org_id)
                        .order_by(organisation_erasures.c.requested_at.desc())
                        .limit(1)
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound("erasure")
            reports = [
                ServiceReport.model_validate(r)
                for r in (
                    await session.execute(
                        select(erasure_reports)
                        .where(erasure_reports.c.erasure_id == row["id"])
                        .order_by(erasure_reports.c.reported_at)
                    )
                ).mappings()
            ]
        done = {r.service for r in reports}
        waiting = [s for s in SERVICES if s not in done] if row["status"] != "cancelled" else []
        return ErasureView(**row, reports=reports, waiting_for=waiting)

    async def recent(self, who: Identity, limit: int = 50) -> list[ErasureView]:
        """The latest erasures, newest first, for the admin page."""
        if not who.is_admin:
            raise Forbidden()
        async with self._db.sessions() as session:
            org_ids = (
                await session.execute(
                    select(organisation_erasures.c.org_id)
                    .group_by(organisation_erasures.c.org_id)
                    .order_by(func.max(organisation_erasures.c.requested_at).desc())
                    .limit(limit)
                )
            ).scalars()
        return [await self.status(org_id) for org_id in org_ids]

    async def status_as_admin(self, who: Identity, org_id: uuid.UUID) -> ErasureView:
        if not who.is_admin:
            raise Forbidden()
        return await self.status(org_id)

    async def erasure_due(self, job: ErasureDue, ctx: JobContext) -> None:
        """The grace period is over: erase auth's own rows and tell every service."""
        async with self._db.transaction() as session:
            status = await session.scalar(
                select(organisation_erasures.c.status)
                .where(organisation_erasures.c.id == job.erasure_id)
                .with_for_update()
            )
            if status != "pending":
                await ctx.finish(session)
                return
            members = select(users.c.id).where(users.c.org_id == job.org_id)
            accounts = (
                await session.execute(
                    select(users.c.id, users.c.email).where(users.c.org_id == job.org_id)
                )
            ).all()
            # Published events (a registration carries the address) and jobs (a reset mail)
            # that name the organisation or a member; before this job's own events.
            rows = await forget_mentions(
                session,
                outbox=outbox,
                jobs=jobs,
                dead_letters=dead_letters,
                ids={str(job.org_id), *(str(user_id) for user_id, _ in accounts)},
            )
            # Each member's account goes as if they deleted it: what services know of a person
            # without their organisation (an account's own mails) goes by these.
            for user_id, email in accounts:
                await enqueue(
                    session,
                    outbox,
                    UserDeletedV2(
                        user_id=user_id,
                        org_id=job.org_id,
                        email_digest=subject_digest(email, self._subject_key),
                    ),
                    source=SOURCE,
                )
            for statement in (
                delete(sessions).where(sessions.c.user_id.in_(members)),
                delete(tokens).where(tokens.c.user_id.in_(members)),
                delete(users).where(users.c.org_id == job.org_id),
                delete(organisations).where(organisations.c.id == job.org_id),
            ):
                rows += int(getattr(await session.execute(statement), "rowcount", 0) or 0)
            await session.execute(
                update(organisation_erasures)
                .where(organisation_erasures.c.id == job.erasure_id)
                .values(status="erasing", erased_at=ctx.now)
            )
            await self._record(session, job.erasure_id, "auth", rows, 0)
            await enqueue(
                session,
                outbox,
                OrganisationErasureDue(org_id=job.org_id, erasure_id=job.erasure_id),
                source=SOURCE,
            )
            await ctx.finish(session)
        log.info("organisation.erasure_due", org_id=str(job.org_id), rows=rows)

    async def service_erased(self, event: OrganisationErased, service: str) -> None:
        async with self._db.transaction() as session:
            if not await first_delivery(
                session, inbox, consumer=REPORTS_CONSUMER, event_id=event.event_id
            ):
                return
            await self._record(session, event.erasure_id, service, event.rows, event.objects)

    async def _record(
        self, session: AsyncSession, erasure_id: uuid.UUID, service: str, rows: int, objects: int
    ) -> None:
        now = self._clock.now()
        # Reports arrive at once on separate subscriptions: one at a time per erasure, so the
        # last one sees every other and completes it.
        await session.execute(
            select(organisation_erasures.c.id)
            .where(organisation_erasures.c.id == erasure_id)
            .with_for_update()
        )
        await session.execute(
            insert(erasure_reports)
            .values(
                erasure_id=erasure_id, service=service, rows=rows, objects=objects, reported_at=now
            )
            .on_conflict_do_nothing()
        )
        reported = set(
            (
                await session.execute(
                    select(erasure_reports.c.service).where(
                        erasure_reports.c.erasure_id == erasure_id
                    )
                )
            ).scalars()
        )
        if reported >= set(SERVICES):
            await session.execute(
                update(organisation_erasures)
                .where(
                    organisation_erasures.c.id == erasure_id,
                    organisation_erasures.c.status == "erasing",
                )
                .values(status="done", completed_at=now)
            )
            log.info("organisation.erasure_completed", erasure_id=str(erasure_id))


async def erasure_pending(db: Database, org_id: uuid.UUID) -> bool:
    """Whether the organisation is locked by a deletion in progress."""
    async with db.sessions() as session:
        found = await session.scalar(
            select(organisation_erasures.c.id).where(
                organisation_erasures.c.org_id == org_id,
                organisation_erasures.c.status.in_(LIVE),
            )
        )
    return found is not None
