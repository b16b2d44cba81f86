"""Events of the billing service: an organisation's CRM licence, and orders' payments.

`SubscriptionChanged` is the licence: leads, listings and the assistant keep the latest one per
organisation (newest `occurred_at` wins) and accept new work only while `status` is `trialing`
or `active`. An organisation billing never announced is in its trial.

`OrderPaymentRequired` says an order must be paid before its gallery's downloads, exports and CRM
pushes are released; `OrderPaid` releases them. Billing announces neither while it is off (no
`STRIPE_API_KEY`), so an order without `OrderPaymentRequired` is free.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from pix_contracts.envelope import Event

LicenceStatus = Literal[
    "trialing", "active", "past_due", "unpaid", "canceled", "incomplete", "expired"
]
LICENSED_STATUSES: frozenset[str] = frozenset({"trialing", "active"})


class SubscriptionChanged(Event):
    topic: ClassVar[str] = "billing.subscription.changed.v1"
    key_field: ClassVar[str] = "org_id"

    org_id: uuid.UUID
    status: LicenceStatus = Field(
        description="Stripe's subscription status; `expired`: the trial ended unsubscribed"
    )
    plan: str = Field(description="The plan's key from billing's settings, e.g. crm")
    seats: int = 1
    current_period_end: datetime | None = Field(
        default=None, description="End of the paid period, or of the trial"
    )
    trial_end: datetime | None = None

    @property
    def licensed(self) -> bool:
        return self.status in LICENSED_STATUSES


class OrderPaymentRequired(Event):
    """The order is to be paid: hold its gallery's downloads until `OrderPaid`."""

    topic: ClassVar[str] = "billing.order.payment-required.v1"
    key_field: ClassVar[str] = "order_id"

    order_id: uuid.UUID
    org_id: uuid.UUID
    gallery_id: uuid.UUID
    gross_cents: int
    currency: str = "EUR"


class OrderPaid(Event):
    """The order's invoice is paid (online, by bank transfer) or an admin waived it."""

    topic: ClassVar[str] = "billing.order.paid.v1"
    key_field: ClassVar[str] = "order_id"

    order_id: uuid.UUID
    org_id: uuid.UUID
    gallery_id: uuid.UUID
    invoice_number: str | None = None
    via: Literal["stripe", "bank_transfer", "waived"]
    paid_at: datetime


BILLING_EVENTS: tuple[type[Event], ...] = (SubscriptionChanged, OrderPaymentRequired, OrderPaid)
