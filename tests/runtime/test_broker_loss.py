"""Nothing depends on the broker remembering: the broker is killed (kill -9, it keeps nothing)
while events flow, a new empty one starts on the same port, and every event published within
the replay window reaches each consumer group's effect exactly once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from faststream.kafka import KafkaBroker
from pix_contracts import Event
from pix_runtime.broker import create_broker, ensure_topics, subscribe
from pix_runtime.db import Database
from pix_runtime.inbox import first_delivery, inbox_table
from pix_runtime.outbox import BrokerMemory, OutboxRelay, enqueue, outbox_table
from pix_stack.embedded import EmbeddedPostgres, Tansu, free_port, start_tansu
from sqlalchemy import Column, MetaData, String, Table, Uuid, select, text

EVENTS = 40


class PhotoTaken(Event):
    topic: ClassVar[str] = "broker-loss.photo.taken.v1"
    key_field: ClassVar[str] = "gallery_id"

    gallery_id: uuid.UUID
    number: int


class Schema:
    """A service's outbox and, for the consumers, an inbox and their effects."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.metadata = MetaData(schema=name)
        self.outbox = outbox_table(self.metadata)
        self.inbox = inbox_table(self.metadata)
        self.effects = Table(
            "effects",
            self.metadata,
            Column("consumer", String(100), primary_key=True),
            Column("event_id", Uuid, primary_key=True),
        )


@pytest.fixture
async def service(postgres: EmbeddedPostgres) -> AsyncIterator[tuple[Database, Schema]]:
    schema = Schema(f"loss_{uuid.uuid4().hex[:8]}")
    db = Database(postgres.url, schema=schema.name, application_name="test-broker-loss")
    async with db.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema.name}"'))
        await conn.run_sync(schema.metadata.create_all)
    yield db, schema
    async with db.engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema.name}" CASCADE'))
    await db.dispose()


async def test_a_broker_that_comes_back_empty_gets_every_event_again(
    service: tuple[Database, Schema], tmp_path: Path
) -> None:
    db, schema = service
    port = free_port()
    tansu: Tansu = start_tansu(port, log_file=tmp_path / "tansu.log")
    bootstrap = tansu.bootstrap
    topics = [PhotoTaken.topic, PhotoTaken.topic + ".dlq"]

    async def create_topics() -> None:
        await ensure_topics(bootstrap, names=topics)

    publisher = create_broker(bootstrap, client_id="test-loss-producer")
    relay = OutboxRelay(
        db,
        schema.outbox,
        publisher,
        poll_seconds=0.5,
        memory=BrokerMemory(bootstrap, group=f"pix-outbox.{schema.name}", topic=PhotoTaken.topic),
        replay_window=timedelta(hours=24),
        prepare_broker=create_topics,
    )
    consumers = create_broker(bootstrap, client_id="test-loss-consumers", retry_delays=(0.05,))
    deliveries: dict[str, int] = {"captioning": 0, "export": 0}

    def consume(name: str, broker: KafkaBroker) -> None:
        @subscribe(broker, PhotoTaken, group=f"broker-loss.{name}")
        async def handle(event: PhotoTaken) -> None:
            deliveries[name] += 1
            async with db.transaction() as session:
                if await first_delivery(
                    session, schema.inbox, consumer=name, event_id=event.event_id
                ):
                    await session.execute(
                        schema.effects.insert().values(consumer=name, event_id=event.event_id)
                    )

    consume("captioning", consumers)
    consume("export", consumers)

    async def effects(consumer: str) -> list[uuid.UUID]:
        async with db.transaction() as session:
            return list(
                await session.scalars(
                    select(schema.effects.c.event_id).where(schema.effects.c.consumer == consumer)
                )
            )

    gallery = uuid.uuid4()
    published: list[uuid.UUID] = []

    async def take_photos() -> None:
        for number in range(EVENTS):
            event = PhotoTaken(gallery_id=gallery, number=number)
            async with db.transaction() as session:
                await enqueue(session, schema.outbox, event, source="test")
            published.append(event.event_id)
            await asyncio.sleep(0.05)

    await create_topics()
    await publisher.start()
    relay.start()
    await consumers.start()
    photographer: asyncio.Task[None] | None = None
    try:
        photographer = asyncio.create_task(take_photos())
        async with asyncio.timeout(60):
            while len(await effects("export")) < 10:
                await asyncio.sleep(0.05)
        tansu.process.kill()  # kill -9 while events flow; the broker keeps nothing
        tansu.process.wait()
        during = len(published)
        async with asyncio.timeout(60):
            while len(published) < during + 5:  # photos keep coming while it is away
                await asyncio.sleep(0.05)
        tansu = start_tansu(port, log_file=tmp_path / "tansu.log")
        back = time.monotonic()
        await photographer
        async with asyncio.timeout(120):
            while [len(await effects(name)) for name in deliveries] != [EVENTS, EVENTS]:
                await asyncio.sleep(0.1)
        recovered = time.monotonic() - back
    finally:
        if photographer is not None:
            photographer.cancel()
        await relay.stop()
        await consumers.stop()
        await publisher.stop()
        tansu.stop()

    for name in deliveries:
        delivered = await effects(name)
        assert sorted(delivered) == sorted(published), name  # each event's effect once
    print(
        f"\nbroker lost mid-flow: {EVENTS} events, each effect once per group; all delivered "
        f"{recovered:.1f} s after the new broker started; deliveries (with replays) {deliveries}"
    )
