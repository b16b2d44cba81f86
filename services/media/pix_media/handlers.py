from faststream.kafka import KafkaBroker
from pix_contracts import CaptionFailed, CaptionReady, OrderPlaced
from pix_contracts.appointments import (
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentScheduled,
)
from pix_contracts.billing import OrderPaid, OrderPaymentRequired
from pix_runtime.broker import subscribe

from pix_media.previews import Previews
from pix_media.service import MediaLibrary

# One consumer group per subscription: groups join independently instead of rebalancing
# each other as every subscriber of a shared group comes up.


def register_handlers(broker: KafkaBroker, library: MediaLibrary, previews: Previews) -> None:
    @subscribe(broker, OrderPlaced, group="media.galleries")
    async def open_gallery(event: OrderPlaced) -> None:
        await library.open_gallery(event)

    # Who shoots the order may upload into its gallery and deliver it.
    @subscribe(broker, AppointmentScheduled, group="media.appointments-scheduled")
    async def appointment_scheduled(event: AppointmentScheduled) -> None:
        await library.take_appointment(event)

    @subscribe(broker, AppointmentChanged, group="media.appointments-changed")
    async def appointment_changed(event: AppointmentChanged) -> None:
        await library.take_appointment(event)

    @subscribe(broker, AppointmentCancelled, group="media.appointments-cancelled")
    async def appointment_cancelled(event: AppointmentCancelled) -> None:
        await library.take_appointment(event)

    @subscribe(broker, CaptionReady, group="media.caption-ready")
    async def caption_ready(event: CaptionReady) -> None:
        await library.record_caption(event)

    @subscribe(broker, CaptionFailed, group="media.caption-failed")
    async def caption_failed(event: CaptionFailed) -> None:
        await library.record_caption(event)

    @subscribe(broker, OrderPaymentRequired, group="media.payments-required")
    async def payment_required(event: OrderPaymentRequired) -> None:
        await previews.take_payment_required(event)

    @subscribe(broker, OrderPaid, group="media.payments")
    async def paid(event: OrderPaid) -> None:
        await previews.take_payment(event)
