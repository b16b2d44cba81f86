"""The concurrent subscriber's offset bookkeeping: commit only what finished, in order."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from pix_captioning.consumer import (
    ConcurrentPartitionSubscriber,
    _Partition,
    make_concurrent,
    rebalance_listener,
)

TP = TopicPartition("media.asset.uploaded.v1", 0)


def subscriber() -> ConcurrentPartitionSubscriber:
    broker = KafkaBroker()
    listener = rebalance_listener()
    sub: Any = broker.subscriber(
        TP.topic, group_id="g", ack_policy=AckPolicy.MANUAL, listener=listener
    )
    return make_concurrent(sub, limit=4, listener=listener)


async def test_offsets_commit_only_past_a_finished_prefix() -> None:
    sub = subscriber()
    sub._partitions[TP] = state = _Partition()
    state.offsets = {10: 1, 11: 2, 12: 3}
    sub._finished(TP, 2, 11)  # 10 still running: nothing to commit
    assert sub._pending_commit == {}
    sub._finished(TP, 1, 10)
    assert sub._pending_commit == {TP: 12}
    sub._finished(TP, 3, 12)
    assert sub._pending_commit == {TP: 13}


async def test_a_failed_event_rewinds_its_partition_and_stale_completions_are_ignored() -> None:
    sub = subscriber()
    seeks: list[tuple[TopicPartition, int]] = []

    class Consumer:
        def seek(self, tp: TopicPartition, offset: int) -> None:
            seeks.append((tp, offset))

    sub.consumer = Consumer()  # type: ignore[assignment]
    sub._partitions[TP] = state = _Partition()
    state.offsets = {5: 1, 6: 2, 7: 3}
    sub._rewind(TP, 2, 6)  # 6 failed: read again from 6
    assert seeks == [(TP, 6)]
    state.offsets[6], state.offsets[7] = 4, 5  # handed out again
    sub._finished(TP, 3, 7)  # the old copy of 7 finishing must not count for the new one
    sub._finished(TP, 1, 5)  # 5 was handed out before the failure and still counts
    assert sub._pending_commit == {TP: 6}
    sub._finished(TP, 4, 6)
    sub._finished(TP, 5, 7)
    assert sub._pending_commit == {TP: 8}


async def test_events_of_one_asset_run_in_order_others_side_by_side() -> None:
    sub = subscriber()
    order: list[str] = []

    class Rec:
        def __init__(self, offset: int, asset: str) -> None:
            self.topic, self.partition, self.offset = TP.topic, 0, offset
            self.value = json.dumps({"asset_id": asset}).encode()
            self.key = b"gallery"

    async def process(msg: Any) -> None:
        order.append(f"start {msg.offset}")
        await asyncio.sleep(0.05 if msg.offset == 0 else 0.01)
        order.append(f"end {msg.offset}")

    sub.process_message = process  # type: ignore[method-assign]
    for offset, asset in ((0, "a"), (1, "a"), (2, "b")):
        await sub.consume_one(Rec(offset, asset))  # type: ignore[arg-type]
    await asyncio.gather(*sub._handlers)
    assert order.index("start 1") > order.index("end 0")  # same asset: after
    assert order.index("start 2") < order.index("end 0")  # other asset: alongside
    assert sub._pending_commit == {TP: 3}
