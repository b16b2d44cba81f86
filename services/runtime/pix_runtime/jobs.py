"""Jobs: the one way a service does work in the background, durably, in its own schema.

Asynchronous work is three things on this platform: events between services (the outbox and
the inbox), jobs inside a service (this module), and periodic jobs (this module too, run once
across all replicas). A job is a row in the service's `jobs` table:

- `enqueue_job` adds it inside the caller's transaction, so the job exists exactly when the
  domain change that asked for it committed; `run_at` schedules it (a follow-up in three days,
  a webhook retry in an hour). A `key` makes it unique while it is alive: enqueueing the same
  (kind, key) again is a no-op, and `cancel_jobs` finds it again.
- A `JobQueue` claims due rows (`FOR UPDATE SKIP LOCKED`, so replicas never take the same row)
  with a lease; a process that dies mid-job leaves the lease to run out and another takes the
  job over. Each kind has one `RetryPolicy` (exponential backoff with full jitter; an exception
  with a `retry_after` in seconds, a provider's Retry-After, makes the next attempt wait at
  least that long); after the last attempt the job is `failed` with its error, listed for
  admins and retryable.
- A handler that writes to the database can call `ctx.finish(session)` in its own
  transaction: its effect and the job's completion then commit together, so a crash between
  the two cannot run it twice.
- Periodic jobs are rows too (key `periodic`), re-queued after each run for the next due time,
  so however many replicas run, each period runs once.

The queue sleeps until the next due job (or a commit in this process that enqueued one, or at
most `idle_poll_seconds` for jobs enqueued by other replicas): an idle service does no work.

Decision: `procrastinate` and `pgqueuer` were evaluated. Both bring their own connection layer
(psycopg 3, or an asyncpg driver of their own), so a job cannot be enqueued in the same
SQLAlchemy transaction as the domain change without a second connection, which is the whole
point of a transactional job; both also keep their tables in one schema of their own, where
this platform gives every service its own. What we need is the claim, a lease, one retry
formula, periodic rows and an admin view: this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import secrets
import socket
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from prometheus_client import Gauge
from pydantic import BaseModel, ValidationError
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.logging import bind_correlation_id, current_correlation_id, get_logger
from pix_runtime.outages import is_outage

log = get_logger(__name__)

P = TypeVar("P", bound=BaseModel)

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
LIVE = ("queued", "running")
PERIODIC_KEY = "periodic"
# Set in `session.info` by a transaction that enqueued a job: its commit wakes this process's
# queue (and only such a commit: an event in the outbox is no news for the queue).
JOBS_AFTER_COMMIT = "pix_jobs_after_commit"
ERROR_CHARS = 2000

# The partial unique index's predicate, literal: ON CONFLICT infers the index only from the same
# text, not from bound parameters.
_LIVE_KEY = text("key IS NOT NULL AND status IN ('queued', 'running')")

JOBS = Gauge("pix_jobs", "Jobs by kind and status", ["kind", "status"])
JOBS_OLDEST_DUE = Gauge(
    "pix_jobs_oldest_due_seconds", "How long the oldest due queued job has waited", ["kind"]
)


def jobs_table(metadata: MetaData) -> Table:
    table = Table(
        "jobs",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("kind", String(100), nullable=False),
        Column("key", String(300), nullable=True),
        Column("payload", JSONB, nullable=False),
        Column("status", String(20), nullable=False, server_default="queued"),
        Column("run_at", DateTime(timezone=True), nullable=False),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("locked_by", String(200), nullable=True),
        Column("locked_until", DateTime(timezone=True), nullable=True),
        Column("last_error", Text, nullable=True),
        # For periodic jobs: seconds between runs.
        Column("every_seconds", Float, nullable=True),
        Column("correlation_id", String(64), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("finished_at", DateTime(timezone=True), nullable=True),
    )
    # The claim's query: live rows by due time.
    Index(
        f"{table.name}_due",
        table.c.run_at,
        postgresql_where=table.c.status.in_(LIVE),
    )
    # One live job per (kind, key): enqueueing it twice is a no-op.
    Index(
        f"{table.name}_live_key",
        table.c.kind,
        table.c.key,
        unique=True,
        postgresql_where=_LIVE_KEY,
    )
    Index(f"{table.name}_status", table.c.status, table.c.kind)
    return table


class PermanentJobError(Exception):
    """The job cannot succeed however often it is tried (bad payload, a refusal): fail it now."""


@dataclass(frozen=True)
class RetryPolicy:
    """The platform's one backoff formula: exponential with full jitter, capped."""

    max_attempts: int = 5
    base_seconds: float = 10.0
    max_seconds: float = 3600.0

    def delay(self, attempt: int, *, at_least: float = 0.0) -> float:
        """Seconds to wait after the `attempt`-th failure (1-based); at least `at_least`
        (a provider's Retry-After)."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(attempt - 1, 0))
        return max(random.uniform(ceiling / 2, ceiling), at_least)


async def enqueue_job(
    session: AsyncSession,
    table: Table,
    kind: str,
    payload: BaseModel,
    *,
    run_at: datetime | None = None,
    key: str | None = None,
) -> bool:
    """Add a job in the caller's transaction; False if a live job with that key exists."""
    planned = PlannedJob(kind=kind, payload=payload, run_at=run_at, key=key)
    return await enqueue_jobs(session, table, [planned]) == 1


