from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from pix_contracts import AssetDeleted, AssetUploaded
from pix_runtime.broker import FETCH_MAX_WAIT_MS, subscribe
from pix_runtime.logging import get_logger

from pix_captioning.consumer import make_concurrent, rebalance_listener
from pix_captioning.metrics import CONSUMER_LAG
from pix_captioning.service import CaptionDesk

# All caption workers share this group, so Kafka spreads the upload partitions across them.
GROUP = "captioning"
log = get_logger(__name__)


def register_handlers(broker: KafkaBroker, desk: CaptionDesk, *, concurrency: int = 1) -> Any:
    """Subscribe the caption handler; returns the subscriber (for the lag metric).

    One consumer per process whatever the concurrency: up to `concurrency` events are handled
    at once, one after another per asset, and an offset is committed only after its handler
    (and every earlier one of the partition) finished — see `pix_captioning.consumer`.
    """
    listener = rebalance_listener()
    subscriber = broker.subscriber(
        AssetUploaded.topic,
        group_id=GROUP,
        # The concurrent subscriber commits itself, in offset order per partition.
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        listener=listener,
        title=f"{GROUP}:{AssetUploaded.topic}",
    )

    @subscriber
    async def caption_asset(event: AssetUploaded) -> None:
        await desk.caption_asset(event)

    @subscribe(broker, AssetDeleted, group=f"{GROUP}.deletions")
    async def forget_asset(event: AssetDeleted) -> None:
        await desk.forget_asset(event)

    return make_concurrent(subscriber, limit=concurrency, listener=listener)


async def update_lag(subscriber: Any) -> None:
    """Per partition this process owns: end offset minus the group's committed offset."""
    consumer = getattr(subscriber, "consumer", None)
    CONSUMER_LAG.clear()
    if consumer is None:
        return
    assigned = list(consumer.assignment())
    if not assigned:
        return
    ends = await consumer.end_offsets(assigned)
    for tp in assigned:
        committed = await consumer.committed(tp) or 0
        CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, ends[tp] - committed))
