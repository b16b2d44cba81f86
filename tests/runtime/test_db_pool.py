"""The database pool pings only connections that sat idle.

A caption checks out a connection three times (the first read, the store, the outbox relay),
a photo twice; pinging every checkout cost three more round trips each. These tests kill the
pooled connection's server process for real and watch what the next checkout does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pix_runtime.db import Database
from pix_stack.embedded import EmbeddedPostgres
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

IDLE = 0.3


@pytest.fixture
async def db(postgres: EmbeddedPostgres) -> AsyncIterator[Database]:
    database = Database(
        postgres.url,
        schema="public",
        application_name="pool-test",
        pool_size=1,
        ping_after_idle=IDLE,
    )
    yield database
    await database.dispose()


async def backend_pid(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int(await conn.scalar(text("SELECT pg_backend_pid()")) or 0)


async def kill(postgres: EmbeddedPostgres, pid: int) -> None:
    other = Database(postgres.url, schema="public", application_name="pool-killer")
    try:
        async with other.engine.connect() as conn:
            assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await other.dispose()
    await asyncio.sleep(0.05)  # let the server close the socket


async def test_an_idle_dead_connection_is_replaced_on_checkout(
    db: Database, postgres: EmbeddedPostgres
) -> None:
    pid = await backend_pid(db)
    assert await backend_pid(db) == pid  # one pooled connection, reused
    await kill(postgres, pid)
    await asyncio.sleep(IDLE)
    # Idle long enough to be pinged: the ping fails, the pool connects anew, nothing surfaces.
    assert await backend_pid(db) not in (0, pid)


async def test_a_just_used_connection_is_not_pinged_and_a_dead_one_fails_once(
    db: Database, postgres: EmbeddedPostgres
) -> None:
    pid = await backend_pid(db)
    await kill(postgres, pid)
    # Handed back a moment ago, so not pinged: the statement meets the dead connection...
    with pytest.raises(DBAPIError) as failure:
        await backend_pid(db)
    assert failure.value.connection_invalidated
    # ...and SQLAlchemy dropped it, so the very next checkout works.
    assert await backend_pid(db) not in (0, pid)


async def test_connections_opened_in_a_burst_are_kept_for_the_next(
    postgres: EmbeddedPostgres,
) -> None:
    """Twice `pool_size` at once, and the same backends serve the next burst: none is closed
    on its way back to the pool (each new one costs PostgreSQL a fork and a login)."""
    db = Database(postgres.url, schema="public", application_name="pool-burst", pool_size=2)

    async def burst() -> set[int]:
        pids: set[int] = set()
        release = asyncio.Event()

        async def hold() -> None:
            async with db.engine.connect() as conn:
                pids.add(int(await conn.scalar(text("SELECT pg_backend_pid()")) or 0))
                await release.wait()

        holders = [asyncio.create_task(hold()) for _ in range(4)]
        async with asyncio.timeout(30):
            while len(pids) < 4:
                await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(*holders)
        return pids

    try:
        first = await burst()
        assert await burst() == first
    finally:
        await db.dispose()
