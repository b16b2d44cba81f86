"""Event subscribers (thin): new organisations start their trial; orders become invoices."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from pix_contracts import GalleryDelivered, OrderPlaced, UserRegistered
from pix_runtime.broker import subscribe

from pix_billing.invoicing import Invoicing
from pix_billing.service import Billing


def register_handlers(broker: KafkaBroker, billing: Billing, invoicing: Invoicing) -> None:
    @subscribe(broker, UserRegistered, group="billing.registrations")
    async def user_registered(event: UserRegistered) -> None:
        await billing.organisation_registered(event)

    @subscribe(broker, OrderPlaced, group="billing.orders")
    async def order_placed(event: OrderPlaced) -> None:
        await invoicing.order_placed(event)

    @subscribe(broker, GalleryDelivered, group="billing.deliveries")
    async def gallery_delivered(event: GalleryDelivered) -> None:
        await invoicing.gallery_delivered(event)
