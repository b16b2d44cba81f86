"""The job behind each recorded Stripe event: fetch the object's current state and store it.

Stripe does not promise order, and a retried delivery may come after newer ones; reading the
object as it is now makes the order of events irrelevant.
"""

from __future__ import annotations

from pix_runtime.jobs import JobContext
from pix_runtime.logging import get_logger

from pix_billing.invoicing import Invoicing
from pix_billing.service import Billing, StripeEventRef

log = get_logger(__name__)


class StripeEvents:
    def __init__(self, billing: Billing, invoicing: Invoicing) -> None:
        self._billing = billing
        self._invoicing = invoicing

    async def handle(self, event: StripeEventRef, ctx: JobContext) -> None:
        stripe = self._billing.stripe
        if stripe is None or not event.object_id:
            return
        match event.object_kind:
            case "checkout.session":
                await self._billing.checkout_completed(event.object_id)
            case "subscription":
                await self._billing.subscription_changed(event.object_id)
            case "invoice":
                current = await stripe.invoice(event.object_id)
                await self._invoicing.invoice_changed(current)
                if current.subscription_id:
                    await self._billing.subscription_changed(current.subscription_id)
            case _:
                log.debug("stripe.event_ignored", type=event.type, event_id=event.event_id)
