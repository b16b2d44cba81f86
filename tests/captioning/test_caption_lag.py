"""The consumer-lag metric against the real broker: end offset minus the group's commit."""

from __future__ import annotations

import asyncio
import re
import uuid
from types import SimpleNamespace

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pix_captioning.handlers import update_lag
from pix_runtime.broker import ensure_topics
from pix_stack.embedded import Tansu
from prometheus_client import generate_latest


def lag_metric(topic: str) -> dict[int, float]:
    text = generate_latest().decode()
    pattern = rf'^pix_caption_consumer_lag\{{partition="(\d+)",topic="{re.escape(topic)}"\}} (\S+)$'
    return {int(p): float(v) for p, v in re.findall(pattern, text, re.M)}


async def test_lag_is_end_offset_minus_the_groups_committed_offset_per_partition(
    tansu: Tansu,
) -> None:
    topic = f"test.lag.{uuid.uuid4().hex[:8]}.v1"
    await ensure_topics(tansu.bootstrap, names=[topic])  # unregistered: one partition
    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap)
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, b"x", key=str(i).encode())
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=tansu.bootstrap,
        group_id=f"lag-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=100)
        tp = TopicPartition(topic, 0)
        subscriber = SimpleNamespace(consumer=consumer)

        await update_lag(subscriber)
        assert lag_metric(topic) == {0: 5.0}  # nothing committed yet
        await consumer.commit({tp: 3})
        await update_lag(subscriber)
        assert lag_metric(topic) == {0: 2.0}
        await consumer.commit({tp: 5})
        await update_lag(subscriber)
        assert lag_metric(topic) == {0: 0.0}
    finally:
        await consumer.stop()
    await update_lag(SimpleNamespace(consumer=None))
    assert lag_metric(topic) == {}  # a worker that owns nothing reports nothing
