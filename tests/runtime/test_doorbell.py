"""Idle consumers pause their partitions; a publish wakes them (pix_runtime.broker.Doorbell).

Also where the runtime's reach into FastStream is pinned: `subscriber.consumer` (undocumented,
read by the doorbell) and `Broker.start` (overridden to start subscribers side by side, with
FastStream's `connect`, `subscriber.start` and `running`). If an upgrade moves either, the
first test here fails by name instead of the stack idling at full CPU or not consuming.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from typing import ClassVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream._internal.broker.broker import BrokerUsecase
from pix_contracts import Event
from pix_runtime.broker import (
    Doorbell,
    create_broker,
    ensure_topics,
    subscribe,
    subscriber_consumer,
)
from pix_stack.embedded import Tansu


class BellRung(Event):
    topic: ClassVar[str] = "doorbell-test.bell.rung.v1"
    key_field: ClassVar[str] = "bell_id"

    bell_id: uuid.UUID


async def until(condition: object, *, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def test_faststream_keeps_the_started_consumer_where_the_doorbell_reads_it(
    tansu: Tansu,
) -> None:
    await ensure_topics(tansu.bootstrap, names=[BellRung.topic])
    broker = create_broker(tansu.bootstrap, client_id="test-doorbell-shape")

    @subscribe(broker, BellRung, group=f"doorbell-shape-{uuid.uuid4().hex[:6]}")
    async def handle(event: BellRung) -> None:
        pass

    (subscriber,) = broker.subscribers
    assert subscriber_consumer(subscriber) is None
    await broker.start()
    try:
        consumer = subscriber_consumer(subscriber)
        assert isinstance(consumer, AIOKafkaConsumer), (
            "FastStream no longer keeps the aiokafka consumer as `subscriber.consumer`: "
            "pix_runtime.broker.subscriber_consumer must find it elsewhere"
        )
        assert consumer.subscription() == {BellRung.topic}
        assert broker.running
    finally:
        await broker.stop()


def test_the_faststream_start_our_broker_replaces_is_still_the_sequential_loop() -> None:
    """`Broker.start` repeats FastStream's start with the subscribers side by side. Should
    FastStream's start do more (or start them concurrently itself), this fails: then take the
    new steps over, or drop the override."""
    source = inspect.getsource(BrokerUsecase.start)
    steps = [
        line.strip()
        for line in source.splitlines()[1:]
        if line.strip() and not line.strip().startswith("#")
    ]
    assert steps == [
        "for sub in self.subscribers:",
        "await sub.start()",
        "for pub in self.publishers:",
        "await pub.start()",
        "self.running = True",
    ], "FastStream's BrokerUsecase.start changed: revisit pix_runtime.broker.Broker.start"


async def test_an_idle_consumer_pauses_and_wakes_for_a_publish_here_or_elsewhere(
    tansu: Tansu,
) -> None:
    """Its own poll is set far beyond the test's waits: only the bell can wake it in time."""
    await ensure_topics(tansu.bootstrap, names=[BellRung.topic])
    doorbell = Doorbell(poll_seconds=300, awake_seconds=0.3)
    broker = create_broker(tansu.bootstrap, client_id="test-doorbell", doorbell=doorbell)
    seen: list[uuid.UUID] = []

    @subscribe(broker, BellRung, group=f"doorbell-{uuid.uuid4().hex[:6]}")
    async def handle(event: BellRung) -> None:
        seen.append(event.bell_id)

    (subscriber,) = broker.subscribers
    await broker.start()
    doorbell.start()
    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap)
    await producer.start()
    try:
        consumer = subscriber_consumer(subscriber)
        assert consumer is not None

        def asleep() -> bool:
            assigned = consumer.assignment()
            return bool(assigned) and consumer.paused() == assigned

        await until(asleep)
        # Published in this process: its consumers wake at once.
        here = BellRung(bell_id=uuid.uuid4())
        await broker.publish(here.model_dump_json().encode(), BellRung.topic)
        await until(lambda: here.bell_id in seen)

        await until(asleep)
        # Published by another process, which announced it (PostgreSQL NOTIFY in a service).
        elsewhere = BellRung(bell_id=uuid.uuid4())
        await producer.send_and_wait(BellRung.topic, elsewhere.model_dump_json().encode())
        assert asleep()
        doorbell.wake([BellRung.topic])
        await until(lambda: elsewhere.bell_id in seen)
    finally:
        await producer.stop()
        await doorbell.stop()
        await broker.stop()


async def test_topics_rung_while_a_notice_is_on_its_way_are_announced_next() -> None:
    announced: list[list[str]] = []
    first_sent = asyncio.Event()
    release = asyncio.Event()

    async def announce(topics: list[str]) -> None:
        announced.append(topics)
        first_sent.set()
        await release.wait()  # a slow database

    doorbell = Doorbell(poll_seconds=300)
    doorbell.start(announce=announce)
    try:
        doorbell.ring("media.gallery.state-changed.v1")
        await first_sent.wait()
        doorbell.ring("media.gallery.delivered.v1")
        release.set()
        await until(lambda: len(announced) == 2)
    finally:
        await doorbell.stop()
    assert announced == [["media.gallery.state-changed.v1"], ["media.gallery.delivered.v1"]]
