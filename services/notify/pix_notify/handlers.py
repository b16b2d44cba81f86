from faststream.kafka import KafkaBroker
from pix_contracts import GalleryExported, OrderPlaced
from pix_runtime.broker import subscribe

from pix_notify.service import PostOffice


def register_handlers(broker: KafkaBroker, office: PostOffice) -> None:
    @subscribe(broker, OrderPlaced, group="notify.orders")
    async def order_placed(event: OrderPlaced) -> None:
        await office.order_placed(event)

    @subscribe(broker, GalleryExported, group="notify.exports")
    async def gallery_exported(event: GalleryExported) -> None:
        await office.gallery_exported(event)
