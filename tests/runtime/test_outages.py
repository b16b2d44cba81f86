"""Every database outage is an outage: a missing socket, a refused or cut connection, a
timeout, a restart. Handlers wait it out (no dead letter), APIs answer 503 with Retry-After.
PostgreSQL here is the test's own (`postgres_outage`), stopped and started mid-flow."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import asyncpg.exceptions
import httpx
import pytest
import sqlalchemy.exc
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from pix_contracts import Event
from pix_runtime.broker import create_broker, ensure_topics, subscribe
from pix_runtime.db import Database
from pix_runtime.dead_letters import DeadLetterStore, dead_letters_table
from pix_runtime.http import create_base_app
from pix_runtime.outages import OUTAGE_RETRY_AFTER_SECONDS, is_outage
from pix_stack.embedded import Tansu, free_port
from postgres_outage import StoppablePostgres, own_postgres
from sqlalchemy import Column, Integer, MetaData, Table, func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

__all__ = ["own_postgres"]  # the fixture


def raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    """`exc` as it arrives: raised (with a traceback), optionally from `cause`."""
    try:
        raise exc from cause
    except BaseException as caught:
        return caught


def test_what_counts_as_an_outage() -> None:
    starting = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
    assert is_outage(starting)
    admin = asyncpg.exceptions.AdminShutdownError(
        "terminating connection due to administrator command"
    )
    assert is_outage(admin)
    assert is_outage(asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle"))
    assert is_outage(asyncpg.exceptions.InterfaceError("connection is closed"))
    assert is_outage(ConnectionRefusedError(111, "Connect call failed"))
    assert is_outage(ConnectionResetError(104, "Connection reset by peer"))
    assert is_outage(sqlalchemy.exc.TimeoutError("QueuePool limit reached"))
    # As SQLAlchemy wraps the driver's error.
    wrapped = raised(sqlalchemy.exc.OperationalError("SELECT 1", {}, starting), cause=starting)
    assert is_outage(wrapped)

    # Our own code's failures, and third parties', are not.
    busy = asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in")
    assert not is_outage(busy)
    with pytest.raises(FileNotFoundError) as missing:
        Path("/nonexistent/rendition.jpg").read_bytes()
    assert not is_outage(missing.value)
    assert not is_outage(raised(TimeoutError("the caption provider took too long")))
    assert not is_outage(raised(httpx.ConnectError("refused"), cause=ConnectionRefusedError()))
    assert not is_outage(asyncpg.exceptions.UniqueViolationError("duplicate key"))


async def test_real_connection_failures_are_outages(own_postgres: StoppablePostgres) -> None:
    # Nothing listens: refused.
    refused = Database(
        f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/pix",
        schema="public",
        application_name="test-outage",
    )
    with pytest.raises(ConnectionRefusedError) as caught:
        await refused.ping()
    assert is_outage(caught.value)
    await refused.dispose()

    # Something accepts and never answers: a connect timeout inside the driver.
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    engine = create_async_engine(
        f"postgresql+asyncpg://postgres@127.0.0.1:{port}/pix", connect_args={"timeout": 0.3}
    )
    with pytest.raises(TimeoutError) as timed_out:
        async with engine.connect():
            pass
    assert is_outage(timed_out.value)
    await engine.dispose()
    silent.close()

    # The unix socket is gone while PostgreSQL is stopped: FileNotFoundError from the driver.
    db = Database(own_postgres.url, schema="public", application_name="test-outage")
    await own_postgres.stop()
    try:
        with pytest.raises(FileNotFoundError) as no_socket:
            await db.ping()
        assert is_outage(no_socket.value)
        with pytest.raises(FileNotFoundError) as no_socket_driver:
            async with db.driver_connection() as driver:
                await driver.fetchval("SELECT 1")
        assert is_outage(no_socket_driver.value)
    finally:
        await own_postgres.start()
        await db.dispose()


class Delivery(Event):
    topic: ClassVar[str] = "outage-test.delivery.made.v1"
    key_field: ClassVar[str] = "delivery_id"

    delivery_id: uuid.UUID
    number: int


@pytest.fixture
async def service_db(own_postgres: StoppablePostgres) -> AsyncIterator[tuple[Database, Table]]:
    """A service's schema on the stoppable PostgreSQL: its dead letters and its effects."""
    name = f"outage_{uuid.uuid4().hex[:8]}"
    metadata = MetaData(schema=name)
    dead_letters_table(metadata)
    effects = Table("effects", metadata, Column("number", Integer, primary_key=True))
    db = Database(own_postgres.url, schema=name, application_name="test-outage")
    async with db.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{name}"'))
        await conn.run_sync(metadata.create_all)
    yield db, effects
    await own_postgres.start()
    async with db.engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    await db.dispose()


