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
