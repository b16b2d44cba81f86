from faststream.kafka import KafkaBroker
from pix_contracts import AssetUploaded
from pix_runtime.broker import subscribe

from pix_captioning.service import CaptionDesk

# All caption workers share this group, so Kafka spreads the upload partitions across them.
GROUP = "captioning"


def register_handlers(broker: KafkaBroker, desk: CaptionDesk) -> None:
    @subscribe(broker, AssetUploaded, group=GROUP)
    async def caption_asset(event: AssetUploaded) -> None:
        await desk.caption_asset(event)
