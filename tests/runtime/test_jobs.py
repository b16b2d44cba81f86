"""The job layer against real PostgreSQL: transactional enqueue, keys, retries, leases, periodic
jobs once across replicas, the clock, and the admin board."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.jobs import (
    JobBoard,
    JobContext,
    JobQueue,
    PermanentJobError,
    PlannedJob,
    RetryPolicy,
    cancel_jobs,
    enqueue_job,
    enqueue_jobs,
    jobs_table,
)
from pix_stack.embedded import EmbeddedPostgres
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select, text


class Greeting(BaseModel):
    name: str


@pytest.fixture
async def schema(postgres: EmbeddedPostgres) -> AsyncIterator[tuple[Database, Table, Table]]:
    """A fresh schema per test with a jobs table and a table for the jobs' effects."""
    name = f"jobs_{uuid.uuid4().hex[:8]}"
    metadata = MetaData(schema=name)
    jobs = jobs_table(metadata)
    effects = Table(
        "effects",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("what", String(100), nullable=False),
    )
    db = Database(postgres.url, schema=name, application_name="test-jobs")
    async with db.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{name}"'))
        await conn.run_sync(metadata.create_all)
    yield db, jobs, effects
    async with db.engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    await db.dispose()


async def _effects(db: Database, effects: Table) -> list[str]:
    async with db.transaction() as session:
        return list((await session.scalars(select(effects.c.what).order_by(effects.c.id))).all())


async def _status(db: Database, jobs: Table) -> list[tuple[str, str, int]]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(jobs.c.kind, jobs.c.status, jobs.c.attempts).order_by(jobs.c.id)
        )
        return [(r.kind, r.status, r.attempts) for r in rows]


async def test_a_job_exists_only_if_its_transaction_commits(
    schema: tuple[Database, Table, Table],
) -> None:
    db, jobs, _ = schema
    queue = JobQueue(db, jobs)
    seen: list[str] = []

    async def greet(payload: Greeting, ctx: JobContext) -> None:
        seen.append(payload.name)

    queue.register("greet", Greeting, greet)
    async with db.transaction() as session:
        await enqueue_job(session, jobs, "greet", Greeting(name="committed"))
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await enqueue_job(session, jobs, "greet", Greeting(name="rolled back"))
            raise RuntimeError("the domain change failed")
    assert await queue.run_due() == 1
    assert seen == ["committed"]
    assert await _status(db, jobs) == [("greet", "done", 1)]


async def test_a_key_makes_a_live_job_unique_and_cancellable(
    schema: tuple[Database, Table, Table],
) -> None:
    db, jobs, _ = schema
    clock = Clock()
    queue = JobQueue(db, jobs, clock=clock)
    seen: list[str] = []

    async def greet(payload: Greeting, ctx: JobContext) -> None:
        seen.append(payload.name)

    queue.register("greet", Greeting, greet)
    later = clock.now() + timedelta(days=3)
    async with db.transaction() as session:
        assert await enqueue_job(
            session, jobs, "greet", Greeting(name="a"), key="lead-1:3", run_at=later
        )
        assert not await enqueue_job(
            session, jobs, "greet", Greeting(name="b"), key="lead-1:3", run_at=later
        )
        assert await enqueue_job(
            session, jobs, "greet", Greeting(name="c"), key="lead-1:7", run_at=later
        )
        assert await enqueue_job(
            session, jobs, "greet", Greeting(name="d"), key="lead-2:3", run_at=later
        )
    assert await queue.run_due() == 0  # not due yet
    async with db.transaction() as session:
        assert await cancel_jobs(session, jobs, "greet", key_prefix="lead-1:") == 2
    clock.advance(timedelta(days=3, seconds=1))
    assert await queue.run_due() == 1
    assert seen == ["d"]
    # Once finished, the key is free again.
    async with db.transaction() as session:
        assert await enqueue_job(session, jobs, "greet", Greeting(name="e"), key="lead-2:3")


