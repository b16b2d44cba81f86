from faststream.kafka import KafkaBroker
from pix_contracts import AssetUploaded, CaptionFailed, CaptionReady, OrderPlaced
from pix_contracts.billing import OrderPaid, OrderPaymentRequired
from pix_contracts.events import AssetDeleted, GalleryDelivered
from pix_runtime.broker import subscribe

from pix_export.service import ExportDesk

# One consumer group per subscription (see the README's delivery rules).
GROUP = "export"


def register_handlers(broker: KafkaBroker, desk: ExportDesk) -> None:
    @subscribe(broker, CaptionReady, group=GROUP)
    async def take_caption(event: CaptionReady) -> None:
        await desk.take_caption(event)

    @subscribe(broker, CaptionFailed, group=f"{GROUP}.failures")
    async def take_failure(event: CaptionFailed) -> None:
        await desk.take_failure(event)

    @subscribe(broker, AssetUploaded, group=f"{GROUP}.uploads")
    async def take_upload(event: AssetUploaded) -> None:
        await desk.take_upload(event)

    @subscribe(broker, OrderPlaced, group=f"{GROUP}.orders")
    async def take_order(event: OrderPlaced) -> None:
        await desk.take_order(event)

    @subscribe(broker, AssetDeleted, group=f"{GROUP}.deletions")
    async def take_deletion(event: AssetDeleted) -> None:
        await desk.take_deletion(event)

    @subscribe(broker, GalleryDelivered, group=f"{GROUP}.deliveries")
    async def take_delivery(event: GalleryDelivered) -> None:
        await desk.take_delivery(event)

    @subscribe(broker, OrderPaymentRequired, group=f"{GROUP}.payments-required")
    async def take_payment_required(event: OrderPaymentRequired) -> None:
        await desk.take_payment_required(event)

    @subscribe(broker, OrderPaid, group=f"{GROUP}.payments")
    async def take_payment(event: OrderPaid) -> None:
        await desk.take_payment(event)
