"""The outbox and the inbox on the real database and the real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest
from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker
from pix_contracts import Event
from pix_runtime.broker import create_broker, ensure_topics, subscribe
from pix_runtime.db import Database
from pix_runtime.inbox import first_delivery, inbox_table
from pix_runtime.outbox import OutboxRelay, enqueue, outbox_table
from pix_stack.embedded import EmbeddedPostgres, Tansu
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select, text

metadata = MetaData(schema="runtime_test")
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
applied = Table(
    "applied",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("count", Integer, nullable=False),
)


class ThingHappened(Event):
    topic: ClassVar[str] = "runtime-test.thing.happened.v1"
    key_field: ClassVar[str] = "thing_id"

    thing_id: uuid.UUID
    name: str


@pytest.fixture(scope="module")
async def db(postgres: EmbeddedPostgres) -> AsyncIterator[Database]:
    database = Database(postgres.url, schema="runtime_test", application_name="test")
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE SCHEMA IF NOT EXISTS runtime_test"))
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture(scope="module")
async def broker(tansu: Tansu) -> AsyncIterator[KafkaBroker]:
    await ensure_topics(tansu.bootstrap, names=[ThingHappened.topic])
    kafka = create_broker(tansu.bootstrap, client_id="test-outbox")
    await kafka.start()
    yield kafka
    await kafka.stop()


async def consume(bootstrap: str, topic: str, count: int, timeout: float = 20) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=10
    )
    await consumer.start()
    records = []
    try:
        async with asyncio.timeout(timeout):
            async for record in consumer:
                records.append(record)
                if len(records) >= count:
                    break
    finally:
        await consumer.stop()
    return records


async def unpublished(db: Database) -> int:
    async with db.sessions() as session:
        count = await session.scalar(select(func.count()).where(outbox.c.published_at.is_(None)))
    return int(count or 0)


async def test_nothing_is_published_from_a_rolled_back_transaction(
    db: Database, broker: KafkaBroker
) -> None:
    before = await unpublished(db)
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await enqueue(
                session, outbox, ThingHappened(thing_id=uuid.uuid4(), name="x"), source="/t"
            )
            raise RuntimeError("the state change failed")
    assert await unpublished(db) == before


async def test_a_crash_between_commit_and_publish_is_recovered_by_the_sweeper(
    db: Database, broker: KafkaBroker, tansu: Tansu
) -> None:
    # The process "crashes" after commit: no relay is running, so the row is stranded.
    event = ThingHappened(thing_id=uuid.uuid4(), name="stranded")
    async with db.transaction() as session:
        await enqueue(session, outbox, event, source="/pix/test")
    assert await unpublished(db) >= 1

    # A fresh process starts its relay, which only polls: the sweep finds the row.
    relay = OutboxRelay(db, outbox, broker, poll_seconds=0.2)
    relay.start()
    try:
        records = await consume(tansu.bootstrap, ThingHappened.topic, 1)
        async with asyncio.timeout(10):
            while await unpublished(db):
                await asyncio.sleep(0.05)
    finally:
        await relay.stop()
    got = [r for r in records if ThingHappened.model_validate_json(r.value).name == "stranded"]
    assert got, "the stranded event was not published"
    headers = dict(got[0].headers)
    assert headers["ce_id"] == str(event.event_id).encode()
    assert headers["ce_type"] == b"immo.pix.runtime-test.thing.happened.v1"
    assert headers["ce_source"] == b"/pix/test"
    assert headers["ce_specversion"] == b"1.0"
    assert got[0].key == str(event.thing_id).encode()


async def test_a_broker_outage_keeps_rows_until_publishing_works(db: Database) -> None:
    class BrokenBroker:
        async def publish(self, *args: Any, **kwargs: Any) -> None:
            raise ConnectionError("broker away")

    async with db.transaction() as session:
        await enqueue(
            session, outbox, ThingHappened(thing_id=uuid.uuid4(), name="later"), source="/t"
        )
    relay = OutboxRelay(db, outbox, BrokenBroker())
    for _ in range(7):
        with pytest.raises(ConnectionError):
            await relay.publish_pending()
    assert await unpublished(db) >= 1
    async with db.sessions() as session:
        attempts = await session.scalar(
            select(func.max(outbox.c.attempts)).where(outbox.c.published_at.is_(None))
        )
    assert attempts == 0  # an outage is not the row's fault: it is never parked for it


async def test_a_row_the_broker_refuses_is_parked_and_stops_blocking_the_rest(
    db: Database,
) -> None:
    from aiokafka.errors import MessageSizeTooLargeError

    poison = ThingHappened(thing_id=uuid.uuid4(), name="x" * 50)
    fine = ThingHappened(thing_id=uuid.uuid4(), name="fine")
    async with db.transaction() as session:
        await session.execute(outbox.update().values(published_at=func.now()))
        await enqueue(session, outbox, poison, source="/t")
        await enqueue(session, outbox, fine, source="/t")
    sent: list[bytes] = []

    class PickyBroker:
        async def publish(self, payload: bytes, *args: Any, **kwargs: Any) -> None:
            if b"xxxxx" in payload:
                raise MessageSizeTooLargeError()
            sent.append(payload)

    relay = OutboxRelay(db, outbox, PickyBroker())
    for _ in range(5):
        with pytest.raises(MessageSizeTooLargeError):
            await relay.publish_pending()
    assert sent == []  # the later row waited behind the refused one, in order
    assert await relay.publish_pending() == 1  # parked: the next pass goes on
    assert len(sent) == 1
    assert b'"fine"' in sent[0]
    async with db.sessions() as session:
        parked = await session.scalar(
            select(outbox.c.attempts).where(outbox.c.event_id == poison.event_id)
        )
    assert parked == 5


async def test_the_inbox_admits_an_event_once_and_forgets_rolled_back_deliveries(
    db: Database,
) -> None:
    event_id = uuid.uuid4()
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            assert await first_delivery(session, inbox, consumer="c", event_id=event_id)
            raise RuntimeError("the effect failed, so the delivery must count as unseen")
    async with db.transaction() as session:
        assert await first_delivery(session, inbox, consumer="c", event_id=event_id)
    async with db.transaction() as session:
        assert not await first_delivery(session, inbox, consumer="c", event_id=event_id)
    async with db.transaction() as session:
        assert await first_delivery(session, inbox, consumer="other", event_id=event_id)


async def test_an_event_delivered_twice_is_applied_once(
    db: Database, broker: KafkaBroker, tansu: Tansu
) -> None:
    consumer_broker = create_broker(tansu.bootstrap, client_id="test-inbox")
    handled = asyncio.Event()
    calls = 0

    @subscribe(consumer_broker, ThingHappened, group="runtime-test.apply")
    async def apply(event: ThingHappened) -> None:
        nonlocal calls
        calls += 1
        async with db.transaction() as session:
            if await first_delivery(session, inbox, consumer="apply", event_id=event.event_id):
                await session.execute(
                    text(
                        "INSERT INTO runtime_test.applied (name, count) VALUES (:n, 1) "
                        "ON CONFLICT (name) DO UPDATE SET count = applied.count + 1"
                    ),
                    {"n": event.name},
                )
        if calls >= 2:
            handled.set()

    name = f"twice-{uuid.uuid4().hex[:6]}"
    event = ThingHappened(thing_id=uuid.uuid4(), name=name)
    await consumer_broker.start()
    try:
        for _ in range(2):  # the same event, e.g. republished by a sweeper after a lost ack
            await broker.publish(
                event.model_dump_json().encode(), ThingHappened.topic, key=event.partition_key()
            )
        await asyncio.wait_for(handled.wait(), timeout=30)
    finally:
        await consumer_broker.stop()
    async with db.sessions() as session:
        count = await session.scalar(select(applied.c.count).where(applied.c.name == name))
    assert calls == 2
    assert count == 1