async def test_failures_retry_with_backoff_then_fail_and_an_admin_retries(
    schema: tuple[Database, Table, Table],
) -> None:
    db, jobs, _ = schema
    clock = Clock()
    queue = JobQueue(db, jobs, clock=clock)
    calls: list[int] = []

    async def flaky(payload: Greeting, ctx: JobContext) -> None:
        calls.append(ctx.attempt)
        if len(calls) < 5:
            raise ValueError(f"provider said no ({ctx.attempt})")

    queue.register("flaky", Greeting, flaky, policy=RetryPolicy(max_attempts=3, base_seconds=60))
    async with db.transaction() as session:
        await enqueue_job(session, jobs, "flaky", Greeting(name="x"))
    assert await queue.run_due() == 1
    assert await queue.run_due() == 0  # waits out the backoff
    for _ in range(2):
        clock.advance(timedelta(minutes=5))
        assert await queue.run_due() == 1
    assert calls == [1, 2, 3]
    board = JobBoard(db, jobs)
    [failed] = await board.find(status="failed")
    assert failed.attempts == 3
    assert "provider said no (3)" in (failed.last_error or "")
    clock.advance(timedelta(days=1))
    assert await queue.run_due() == 0  # failed stays failed
    assert await board.retry(failed.id)
    assert not await board.retry(failed.id)  # only a failed job is retried
    assert await queue.run_due() == 1
    clock.advance(timedelta(minutes=5))
    assert await queue.run_due() == 1
    assert calls == [1, 2, 3, 1, 2]
    assert await _status(db, jobs) == [("flaky", "done", 2)]


