from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from pix_contracts import AssetDeleted, AssetUploaded
from pix_runtime.broker import HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS, static_member
from pix_runtime.logging import get_logger

from pix_captioning.consumer import make_concurrent, rebalance_listener
from pix_captioning.metrics import CONSUMER_LAG
from pix_captioning.service import CaptionDesk

# All caption workers share this group, so Kafka spreads the upload partitions across them.
GROUP = "captioning"
log = get_logger(__name__)


# Deletions are rare and nobody waits for them: a long fetch wait keeps their consumer cheap.
DELETIONS_FETCH_WAIT_MS = 1000


def register_handlers(
    broker: KafkaBroker, desk: CaptionDesk, *, concurrency: int, fetch_wait_ms: int
) -> Any:
    """Subscribe the caption handler; returns the subscriber (for the lag metric).

    One consumer per process whatever the concurrency: up to `concurrency` events are handled
    at once, one after another per asset, and an offset is committed only after its handler
    (and every earlier one of the partition) finished — see `pix_captioning.consumer`.
    """
    listener = rebalance_listener()
    subscriber = broker.subscriber(
        AssetUploaded.topic,
        group_id=GROUP,
        group_instance_id=static_member(GROUP),
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        # The concurrent subscriber commits itself, in offset order per partition.
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=fetch_wait_ms,
        listener=listener,
        title=f"{GROUP}:{AssetUploaded.topic}",
    )

    @subscriber
    async def caption_asset(event: AssetUploaded) -> None:
        await desk.caption_asset(event)

    @broker.subscriber(
        AssetDeleted.topic,
        group_id=f"{GROUP}.deletions",
        group_instance_id=static_member(f"{GROUP}.deletions"),
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        # As `pix_runtime.broker.subscribe`, with a longer fetch wait.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=DELETIONS_FETCH_WAIT_MS,
        title=f"{GROUP}.deletions:{AssetDeleted.topic}",
    )
    async def forget_asset(event: AssetDeleted) -> None:
        await desk.forget_asset(event)

    return make_concurrent(subscriber, limit=concurrency, listener=listener)


async def update_lag(subscriber: Any) -> None:
    """Per partition this process owns: end offset minus the group's committed offset."""
    consumer = getattr(subscriber, "consumer", None)
    assigned = list(consumer.assignment()) if consumer is not None else []
    lags: dict[Any, int] = {}
    if consumer is not None and assigned:
        ends = await consumer.end_offsets(assigned)
        coordinator = getattr(consumer, "_coordinator", None)
        if coordinator is not None:
            # One OffsetFetch request for all partitions; the public `committed()` sends one
            # per partition (what it calls inside), 32 round trips for a single worker.
            fetched = await coordinator.fetch_committed_offsets(assigned)
            committed = {tp: max(0, fetched[tp].offset) if tp in fetched else 0 for tp in assigned}
        else:
            committed = {tp: await consumer.committed(tp) or 0 for tp in assigned}
        lags = {tp: max(0, ends[tp] - committed[tp]) for tp in assigned}
    # Replaced in one go, so a scrape never sees half of the partitions.
    CONSUMER_LAG.clear()
    for tp, lag in lags.items():
        CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(lag)
