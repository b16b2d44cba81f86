from faststream.kafka import KafkaBroker
from pix_contracts import CaptionReady
from pix_runtime.broker import subscribe

from pix_export.service import ExportDesk

GROUP = "export"


def register_handlers(broker: KafkaBroker, desk: ExportDesk) -> None:
    @subscribe(broker, CaptionReady, group=GROUP)
    async def take_caption(event: CaptionReady) -> None:
        await desk.take_caption(event)