@dataclass(frozen=True)
class PlannedJob:
    """One job of several enqueued together (`enqueue_jobs`)."""

    kind: str
    payload: BaseModel
    run_at: datetime | None = None
    key: str | None = None
    # The request it belongs to, when several requests' jobs are enqueued together (the
    # current one otherwise).
    correlation_id: str | None = None


async def enqueue_jobs(session: AsyncSession, table: Table, jobs: list[PlannedJob]) -> int:
    """`enqueue_job` for several jobs in one statement; returns how many were added (a live
    job with the same key is kept instead)."""
    if not jobs:
        return 0
    current = current_correlation_id()
    result = await session.execute(
        _enqueue_many_statement(table),
        {
            "kinds": [job.kind for job in jobs],
            "keys": [job.key for job in jobs],
            "payloads": [job.payload.model_dump_json() for job in jobs],
            "run_ats": [job.run_at for job in jobs],
            "correlation_ids": [job.correlation_id or current for job in jobs],
        },
    )
    session.info[JOBS_AFTER_COMMIT] = True
    return len(result.all())


@functools.cache
def _enqueue_many_statement(table: Table) -> Any:
    """The jobs as arrays, one row each from `unnest`: one statement whatever their number
    (an executemany with RETURNING cost more than the separate inserts). Built once per table:
    a statement built per call with `.values(...)` cost more CPU in SQLAlchemy's cache key
    than the insert itself. A key that is NULL never conflicts, so keyed and unkeyed jobs
    share it."""
    rows = (
        func.unnest(
            bindparam("kinds", type_=ARRAY(String)),
            bindparam("keys", type_=ARRAY(String)),
            bindparam("payloads", type_=ARRAY(Text)),
            bindparam("run_ats", type_=ARRAY(DateTime(timezone=True))),
            bindparam("correlation_ids", type_=ARRAY(String)),
        )
        .table_valued(
            column("kind", String),
            column("key", String),
            column("payload", Text),
            column("run_at", DateTime(timezone=True)),
            column("correlation_id", String),
        )
        .render_derived(name="planned")
    )
    return (
        insert(table)
        .from_select(
            ["kind", "key", "payload", "run_at", "correlation_id"],
            select(
                rows.c.kind,
                rows.c.key,
                cast(rows.c.payload, JSONB),
                func.coalesce(rows.c.run_at, func.now()),
                rows.c.correlation_id,
            ),
        )
        .on_conflict_do_nothing(index_elements=[table.c.kind, table.c.key], index_where=_LIVE_KEY)
        .returning(table.c.id)
    )


async def cancel_jobs(
    session: AsyncSession, table: Table, kind: str, *, key: str | None = None, key_prefix: str = ""
) -> int:
    """Cancel queued jobs of `kind` (with that key, or keys starting with `key_prefix`); a
    running one finishes. Returns how many were cancelled."""
    condition = table.c.key == key if key is not None else table.c.key.startswith(key_prefix)
    result = await session.execute(
        update(table)
        .where(table.c.kind == kind, table.c.status == "queued", condition)
        .values(status="cancelled", finished_at=func.now())
        .returning(table.c.id)
    )
    return len(result.all())


@dataclass
class JobContext:
    job_id: int
    kind: str
    attempt: int
    now: datetime
    key: str | None
    _finish: Callable[[AsyncSession], Awaitable[None]]
    finished: bool = False

    async def finish(self, session: AsyncSession) -> None:
        """Complete the job inside `session`'s transaction (effect and completion together)."""
        await self._finish(session)
        self.finished = True


@dataclass(frozen=True)
class _Kind(Generic[P]):
    payload_type: type[P] | None
    handler: Callable[..., Awaitable[object]]
    policy: RetryPolicy
    timeout: timedelta
    every: timedelta | None = None


class JobView(BaseModel):
    """A job as admins see it."""

    id: int
    kind: str
    key: str | None
    status: str
    attempts: int
    run_at: datetime
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    payload: dict[str, Any]


