"""`DriverStatement`: Core statements compiled once and run on the asyncpg connection itself.

The media worker's hot path uses it; these tests pin what it must keep from SQLAlchemy: the
same SQL and defaults, JSON parameters encoded, a missing parameter refused, transactions
that commit or roll back, and a connection that died under a statement leaving the pool.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from asyncpg import InterfaceError, PostgresConnectionError
from pix_runtime.db import Database, DriverStatement
from pix_runtime.outbox import driver_enqueue, outbox_table
from pix_stack.embedded import EmbeddedPostgres
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, func, select, text
from sqlalchemy.exc import InvalidRequestError

SCHEMA = "driver_statement_test"
metadata = MetaData(schema=SCHEMA)
outbox = outbox_table(metadata)
counters = Table(
    "counters",
    metadata,
    Column("name", String(20), primary_key=True),
    Column("value", Integer, nullable=False),
)
BUMP = DriverStatement(
    counters.update()
    .where(counters.c.name == bindparam("counter"))
    .values(value=counters.c.value + bindparam("by"))
    .returning(counters.c.name, counters.c.value)
)
ENQUEUE = driver_enqueue(outbox)


@pytest.fixture
async def db(postgres: EmbeddedPostgres) -> AsyncIterator[Database]:
    database = Database(postgres.url, schema=SCHEMA, application_name="driver-test", pool_size=1)
    async with database.engine.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        await conn.run_sync(metadata.create_all)
        await conn.execute(counters.insert().values(name="photos", value=0))
    yield database
    async with database.engine.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
    await database.dispose()


def outbox_row(topic: str) -> dict[str, object]:
    return {
        "event_id": uuid.uuid4(),
        "topic": topic,
        "key": b"k",
        "payload": b"{}",
        "headers": {"ce_type": topic, "correlation_id": "abc"},
    }


async def test_runs_the_core_statement_and_returns_its_row(db: Database) -> None:
    async with db.driver_connection() as driver:
        row = await BUMP.fetchrow(driver, counter="photos", by=2)
        assert (row["name"], row["value"]) == ("photos", 2)
        assert await BUMP.fetchrow(driver, counter="nothing", by=1) is None


async def test_json_parameters_and_server_defaults_as_through_sqlalchemy(db: Database) -> None:
    woken: list[str] = []
    db.on_commit(lambda: woken.append("relay"))
    async with db.driver_transaction(wake_after_commit=True) as driver:
        await ENQUEUE.execute(driver, **outbox_row("media.asset.uploaded.v1"))
    assert woken == ["relay"]
    async with db.sessions() as session:
        row = (await session.execute(select(outbox))).mappings().one()
    assert row["headers"] == {"ce_type": "media.asset.uploaded.v1", "correlation_id": "abc"}
    assert row["attempts"] == 0
    assert row["published_at"] is None
    assert row["created_at"] is not None


async def test_a_failed_transaction_rolls_back_and_wakes_nobody(db: Database) -> None:
    woken: list[str] = []
    db.on_commit(lambda: woken.append("relay"))
    with pytest.raises(RuntimeError):
        async with db.driver_transaction(wake_after_commit=True) as driver:
            await BUMP.fetchrow(driver, counter="photos", by=5)
            await ENQUEUE.execute(driver, **outbox_row("t"))
            raise RuntimeError("the caller changed its mind")
    assert woken == []
    async with db.sessions() as session:
        assert await session.scalar(select(counters.c.value)) == 0
        assert await session.scalar(select(func.count()).select_from(outbox)) == 0


async def test_a_missing_parameter_is_refused_before_the_database_sees_it(db: Database) -> None:
    async with db.driver_connection() as driver:
        with pytest.raises(InvalidRequestError, match="by"):
            await BUMP.fetchrow(driver, counter="photos")


async def test_a_connection_that_died_under_a_statement_leaves_the_pool(
    db: Database, postgres: EmbeddedPostgres
) -> None:
    async with db.driver_connection() as driver:
        pid = await driver.fetchval("SELECT pg_backend_pid()")
    killer = Database(postgres.url, schema="public", application_name="driver-killer")
    async with killer.engine.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await killer.dispose()
    await asyncio.sleep(0.05)
    # Handed back a moment ago, so not pinged: the statement meets the dead connection once …
    with pytest.raises((InterfaceError, PostgresConnectionError, ConnectionError)):
        async with db.driver_connection() as driver:
            await BUMP.fetchrow(driver, counter="photos", by=1)
    # … and the pool let it go: the next checkout is a live connection.
    async with db.driver_connection() as driver:
        assert await driver.fetchval("SELECT pg_backend_pid()") != pid
        assert (await BUMP.fetchrow(driver, counter="photos", by=1))["value"] == 1
