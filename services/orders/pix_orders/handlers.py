from faststream.kafka import KafkaBroker
from pix_contracts import GalleryDelivered, UserDeleted, UserDeletedV2
from pix_runtime.broker import subscribe

from pix_orders.service import OrderBook


def register_handlers(broker: KafkaBroker, book: OrderBook) -> None:
    # Its own consumer group: every service that holds personal data hears every deletion.
    @subscribe(broker, UserDeletedV2, group="orders.user-deleted-v2")
    async def user_deleted(event: UserDeletedV2) -> None:
        await book.forget_user(event)

    # Deprecated v1 (it carried the address): drained until the broker's retention has passed.
    @subscribe(broker, UserDeleted, group="orders.user-deleted")
    async def user_deleted_v1(event: UserDeleted) -> None:
        await book.forget_user(event)

    # Delivering a gallery delivers its order.
    @subscribe(broker, GalleryDelivered, group="orders.gallery-delivered")
    async def gallery_delivered(event: GalleryDelivered) -> None:
        await book.gallery_delivered(event)
