"""Paid orders: billing's word on an order decides whether its gallery's downloads are out.

`billing.order.payment-required.v1` locks the order's gallery, `billing.order.paid.v1` unlocks
it; the two may arrive in either order (a payment that came first leaves the gallery unlocked)
and an order billing never asked payment for never locks it (billing off, a free order). While
locked, the export API answers 402 for the gallery's downloads and a delivered version is built
but held: not announced, not sent to webhooks, not pushed to CRMs until the payment arrives.
"""

from __future__ import annotations

import uuid

from pix_runtime.errors import DomainError
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from pix_export.models import order_payments


class PaymentRequired(DomainError):
    """The gallery's order is not paid yet: its downloads wait (HTTP 402)."""

    status = 402

    def __init__(self) -> None:
        super().__init__(
            "payment_required",
            "the downloads are released once the order's invoice is paid (see /billing)",
        )


async def gallery_locked(session: AsyncSession, gallery_id: uuid.UUID) -> bool:
    """Some order of the gallery must be paid and is not."""
    p = order_payments
    locked = await session.scalar(
        select(
            exists().where(
                p.c.gallery_id == gallery_id, p.c.required_at.is_not(None), p.c.paid_at.is_(None)
            )
        )
    )
    return bool(locked)
