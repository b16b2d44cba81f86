from collections.abc import Awaitable, Callable
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from pix_contracts import AssetUploaded
from pix_runtime.broker import FETCH_MAX_WAIT_MS, subscribe
from pix_runtime.logging import get_logger

from pix_captioning.metrics import CONSUMER_LAG
from pix_captioning.service import CaptionDesk

# All caption workers share this group, so Kafka spreads the upload partitions across them.
GROUP = "captioning"
log = get_logger(__name__)


def register_handlers(broker: KafkaBroker, desk: CaptionDesk, *, concurrency: int = 1) -> Any:
    """Subscribe the caption handler; returns the subscriber (for the lag metric).

    With `concurrency` > 1 FastStream runs that many consumers of the group in this process
    (its ConcurrentBetweenPartitionsSubscriber): each owns whole partitions and commits only
    after its handler returned, so delivery stays at-least-once and in order per partition.
    """
    decorator: Callable[[Callable[[AssetUploaded], Awaitable[None]]], object]
    if concurrency > 1:
        decorator = broker.subscriber(
            AssetUploaded.topic,
            group_id=GROUP,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            max_workers=concurrency,
            title=f"{GROUP}:{AssetUploaded.topic}",
        )
    else:
        decorator = subscribe(broker, AssetUploaded, group=GROUP)

    async def caption_asset(event: AssetUploaded) -> None:
        await desk.caption_asset(event)

    # Applied as a call, not `@`: the subscriber it returns is kept for the lag metric.
    return decorator(caption_asset)


async def update_lag(subscriber: Any) -> None:
    """Per partition this process owns: end offset minus the group's committed offset."""
    consumers = list(getattr(subscriber, "consumer_subgroup", None) or [])
    if not consumers and getattr(subscriber, "consumer", None) is not None:
        consumers = [subscriber.consumer]
    CONSUMER_LAG.clear()
    for consumer in consumers:
        assigned = list(consumer.assignment())
        if not assigned:
            continue
        ends = await consumer.end_offsets(assigned)
        for tp in assigned:
            committed = await consumer.committed(tp) or 0
            CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, ends[tp] - committed))