async def test_postgres_stopped_mid_handler_is_waited_out_not_dead_lettered(
    tansu: Tansu, own_postgres: StoppablePostgres, service_db: tuple[Database, Table]
) -> None:
    """PostgreSQL stops while a handler is inside its transaction (administrator shutdown),
    stays away while more events arrive (no socket), and comes back: every event takes effect
    once, far beyond the retry budget, and nothing becomes a dead letter."""
    db, effects = service_db
    letters = DeadLetterStore(db, dead_letters_table(MetaData(schema=db.schema)))
    await ensure_topics(tansu.bootstrap, names=[Delivery.topic, Delivery.topic + ".dlq"])
    broker = create_broker(
        tansu.bootstrap, client_id="test-pg-outage", retry_delays=(0.05, 0.1), dead_letters=letters
    )
    tries: dict[int, int] = {}
    inside = asyncio.Event()
    go_on = asyncio.Event()

    @subscribe(broker, Delivery, group="outage-test.deliveries")
    async def deliver(event: Delivery) -> None:
        tries[event.number] = tries.get(event.number, 0) + 1
        async with db.transaction() as session:
            await session.execute(effects.insert().values(number=event.number))
            if event.number == 2 and tries[2] == 1:
                inside.set()
                await go_on.wait()  # PostgreSQL is stopped meanwhile
            await session.execute(text("SELECT 1"))

    async def numbers() -> list[int]:
        async with db.transaction() as session:
            return list(await session.scalars(select(effects.c.number).order_by(effects.c.number)))

    def delivery(number: int) -> bytes:
        return Delivery(delivery_id=uuid.uuid4(), number=number).model_dump_json().encode()

    await broker.start()
    try:
        await broker.publish(delivery(1), Delivery.topic, key=b"one-partition")
        await broker.publish(delivery(2), Delivery.topic, key=b"one-partition")
        await asyncio.wait_for(inside.wait(), timeout=30)
        await own_postgres.stop()
        go_on.set()
        await broker.publish(delivery(3), Delivery.topic, key=b"one-partition")
        async with asyncio.timeout(60):
            while tries.get(2, 0) < 6:  # the retry budget is 3 tries
                await asyncio.sleep(0.05)
        await own_postgres.start()
        async with asyncio.timeout(60):
            while tries.get(3, 0) < 1:
                await asyncio.sleep(0.05)
            while await numbers() != [1, 2, 3]:
                await asyncio.sleep(0.05)
    finally:
        go_on.set()
        await broker.stop()

    assert await letters.find(status=None) == []
    consumer = AIOKafkaConsumer(
        Delivery.topic + ".dlq",
        bootstrap_servers=tansu.bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    try:
        assert (await consumer.getmany(timeout_ms=1000)) == {}
    finally:
        await consumer.stop()


def outage_app(db: Database, effects: Table) -> FastAPI:
    app = create_base_app(title="outage", lifespan=None, checks={})

    @app.get("/count")
    async def count() -> dict[str, int]:
        async with db.transaction() as session:
            counted = await session.scalar(select(func.count()).select_from(effects))
            return {"count": counted or 0}

    @app.get("/count-by-driver")
    async def count_by_driver() -> dict[str, int]:
        async with db.driver_connection() as driver:
            return {"count": int(await driver.fetchval("SELECT 1"))}

    @app.get("/our-bug")
    async def our_bug() -> None:
        Path("/nonexistent/rendition.jpg").read_bytes()

    return app


async def test_an_api_answers_503_with_retry_after_while_postgres_is_away(
    own_postgres: StoppablePostgres, service_db: tuple[Database, Table]
) -> None:
    db, effects = service_db
    transport = httpx.ASGITransport(app=outage_app(db, effects), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        assert (await client.get("/count")).status_code == 200
        await own_postgres.stop()
        try:
            for path in ("/count", "/count-by-driver"):
                answer = await client.get(path)
                assert answer.status_code == 503, answer.text
                assert answer.headers["retry-after"] == str(OUTAGE_RETRY_AFTER_SECONDS)
                assert answer.json()["error"]["code"] == "unavailable"
            # A missing file of our own is a bug, not an outage.
            assert (await client.get("/our-bug")).status_code == 500
        finally:
            await own_postgres.start()
        with contextlib.suppress(Exception):
            await client.get("/count")  # a pooled connection from before may fail once
        assert (await client.get("/count")).json() == {"count": 0}
        assert (await client.get("/count-by-driver")).status_code == 200