class JobCounts(BaseModel):
    kind: str
    status: str
    count: int
    oldest_run_at: datetime | None


@dataclass
class JobQueue:
    db: Database
    table: Table
    clock: Clock = field(default_factory=Clock)
    concurrency: int = 4
    # Other replicas' commits cannot wake this process; it looks at least this often.
    idle_poll_seconds: float = 30.0
    keep_finished: timedelta = timedelta(days=7)
    # Unique per queue, also for several queues in one process (tests).
    worker: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    )
    _kinds: dict[str, _Kind[Any]] = field(default_factory=dict)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _running: set[asyncio.Task[None]] = field(default_factory=set)
    _metrics_at: float = 0.0
    # Claims and the look for the next due time are single statements: no BEGIN/COMMIT.
    _statements: AsyncEngine = field(init=False)
    _claim_sql: Any = None
    _done: Any = None
    _requeued: Any = None
    _claim_for: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._statements = self.db.engine.execution_options(isolation_level="AUTOCOMMIT")
        # A job's completion, only while this process holds it (built once: every job runs it).
        t = self.table
        held = update(t).where(
            t.c.id == bindparam("job_id"),
            t.c.status == "running",
            t.c.locked_by == bindparam("worker"),
        )
        self._done = held.values(status="done", finished_at=func.now(), locked_until=None)
        self._requeued = held.values(
            status="queued",
            attempts=0,
            run_at=bindparam("run_at"),
            locked_by=None,
            locked_until=None,
        )
        self.db.on_commit(self.wake, flag=JOBS_AFTER_COMMIT)
        self.every("jobs.cleanup", timedelta(hours=1), self._cleanup)

    # --- registration -------------------------------------------------------------------------

    def register(
        self,
        kind: str,
        payload_type: type[P],
        handler: Callable[[P, JobContext], Awaitable[None]],
        *,
        policy: RetryPolicy | None = None,
        timeout: timedelta = timedelta(minutes=5),
    ) -> None:
        self._kinds[kind] = _Kind(payload_type, handler, policy or RetryPolicy(), timeout)

    def every(
        self,
        kind: str,
        interval: timedelta,
        handler: Callable[[JobContext], Awaitable[object]],
        *,
        timeout: timedelta | None = None,
    ) -> None:
        """Run `handler` every `interval`, once across all replicas."""
        self._kinds[kind] = _Kind(
            None,
            handler,
            RetryPolicy(max_attempts=1),
            timeout or max(interval, timedelta(minutes=1)),
            every=interval,
        )

    @property
    def kinds(self) -> list[str]:
        return list(self._kinds)

    # --- running ------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        """Whether this process runs the loop (`PIX_RUN_JOBS`)."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        await self._plant_periodic()
        self._task = asyncio.create_task(self._loop(), name="job-queue")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        # Hand back what this process held, so another takes it now rather than after the
        # lease (a crash leaves the lease to run out instead).
        t = self.table
        try:
            async with self.db.transaction() as session:
                await session.execute(
                    update(t)
                    .where(t.c.locked_by == self.worker, t.c.status == "running")
                    .values(
                        status="queued",
                        attempts=t.c.attempts - 1,
                        locked_by=None,
                        locked_until=None,
                    )
                )
        except Exception:
            log.warning("jobs.release_failed", exc_info=True)

    async def _plant_periodic(self) -> None:
        t = self.table
        async with self.db.transaction() as session:
            for kind, spec in self._kinds.items():
                if spec.every is None:
                    continue
                await session.execute(
                    insert(t)
                    .values(
                        kind=kind,
                        key=PERIODIC_KEY,
                        payload={},
                        run_at=self.clock.now() + spec.every,
                        every_seconds=spec.every.total_seconds(),
                    )
                    .on_conflict_do_nothing(
                        index_elements=[t.c.kind, t.c.key],
                        index_where=_LIVE_KEY,
                    )
                )

    async def _loop(self) -> None:
        while True:
            try:
                self._wake.clear()
                free = self.concurrency - len(self._running)
                claimed = await self._claim(free) if free > 0 else []
                for row in claimed:
                    task = asyncio.create_task(self._execute(row))
                    self._running.add(task)
                    task.add_done_callback(self._finished)
                await self._update_metrics()
                if len(self._running) >= self.concurrency:
                    # Every slot busy: the next one to finish wakes the loop (no statement).
                    wait = self.idle_poll_seconds
                elif claimed and len(claimed) == free:
                    continue
                else:
                    wait = await self._seconds_until_due()
            except Exception as exc:
                # Database away: the rows stay; try again shortly (an outage is one line, not
                # a traceback every two seconds).
                if is_outage(exc):
                    log.warning("jobs.database_unavailable", error=repr(exc)[:200])
                else:
                    log.warning("jobs.loop_failed", exc_info=True)
                wait = 2.0
            # Not `wait_for`: on 3.11 it swallows a cancel that arrives as the wake fires, and
            # the loop outlives `stop()` (seen as a hung shutdown under load).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()

    async def run_due(self) -> int:
        """Run every job due now, one after another, and return how many ran (for tests and
        for the CLI; the service's own loop does this concurrently)."""
        ran = 0
        while rows := await self._claim(1):
            await self._execute(rows[0])
            ran += 1
        return ran

    def _claim_statement(self) -> Any:
        """The claim, built once for the kinds registered (building it per claim cost more CPU
        than running it); `now`, `limit` and each kind's lease are its parameters."""
        kinds = list(self._kinds)
        if self._claim_for != kinds:
            t = self.table
            now = bindparam("now", type_=t.c.run_at.type)
            due = (
                select(t.c.id)
                .where(
                    t.c.kind.in_(kinds),
                    or_(
                        and_(t.c.status == "queued", t.c.run_at <= now),
                        # A lease that ran out: its process died mid-job.
                        and_(t.c.status == "running", t.c.locked_until < now),
                    ),
                )
                .order_by(t.c.run_at)
                .limit(bindparam("limit", type_=Integer))
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            # The lease: each kind's timeout; a job still running after it is taken over.
            leases = {
                kind: bindparam(f"lease_{i}", type_=t.c.run_at.type) for i, kind in enumerate(kinds)
            }
            lease = case(leases, value=t.c.kind)
            self._claim_sql = (
                update(t)
                .where(t.c.id.in_(due))
                .values(
                    status="running",
                    attempts=t.c.attempts + 1,
                    locked_by=bindparam("worker", type_=t.c.locked_by.type),
                    locked_until=lease,
                )
                .returning(*t.c)
            )
            self._claim_for = kinds
        return self._claim_sql

    async def _claim(self, limit: int) -> list[Any]:
        statement = self._claim_statement()
        now = self.clock.now()
        params: dict[str, Any] = {"now": now, "limit": limit, "worker": self.worker}
        for i, spec in enumerate(self._kinds.values()):
            params[f"lease_{i}"] = now + spec.timeout
        # One statement is atomic on its own: no BEGIN/COMMIT round trips for the claim every
        # job and every wake-up runs.
        async with self._statements.connect() as conn:
            rows = (await conn.execute(statement, params)).all()
        return list(rows)

    async def _seconds_until_due(self) -> float:
        t = self.table
        async with self._statements.connect() as conn:
            next_at = await conn.scalar(
                select(func.min(func.coalesce(t.c.locked_until, t.c.run_at))).where(
                    t.c.kind.in_(list(self._kinds)), t.c.status.in_(LIVE)
                )
            )
        if next_at is None:
            return self.idle_poll_seconds
        seconds: float = (next_at - self.clock.now()).total_seconds()
        return min(max(seconds, 0.0) + 0.01, self.idle_poll_seconds)

    async def _execute(self, row: Any) -> None:
        spec = self._kinds[row.kind]
        now = self.clock.now()
        if row.correlation_id:
            bind_correlation_id(row.correlation_id)
        ctx = JobContext(
            job_id=row.id,
            kind=row.kind,
            attempt=row.attempts,
            now=now,
            key=row.key,
            _finish=lambda session: self._complete(session, row),
        )
        started = time.perf_counter()
        try:
            if spec.payload_type is None:
                call = spec.handler(ctx)
            else:
                try:
                    payload = spec.payload_type.model_validate(row.payload)
                except ValidationError as exc:
                    raise PermanentJobError(f"malformed payload: {exc}") from exc
                call = spec.handler(payload, ctx)
            await asyncio.wait_for(call, timeout=spec.timeout.total_seconds())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._failed(row, spec, exc)
            return
        if not ctx.finished:
            async with self.db.transaction() as session:
                await self._complete(session, row)
        # Periodic runs are routine; one-off jobs are worth a line each.
        (log.debug if row.every_seconds is not None else log.info)(
            "job.done",
            kind=row.kind,
            job_id=row.id,
            attempt=row.attempts,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )

    async def _complete(self, session: AsyncSession, row: Any) -> None:
        mine = {"job_id": row.id, "worker": self.worker}
        if row.every_seconds is None:
            await session.execute(self._done, mine)
            return
        run_at = self.clock.now() + timedelta(seconds=row.every_seconds)
        await session.execute(self._requeued, {**mine, "run_at": run_at})

    async def _failed(self, row: Any, spec: _Kind[Any], exc: Exception) -> None:

        t = self.table
        error = "".join(traceback.format_exception_only(exc)).strip()[:ERROR_CHARS]
        attempts = row.attempts
        outage = is_outage(exc)
        if outage:
            # Our own infrastructure was away: not the job's fault, the attempt does not count.
            attempts -= 1
        if row.every_seconds is not None:
            values: dict[str, Any] = {
                "status": "queued",
                "attempts": 0,
                "run_at": self.clock.now() + timedelta(seconds=row.every_seconds),
                "last_error": error,
            }
            log.warning("job.periodic_failed", kind=row.kind, error=error)
        elif not outage and (
            isinstance(exc, PermanentJobError) or attempts >= spec.policy.max_attempts
        ):
            values = {"status": "failed", "finished_at": func.now(), "last_error": error}
            log.error("job.failed", kind=row.kind, job_id=row.id, attempts=attempts, error=error)
        else:
            delay = spec.policy.delay(max(attempts, 1), at_least=_retry_after(exc))
            values = {
                "status": "queued",
                "attempts": attempts,
                "run_at": self.clock.now() + timedelta(seconds=delay),
                "last_error": error,
            }
            log.warning(
                "job.retry", kind=row.kind, job_id=row.id, attempt=attempts, delay=round(delay, 1)
            )
        mine = and_(t.c.id == row.id, t.c.status == "running", t.c.locked_by == self.worker)
        try:
            async with self.db.transaction() as session:
                await session.execute(
                    update(t).where(mine).values(locked_by=None, locked_until=None, **values)
                )
        except Exception:
            # The lease runs out and the job is taken over: nothing is lost.
            log.warning("jobs.mark_failed", kind=row.kind, job_id=row.id, exc_info=True)

    async def _cleanup(self, ctx: JobContext) -> None:
        t = self.table
        cutoff = self.clock.now() - self.keep_finished
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(t)
                .where(t.c.status.in_(("done", "cancelled")), t.c.finished_at < cutoff)
                .returning(t.c.id)
            )
            removed = len(result.all())
        if removed:
            log.info("jobs.cleaned", removed=removed)

    async def _update_metrics(self) -> None:
        if time.monotonic() - self._metrics_at < 15.0:
            return
        self._metrics_at = time.monotonic()
        now = self.clock.now()
        for counts in await JobBoard(self.db, self.table).counts():
            JOBS.labels(counts.kind, counts.status).set(counts.count)
            if counts.status == "queued" and counts.oldest_run_at is not None:
                waited = max((now - counts.oldest_run_at).total_seconds(), 0.0)
                JOBS_OLDEST_DUE.labels(counts.kind).set(waited)