class RateLimited(Exception):
    """A provider's refusal that says when to come back (HTTP 429 Retry-After)."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__(f"rate limited, retry after {retry_after}")
        self.retry_after = retry_after


async def test_a_retry_after_on_the_error_makes_the_next_attempt_wait_at_least_that_long(
    schema: tuple[Database, Table, Table],
) -> None:
    db, jobs, _ = schema
    clock = Clock()
    queue = JobQueue(db, jobs, clock=clock)
    calls: list[int] = []

    async def limited(payload: Greeting, ctx: JobContext) -> None:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            raise RateLimited(3600)  # far beyond the backoff's cap of 60 s
        if ctx.attempt == 2:
            raise RateLimited(None)  # no hint: the backoff alone

    policy = RetryPolicy(max_attempts=3, base_seconds=60, max_seconds=60)
    queue.register("limited", Greeting, limited, policy=policy)
    async with db.transaction() as session:
        await enqueue_job(session, jobs, "limited", Greeting(name="x"))
    failed_at = clock.now()
    assert await queue.run_due() == 1
    [job] = await JobBoard(db, jobs).find(kind="limited")
    assert job.run_at >= failed_at + timedelta(seconds=3600)
    clock.advance(timedelta(minutes=2))
    assert await queue.run_due() == 0  # the backoff alone would have run it by now
    clock.advance(timedelta(hours=1))
    assert await queue.run_due() == 1
    clock.advance(timedelta(seconds=61))
    assert await queue.run_due() == 1
    assert calls == [1, 2, 3]
    assert await _status(db, jobs) == [("limited", "done", 3)]


async def test_a_permanent_error_or_a_malformed_payload_fails_at_once(
    schema: tuple[Database, Table, Table],
) -> None:
    db, jobs, _ = schema
    queue = JobQueue(db, jobs)

    async def refuse(payload: Greeting, ctx: JobContext) -> None:
        raise PermanentJobError("the address does not exist")

    queue.register("refuse", Greeting, refuse)
    queue.register("greet", Greeting, refuse)
    async with db.transaction() as session:
        await enqueue_job(session, jobs, "refuse", Greeting(name="x"))
        await session.execute(
            jobs.insert().values(kind="greet", payload={"nom": 1}, run_at=func.now())
        )
    assert await queue.run_due() == 2
    failed = await JobBoard(db, jobs).find(status="failed")
    assert sorted(j.kind for j in failed) == ["greet", "refuse"]
    assert any("malformed payload" in (j.last_error or "") for j in failed)


async def test_finish_commits_the_effect_and_the_completion_together(
    schema: tuple[Database, Table, Table],
) -> None:
    db, jobs, effects = schema
    queue = JobQueue(db, jobs)

    async def write(payload: Greeting, ctx: JobContext) -> None:
        async with db.transaction() as session:
            await session.execute(effects.insert().values(what=payload.name))
            await ctx.finish(session)

    queue.register("write", Greeting, write)
    async with db.transaction() as session:
        await enqueue_job(session, jobs, "write", Greeting(name="once"))
    assert await queue.run_due() == 1
    assert await queue.run_due() == 0
    assert await _effects(db, effects) == ["once"]
    assert await _status(db, jobs) == [("write", "done", 1)]


async def test_a_job_whose_process_died_is_taken_over_after_its_lease(
    schema: tuple[Database, Table, Table],
) -> None:
    db, jobs, effects = schema
    clock = Clock()
    dead = JobQueue(db, jobs, clock=clock)
    alive = JobQueue(db, jobs, clock=clock)
    started = asyncio.Event()

    async def hang(payload: Greeting, ctx: JobContext) -> None:
        started.set()
        await asyncio.Event().wait()

    async def write(payload: Greeting, ctx: JobContext) -> None:
        async with db.transaction() as session:
            await session.execute(effects.insert().values(what=f"{payload.name}:{ctx.attempt}"))

    dead.register("write", Greeting, hang, timeout=timedelta(minutes=2))
    alive.register("write", Greeting, write, timeout=timedelta(minutes=2))
    async with db.transaction() as session:
        await enqueue_job(session, jobs, "write", Greeting(name="photo"))
    # The first process claims the job and "dies" (its task never finishes or reports).
    [row] = await dead._claim(1)
    crashed = asyncio.create_task(dead._execute(row))
    await started.wait()
    assert await alive.run_due() == 0  # leased
    clock.advance(timedelta(minutes=3))
    assert await alive.run_due() == 1
    crashed.cancel()
    assert await _effects(db, effects) == ["photo:2"]


async def test_a_periodic_job_runs_once_per_period_across_replicas(
    schema: tuple[Database, Table, Table],
) -> None:
    db, jobs, _ = schema
    clock = Clock()
    replicas = [JobQueue(db, jobs, clock=clock) for _ in range(3)]
    ran: list[int] = []
    for index, queue in enumerate(replicas):

        async def sweep(ctx: JobContext, index: int = index) -> None:
            ran.append(index)

        queue.every("sweep", timedelta(minutes=1), sweep)
        await queue._plant_periodic()
    async with db.transaction() as session:
        planted = await session.scalar(
            select(func.count()).select_from(jobs).where(jobs.c.kind == "sweep")
        )
    assert planted == 1
    for _ in range(3):
        clock.advance(timedelta(minutes=1, seconds=1))
        assert sum([await queue.run_due() for queue in replicas]) == 1
    assert len(ran) == 3


async def test_the_loop_runs_a_committed_job_at_once_and_sleeps_when_idle(
    schema: tuple[Database, Table, Table],
) -> None:
    db, jobs, _ = schema
    queue = JobQueue(db, jobs, idle_poll_seconds=3600)
    done = asyncio.Event()

    async def greet(payload: Greeting, ctx: JobContext) -> None:
        done.set()

    queue.register("greet", Greeting, greet)
    await queue.start()
    try:
        # The commit hook wakes the sleeping loop; without it the job would wait an hour.
        async with db.transaction() as session:
            await enqueue_job(session, jobs, "greet", Greeting(name="now"))
        await asyncio.wait_for(done.wait(), timeout=60)
    finally:
        await queue.stop()


async def test_stop_ends_the_loop_even_when_a_wake_arrives_with_the_cancel(
    schema: tuple[Database, Table, Table],
) -> None:
    """A wake and the stop's cancel in the same tick: on 3.11 `asyncio.wait_for` returns the
    wake's result and drops the cancel, and the loop outlived `stop()` (a hung shutdown)."""
    db, jobs, _ = schema
    queue = JobQueue(db, jobs, idle_poll_seconds=3600)
    await queue.start()
    for _ in range(3):
        # The loop is asleep once it has done its first claim and waits on the wake.
        while not queue._wake._waiters:  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)
        task = queue._task
        assert task is not None
        queue.wake()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=30)
        assert done, "the job loop went on after its cancel"
        assert task.cancelled()
        await queue.start()
    await queue.stop()


async def test_several_jobs_are_enqueued_in_one_statement_and_a_live_key_is_kept(
    schema: tuple[Database, Table, Table],
) -> None:
    db, jobs, _ = schema
    queue = JobQueue(db, jobs)
    seen: list[str] = []

    async def greet(payload: Greeting, ctx: JobContext) -> None:
        seen.append(payload.name)

    queue.register("greet", Greeting, greet)
    async with db.transaction() as session:
        await enqueue_job(session, jobs, "greet", Greeting(name="first"), key="a")
    async with db.transaction() as session:
        added = await enqueue_jobs(
            session,
            jobs,
            [
                PlannedJob("greet", Greeting(name="again"), key="a"),  # "a" is still queued
                PlannedJob("greet", Greeting(name="keyed"), key="b"),
                PlannedJob("greet", Greeting(name="plain")),
                PlannedJob(
                    "greet", Greeting(name="later"), run_at=queue.clock.now() + timedelta(days=1)
                ),
            ],
        )
        assert await enqueue_jobs(session, jobs, []) == 0
    assert added == 3
    assert await queue.run_due() == 3
    assert sorted(seen) == ["first", "keyed", "plain"]
    assert [s for k, s, _ in await _status(db, jobs)] == ["done", "done", "done", "queued"]
