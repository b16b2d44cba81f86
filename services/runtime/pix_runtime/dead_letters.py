"""Operating the dead-letter topics: see what failed and, once fixed, send it again.

    pix-stack dlq list media.asset.uploaded.v1
    pix-stack dlq replay media.asset.uploaded.v1

A replay republishes each dead letter to its source topic (original key, body and headers,
without the `dlq_*` ones) and commits its progress in the consumer group `pix-dlq-replay`, so
replaying again later sends only what arrived in the DLQ since. Consumers are idempotent, so a
letter that partly succeeded before failing is safe to send again.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from pix_contracts.topics import DEAD_LETTER_SUFFIX
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

REPLAY_GROUP = "pix-dlq-replay"


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def error(self) -> str:
        return self.headers.get("dlq_error", "?")


async def _drain(consumer: AIOKafkaConsumer, topic: str) -> list[DeadLetter]:
    """Everything up to the end offsets as they are now (the DLQ may grow meanwhile)."""
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    ends = await consumer.end_offsets(partitions)
    letters: list[DeadLetter] = []

    async def behind() -> bool:
        return any([await consumer.position(tp) < ends[tp] for tp in partitions])

    while await behind():
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for record in records:
                headers = {k: v.decode(errors="replace") for k, v in record.headers}
                letters.append(
                    DeadLetter(record.partition, record.offset, record.key, record.value, headers)
                )
    return letters


async def list_dead_letters(bootstrap: str, topic: str) -> list[DeadLetter]:
    dlq = topic + DEAD_LETTER_SUFFIX
    consumer = AIOKafkaConsumer(
        dlq, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=1000)  # join and fetch metadata
        await consumer.seek_to_beginning()
        return await _drain(consumer, dlq)
    finally:
        await consumer.stop()


async def replay_dead_letters(bootstrap: str, topic: str) -> int:
    """Republish every dead letter not replayed before to `topic`; returns how many."""
    dlq = topic + DEAD_LETTER_SUFFIX
    consumer = AIOKafkaConsumer(
        dlq,
        bootstrap_servers=bootstrap,
        group_id=REPLAY_GROUP,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    try:
        await consumer.getmany(timeout_ms=1000)  # join the group, get the assignment
        for tp in consumer.assignment():
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        letters = await _drain(consumer, dlq)
        for letter in letters:
            headers = [
                (k, v.encode()) for k, v in letter.headers.items() if not k.startswith("dlq_")
            ]
            await producer.send_and_wait(topic, letter.value, key=letter.key, headers=headers)
        await consumer.commit()
        return len(letters)
    finally:
        await producer.stop()
        await consumer.stop()


def dead_letters_table(metadata: MetaData) -> Table:
    """Dead letters kept in the consuming service's own database, so they outlive a broker
    that keeps nothing: what failed, in which group, why, and whether it was replayed."""
    table = Table(
        "dead_letters",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("consumer_group", String(200), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("event_id", String(100), nullable=True),
        Column("partition", Integer, nullable=True),
        Column("offset", BigInteger, nullable=True),
        Column("key", LargeBinary, nullable=True),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("error", Text, nullable=False),
        Column("traceback", Text, nullable=True),
        Column("attempts", Integer, nullable=False, server_default="1"),
        # open -> replayed (sent back to its group) | discarded (an operator gave up on it)
        Column("status", String(20), nullable=False, server_default="open"),
        Column(
            "first_failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()
        ),
        Column(
            "last_failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()
        ),
        Column("replayed_at", DateTime(timezone=True), nullable=True),
    )
    # One letter per event and group: a redelivered poison event updates its letter.
    Index(
        f"{table.name}_event",
        table.c.consumer_group,
        table.c.event_id,
        unique=True,
        postgresql_where=table.c.event_id.is_not(None),
    )
    Index(f"{table.name}_status", table.c.status, table.c.topic)
    return table
