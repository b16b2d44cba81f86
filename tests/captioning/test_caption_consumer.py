"""The concurrent subscriber's offset bookkeeping: commit only what finished, in order."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from pix_captioning import consumer as consumer_module
from pix_captioning.consumer import (
    ConcurrentPartitionSubscriber,
    _Partition,
    make_concurrent,
    rebalance_listener,
)

TP = TopicPartition("media.asset.uploaded.v1", 0)


def subscriber(limit: int = 4) -> ConcurrentPartitionSubscriber:
    broker = KafkaBroker()
    listener = rebalance_listener()
    sub: Any = broker.subscriber(
        TP.topic, group_id="g", ack_policy=AckPolicy.MANUAL, listener=listener
    )
    return make_concurrent(sub, limit=limit, listener=listener)


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

    sub.consumer = Consumer()
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

    sub.process_message = process  # type: ignore[method-assign,assignment]
    for offset, asset in ((0, "a"), (1, "a"), (2, "b")):
        await sub.consume_one(Rec(offset, asset))
    await asyncio.gather(*sub._handlers)
    assert order.index("start 1") > order.index("end 0")  # same asset: after
    assert order.index("start 2") < order.index("end 0")  # other asset: alongside
    assert sub._pending_commit == {TP: 3}


# --- a fetch loop over a fake partition log ------------------------------------------------------


class Rec:
    """A record of TP; each offset is its own asset, so only offsets order the handlers."""

    def __init__(self, offset: int) -> None:
        self.topic, self.partition, self.offset = TP.topic, TP.partition, offset
        self.value = json.dumps({"asset_id": f"asset-{offset}"}).encode()
        self.key = b"gallery"


class FakeLog:
    """The slice of AIOKafkaConsumer the subscriber uses, over one partition holding `offsets`.

    `getone` hands out records from the read position like aiokafka does (a seek moves the
    position; a reassignment restarts at the committed offset). Every commit is checked against
    the offsets handled successfully so far: committing past an unhandled offset loses it.
    """

    def __init__(self, offsets: range) -> None:
        self.offsets = offsets
        self.position = self.committed = offsets.start
        self.assigned = {TP}
        self.seeks: list[int] = []
        self.commits: list[dict[TopicPartition, int]] = []
        self.handled: set[int] = set()
        self.lost: list[tuple[int, list[int]]] = []  # (committed offset, unhandled offsets below)

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        assert tp in self.assigned
        self.seeks.append(offset)
        self.position = offset

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))
        upto = offsets[TP]
        missing = [o for o in range(self.committed, upto) if o not in self.handled]
        if missing:
            self.lost.append((upto, missing))
        self.committed = upto

    async def getone(self) -> Rec:
        while TP not in self.assigned or self.position >= self.offsets.stop:
            await asyncio.sleep(0.001)
        record = Rec(self.position)
        self.position += 1
        return record

    def reassign(self) -> None:
        self.assigned = {TP}
        self.position = self.committed


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"timed out waiting for {what}")


class Harness:
    """A subscriber on a FakeLog with FastStream's fetch loop (getone, then consume_one, no
    await between) and the commit loop running."""

    def __init__(
        self,
        limit: int,
        offsets: range,
        script: Callable[[int, int], Awaitable[None]],
    ) -> None:
        self.sub = subscriber(limit)
        self.log = FakeLog(offsets)
        self.attempts: dict[int, int] = {}
        self.sub.consumer = self.log

        async def process(msg: Any) -> None:
            attempt = self.attempts[msg.offset] = self.attempts.get(msg.offset, 0) + 1
            await script(msg.offset, attempt)  # raises: the handler failed, DLQ included
            self.log.handled.add(msg.offset)

        self.sub.process_message = process  # type: ignore[method-assign,assignment]

    async def _fetch_loop(self) -> None:
        while True:
            await self.sub.consume_one(await self.log.getone())

    async def __aenter__(self) -> Harness:
        self.fetch = asyncio.create_task(self._fetch_loop())
        self.committer = asyncio.create_task(self.sub._commit_loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in (self.fetch, self.committer):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for handler in set(self.sub._handlers):  # left blocked by a failed assertion
            handler.cancel()
        await asyncio.gather(*self.sub._handlers, return_exceptions=True)

    def waiting_for_slot(self) -> bool:
        return self.sub._slots.locked() and bool(self.sub._slots._waiters)


@pytest.mark.parametrize("limit", [1, 2])
async def test_a_record_fetched_before_a_rewind_is_not_committed_ahead_of_the_rewound_one(
    limit: int,
) -> None:
    """The fetch loop holds the next record while every slot is busy; the running event fails
    (DLQ unreachable) and rewinds. The held record must not jump ahead of the re-read offset."""
    first = 10
    last = first + limit  # limit=1: 10 runs, 11 held; limit=2: 10 and 11 run, 12 held
    fail = asyncio.Event()
    release: dict[int, asyncio.Event] = {o: asyncio.Event() for o in range(first + 1, last)}

    async def script(offset: int, attempt: int) -> None:
        if offset == first and attempt == 1:
            await fail.wait()
            raise RuntimeError("handler and dead-letter publish failed")
        if offset in release and attempt == 1:
            await release[offset].wait()

    async with Harness(limit, range(first, last + 1), script) as h:
        await until(h.waiting_for_slot, "the fetch loop to hold a record")
        assert h.log.position == last + 1  # `last` is fetched and waits for a slot
        fail.set()
        await until(lambda: h.log.seeks == [first], "the rewind")
        await until(lambda: first in h.log.handled, "the re-read event")
        for event in release.values():  # the old copies of the middle offsets finish late
            event.set()
        await until(lambda: h.log.committed == last + 1, "the final commit")

    assert h.log.lost == []
    assert h.log.seeks == [first]
    assert h.log.handled == set(range(first, last + 1))
    assert h.attempts[first] == 2


@pytest.mark.parametrize("reassigned", [True, False])
async def test_a_record_held_across_a_revocation_is_dropped(
    monkeypatch: pytest.MonkeyPatch, reassigned: bool
) -> None:
    """45 and 46 run, the fetch loop holds 47; the drain gives up on them and the partition is
    revoked (and maybe assigned back, reading from 45 again). When the old 46 finishes, the held
    47 must not start new state for the partition and be committed while 45 is still running."""
    monkeypatch.setattr(consumer_module, "DRAIN_SECONDS", 0.02)
    release = {45: asyncio.Event(), 46: asyncio.Event()}

    async def script(offset: int, attempt: int) -> None:
        if offset in release and attempt == 1:
            await release[offset].wait()

    async with Harness(2, range(45, 48), script) as h:
        await until(h.waiting_for_slot, "the fetch loop to hold 47")
        await h.sub.partitions_revoked({TP})  # 45 and 46 do not finish in time
        assert h.log.commits == []
        h.log.assigned = set()
        if reassigned:
            h.log.reassign()
        release[46].set()  # the old 46 finishes (not counted), a slot frees up
        await until(lambda: 46 in h.log.handled, "the old 46")
        await asyncio.sleep(0.01)
        assert h.log.lost == []
        release[45].set()
        if reassigned:
            await until(lambda: h.log.committed == 48, "the final commit")
            assert h.attempts == {45: 2, 46: 2, 47: 1}
        else:
            await until(lambda: not h.sub._handlers and not h.waiting_for_slot(), "idle")
            await asyncio.sleep(0.01)
            assert h.log.commits == []
            assert h.attempts == {45: 1, 46: 1}  # 47 was dropped: the new owner reads it

    assert h.log.lost == []


async def test_a_re_read_lower_offset_is_committed_in_offset_order() -> None:
    """After a rewind the re-read offset is handed out after higher ones: it still comes first."""
    sub = subscriber()
    sub._partitions[TP] = state = _Partition()
    state.offsets = {11: 1}
    state.offsets[10] = 2  # re-read after 11 was handed out
    sub._finished(TP, 1, 11)
    assert sub._pending_commit == {}
    sub._finished(TP, 2, 10)
    assert sub._pending_commit == {TP: 12}


async def test_a_failed_commit_keeps_the_offsets_for_the_next_one() -> None:
    sub = subscriber()
    other = TopicPartition(TP.topic, 1)

    class Consumer:
        calls = 0

        async def commit(self, offsets: dict[TopicPartition, int]) -> None:
            self.calls += 1
            if self.calls == 1:
                sub._pending_commit[TP] = 9  # finished meanwhile: newer than the failed 7
                raise RuntimeError("broker gone")

    sub.consumer = Consumer()
    sub._pending_commit = {TP: 7, other: 3}
    await sub._commit_now()
    assert sub._pending_commit == {TP: 9, other: 3}
    await sub._commit_now()
    assert sub._pending_commit == {}


async def test_revocation_drains_and_commits_the_revoked_partitions_handlers() -> None:
    done = asyncio.Event()

    async def script(offset: int, attempt: int) -> None:
        await done.wait()

    async with Harness(2, range(5, 7), script) as h:
        await until(lambda: len(h.sub._handlers) == 2, "both events running")
        asyncio.get_running_loop().call_later(0.02, done.set)
        await h.sub.partitions_revoked({TP})
        assert h.log.commits[-1] == {TP: 7}
        assert TP not in h.sub._partitions
        assert h.sub._pending_commit == {}

    assert h.log.lost == []


async def test_a_revoked_partitions_failed_commit_is_not_retried_later() -> None:
    sub = subscriber()

    class Consumer:
        async def commit(self, offsets: dict[TopicPartition, int]) -> None:
            raise RuntimeError("rebalance in progress")

    sub.consumer = Consumer()
    sub._pending_commit = {TP: 7}
    await sub.partitions_revoked({TP})
    assert sub._pending_commit == {}