def _retry_after(exc: Exception) -> float:
    """Seconds a failure asked to wait before the next attempt: an exception's `retry_after`
    (a provider's 429 Retry-After), if it has one."""
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, int | float) and value > 0 else 0.0


@dataclass(frozen=True)
class JobBoard:
    """What admins see and do: jobs by status, counts, retry a failed one (API and CLI)."""

    db: Database
    table: Table

    async def find(
        self, *, status: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[JobView]:
        t = self.table
        query = select(t).order_by(t.c.id.desc()).limit(limit)
        if status:
            query = query.where(t.c.status == status)
        if kind:
            query = query.where(t.c.kind == kind)
        async with self.db.transaction() as session:
            rows = (await session.execute(query)).mappings().all()
        return [JobView.model_validate(dict(row)) for row in rows]

    async def counts(self) -> list[JobCounts]:
        t = self.table
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(
                        t.c.kind,
                        t.c.status,
                        func.count().label("count"),
                        func.min(t.c.run_at).label("oldest_run_at"),
                    )
                    .where(t.c.status.in_(("queued", "running", "failed")))
                    .group_by(t.c.kind, t.c.status)
                )
            ).all()
        return [
            JobCounts(kind=r.kind, status=r.status, count=r.count, oldest_run_at=r.oldest_run_at)
            for r in rows
        ]

    async def retry(self, job_id: int) -> bool:
        """Queue a failed job again, now, with fresh attempts; False if it is not failed."""
        t = self.table
        async with self.db.transaction() as session:
            result = await session.execute(
                update(t)
                .where(t.c.id == job_id, t.c.status == "failed")
                .values(status="queued", attempts=0, run_at=func.now(), finished_at=None)
                .returning(t.c.id)
            )
            retried = result.first() is not None
            if retried:
                session.info[JOBS_AFTER_COMMIT] = True
        return retried
