"""One Kafka consumer per worker process, handling up to `limit` events at once.

FastStream's own concurrency for manual commits (`max_workers` → one consumer per unit) puts
`limit` members per process into the consumer group: every extra member is another join and
rebalance, another fetch loop polling the broker every few milliseconds, and in-flight work is
capped by the partitions each member happens to own. Here one consumer fetches, and each event
runs in its own task:

- at most `limit` handlers run at once; the fetch loop waits for a free slot (back-pressure);
- events with the same ordering key (the asset) run one after another, in offset order;
  different assets — even of one gallery, in one partition — run side by side;
- an offset is committed only once it and every earlier offset of its partition finished their
  handler (transaction included): at-least-once, exactly as with one-at-a-time handling. Commits
  are coalesced: one commit request carries every partition that advanced meanwhile;
- a handler that fails even after the dead-letter middleware (the DLQ itself is unreachable)
  rewinds its partition to that offset, as FastStream's NACK does; later events of the partition
  that were already handled are skipped by the inbox when they come again;
- a record fetched before its partition was rewound or revoked (the fetch loop holds it while it
  waits for a free slot) is dropped once it gets one — it is fetched again from the new position.
  Otherwise it would sit ahead of the re-read offsets and be committed before them;
- on a rebalance the revoked partitions' in-flight handlers finish (bounded) and are committed
  before the partitions move, so the new owner does not redo them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any, cast

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from faststream.kafka.subscriber.usecase import DefaultSubscriber
from pix_runtime.logging import get_logger

from pix_captioning.metrics import OVERHEAD_SECONDS, track_remote

log = get_logger(__name__)

OrderKey = Callable[[ConsumerRecord[Any, Any]], bytes]

# How long a rebalance or a shutdown waits for in-flight handlers before letting go.
DRAIN_SECONDS = 25.0


def asset_key(record: ConsumerRecord[Any, Any]) -> bytes:
    """Ordering key: the asset of an upload event (falls back to the Kafka key)."""
    try:
        value = json.loads(record.value)
        asset = value.get("asset_id") if isinstance(value, dict) else None
    except (TypeError, ValueError):
        asset = None
    if asset:
        return str(asset).encode()
    return bytes(record.key or b"")


class _Partition:
    """Offsets of one partition handed to handlers, in order: the handler's ticket, 0 once done.

    A ticket is unique per hand-out, so a handler that finishes after its offset was rewound or
    its partition revoked (and the offset handed out again) cannot mark the new copy done.
    """

    def __init__(self) -> None:
        self.offsets: dict[int, int] = {}


class ConcurrentPartitionSubscriber(DefaultSubscriber):
    """A FastStream Kafka subscriber (manual ack) with bounded in-process concurrency.

    Built from the subscriber `broker.subscriber(..., ack_policy=AckPolicy.MANUAL)` returned,
    by `make_concurrent`, so FastStream's parsing, middlewares and AsyncAPI stay as they are.
    """

    limit: int
    order_key: OrderKey

    def _setup_pool(self, limit: int, order_key: OrderKey) -> None:
        self.limit = limit
        self.order_key = order_key
        self._slots = asyncio.Semaphore(limit)
        self._handlers: set[asyncio.Task[None]] = set()
        self._by_partition: dict[TopicPartition, set[asyncio.Task[None]]] = {}
        self._tails: dict[tuple[str, bytes], asyncio.Task[None]] = {}
        self._partitions: dict[TopicPartition, _Partition] = {}
        # Bumped whenever a partition's read position moves back (rewind, revocation): a record
        # fetched under an older epoch is stale.
        self._epochs: dict[TopicPartition, int] = {}
        self._tickets = 0
        self._pending_commit: dict[TopicPartition, int] = {}
        self._commit_wake = asyncio.Event()
        self._committer: asyncio.Task[None] | None = None
        self._commit_lock = asyncio.Lock()

    @property
    def in_flight(self) -> int:
        """Records being handled right now (the operations page's running captions)."""
        return len(self._handlers)

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self._commit_wake = asyncio.Event()
        self._commit_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(self.limit)
        await super().start()
        if self.consumer is not None:
            self._committer = asyncio.create_task(self._commit_loop(), name="caption-commits")

    async def stop(self) -> None:
        # Stop fetching, let the handlers finish, commit what they finished, then close.
        for task in self.tasks:
            task.cancel()
        await self._drain(set(self._handlers))
        await self._commit_now()
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
            self._committer = None
        await super().stop()

    # --- handing out events ---------------------------------------------------------------------

    async def consume_one(self, msg: ConsumerRecord[Any, Any]) -> None:
        tp = TopicPartition(msg.topic, msg.partition)
        # Called right after `getone()`, with no await between: the epoch is the one the record
        # was fetched under.
        epoch = self._epochs.get(tp, 0)
        await self._slots.acquire()
        if self._epochs.get(tp, 0) != epoch or (
            self.consumer is not None and tp not in self.consumer.assignment()
        ):
            # Rewound or revoked while this record waited for a slot: the consumer reads the
            # partition again from the new position (or the new owner does), so drop this copy.
            self._slots.release()
            log.info("caption.stale_record_dropped", partition=msg.partition, offset=msg.offset)
            return
        state = self._partitions.setdefault(tp, _Partition())
        self._tickets += 1
        state.offsets[msg.offset] = ticket = self._tickets
        key = (msg.topic, self.order_key(msg))
        previous = self._tails.get(key)
        task = asyncio.create_task(self._handle(msg, tp, ticket, previous))
        self._tails[key] = task
        self._handlers.add(task)
        self._by_partition.setdefault(tp, set()).add(task)

        def forget(done: asyncio.Task[None]) -> None:
            self._handlers.discard(done)
            self._by_partition.get(tp, set()).discard(done)
            if self._tails.get(key) is done:
                del self._tails[key]

        task.add_done_callback(forget)

    async def _handle(
        self,
        msg: ConsumerRecord[Any, Any],
        tp: TopicPartition,
        ticket: int,
        previous: asyncio.Task[None] | None,
    ) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])  # same asset: strictly after the earlier event
            started = time.perf_counter()
            remote = track_remote()
            try:
                await self.process_message(msg)
            except Exception as exc:
                log.error(
                    "caption.event_unhandled",
                    partition=msg.partition,
                    offset=msg.offset,
                    error=repr(exc)[:300],
                )
                self._rewind(tp, ticket, msg.offset)
                return
            OVERHEAD_SECONDS.observe(max(0.0, time.perf_counter() - started - remote[0]))
            self._finished(tp, ticket, msg.offset)
        finally:
            self._slots.release()

    # --- offsets --------------------------------------------------------------------------------

    def _finished(self, tp: TopicPartition, ticket: int, offset: int) -> None:
        state = self._partitions.get(tp)
        if state is None or state.offsets.get(offset) != ticket:
            return  # the partition was revoked or rewound meanwhile: it will come again
        state.offsets[offset] = 0
        advanced: int | None = None
        for pending in sorted(state.offsets):  # offset order, not hand-out order
            if state.offsets[pending]:
                break
            del state.offsets[pending]
            advanced = pending
        if advanced is not None:
            self._pending_commit[tp] = advanced + 1
            self._commit_wake.set()

    def _rewind(self, tp: TopicPartition, ticket: int, offset: int) -> None:
        state = self._partitions.get(tp)
        if state is None or state.offsets.get(offset) != ticket or self.consumer is None:
            return
        # Earlier offsets still count when they finish; this one and later ones come again.
        state.offsets = {o: t for o, t in state.offsets.items() if o < offset}
        self._bump(tp)  # records already fetched past `offset` are stale now
        with contextlib.suppress(Exception):  # not assigned any more: the new owner reads it
            self.consumer.seek(tp, offset)

    async def _commit_loop(self) -> None:
        while True:
            await self._commit_wake.wait()
            self._commit_wake.clear()
            await self._commit_now()

    async def _commit_now(self, only: set[TopicPartition] | None = None) -> None:
        async with self._commit_lock:
            if only is None:
                offsets, self._pending_commit = self._pending_commit, {}
            else:
                offsets = {tp: o for tp, o in self._pending_commit.items() if tp in only}
                for tp in offsets:
                    del self._pending_commit[tp]
            if not offsets or self.consumer is None:
                return
            try:
                await self.consumer.commit(offsets)
            except Exception as exc:
                # Rebalanced away or broker gone: keep the offsets for the next commit (unless a
                # later one replaced them meanwhile); if the partition moves, they are dropped and
                # the events are delivered again (inbox).
                log.warning("caption.commit_failed", error=repr(exc)[:300])
                for tp, offset in offsets.items():
                    self._pending_commit.setdefault(tp, offset)

    async def _drain(self, tasks: set[asyncio.Task[None]]) -> None:
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=DRAIN_SECONDS)
            if late:
                log.warning("caption.drain_timeout", unfinished=len(late))

    # --- rebalances -----------------------------------------------------------------------------

    def _bump(self, tp: TopicPartition) -> None:
        self._epochs[tp] = self._epochs.get(tp, 0) + 1

    async def partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        tasks: set[asyncio.Task[None]] = set()
        for tp in revoked:
            # A record the fetch loop holds must not get a slot during or after the drain: if the
            # partition comes back, reading restarts at the committed offset.
            self._bump(tp)
            tasks |= self._by_partition.get(tp, set())
        await self._drain(tasks)
        await self._commit_now(only=set(revoked))
        for tp in revoked:
            self._bump(tp)
            self._partitions.pop(tp, None)
            self._by_partition.pop(tp, None)
            # Not ours any more: a commit that failed above must not be retried later.
            self._pending_commit.pop(tp, None)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.subscriber: ConcurrentPartitionSubscriber | None = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if self.subscriber is not None:
            await self.subscriber.partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None


def rebalance_listener() -> _Listener:
    """Pass to `broker.subscriber(listener=...)`, then to `make_concurrent`."""
    return _Listener()


def make_concurrent(
    subscriber: Any,
    *,
    limit: int,
    listener: _Listener,
    order_key: OrderKey = asset_key,
) -> ConcurrentPartitionSubscriber:
    """Turn FastStream's plain (manual-ack) Kafka subscriber into the concurrent one."""
    if type(subscriber) is not DefaultSubscriber:
        raise TypeError(f"expected a plain Kafka subscriber, got {type(subscriber).__name__}")
    # DefaultSubscriber instances carry a __dict__, so the subclass (no new slots) fits.
    subscriber.__class__ = ConcurrentPartitionSubscriber
    concurrent = cast(ConcurrentPartitionSubscriber, subscriber)
    concurrent._setup_pool(limit, order_key)
    listener.subscriber = concurrent
    return concurrent
