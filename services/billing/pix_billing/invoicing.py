"""Paid orders: an order's price becomes an invoice of ours (gap-free number per year, seller and
buyer with their VAT ids, German VAT or reverse charge) issued through Stripe when its gallery
is first delivered (or at ordering, `PIX_BILLING_INVOICE_ORDERS_AT`); paid online, by bank
transfer or waived by an admin, the order is announced as `billing.order.paid.v1`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pix_contracts import GalleryDelivered, OrderPlaced
from pix_contracts.billing import OrderPaid, OrderPaymentRequired
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import Conflict, NotFound
from pix_runtime.identity import Identity
from pix_runtime.inbox import first_delivery
from pix_runtime.jobs import JobContext, enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue
from pydantic import BaseModel
from sqlalchemy import RowMapping, select, text, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_billing import models as m
from pix_billing.records import InvoiceView, OrderPayment
from pix_billing.service import SOURCE, Billing
from pix_billing.settings import BillingSettings
from pix_billing.stripe_api import Invoice, InvoiceLine
from pix_billing.vat import tax, vat_id_for_tax

log = get_logger(__name__)

ISSUE_INVOICE = "billing.invoice-order"
SERVICE_NAMES = {
    "photos": "Immobilienfotografie / Property photography",
    "drone": "Drohnenaufnahmen / Drone shots",
    "tour360": "360°-Rundgang / 360° tour",
    "floorplan": "Grundriss / Floor plan",
    "video": "Video",
}


class OrderRef(BaseModel):
    order_id: uuid.UUID


def invoice_view(row: RowMapping) -> InvoiceView:
    return InvoiceView.model_validate(dict(row))


class StoredInvoice(InvoiceView):
    """An invoice with its Stripe id (None until Stripe has it): for billing's own use."""

    stripe_invoice_id: str | None

    @classmethod
    def from_row(cls, row: RowMapping) -> StoredInvoice:
        return cls.model_validate(dict(row))


class Invoicing:
    def __init__(
        self, db: Database, billing: Billing, settings: BillingSettings, clock: Clock
    ) -> None:
        self._db = db
        self._billing = billing
        self._settings = settings
        self._clock = clock

    # --- orders' events ---------------------------------------------------------------------

    async def order_placed(self, event: OrderPlaced) -> None:
        gross = event.total_cents if event.total_cents is not None else 0
        if not event.total_cents and event.services:
            gross = sum(s.price_cents for s in event.services)
        payable = self._billing.enabled and gross > 0
        async with self._db.transaction() as session:
            if not await first_delivery(
                session, m.inbox, consumer="billing.orders", event_id=event.event_id
            ):
                return
            await session.execute(
                insert(m.orders)
                .values(
                    order_id=event.order_id,
                    org_id=event.org_id,
                    gallery_id=event.gallery_id,
                    reference=event.reference,
                    contact_name=event.contact_name,
                    contact_email=str(event.contact_email),
                    property_address=event.property_address,
                    services=[s.model_dump() for s in event.services],
                    gross_cents=gross,
                    currency=event.currency,
                    payment="required" if payable else "free",
                    placed_at=event.occurred_at,
                )
                .on_conflict_do_nothing()
            )
            if not payable:
                return
            await enqueue(
                session,
                m.outbox,
                OrderPaymentRequired(
                    order_id=event.order_id,
                    org_id=event.org_id,
                    gallery_id=event.gallery_id,
                    gross_cents=gross,
                    currency=event.currency,
                ),
                source=SOURCE,
            )
            if self._settings.invoice_orders_at == "ordering":
                await self._queue_invoice(session, event.order_id)

    async def gallery_delivered(self, event: GalleryDelivered) -> None:
        async with self._db.transaction() as session:
            if not await first_delivery(
                session, m.inbox, consumer="billing.deliveries", event_id=event.event_id
            ):
                return
            result = await session.execute(
                update(m.orders)
                .where(m.orders.c.order_id == event.order_id, m.orders.c.delivered_at.is_(None))
                .values(delivered_at=event.occurred_at)
                .returning(m.orders.c.payment)
            )
            payment = result.scalar()
            if payment == "required" and self._settings.invoice_orders_at == "delivery":
                await self._queue_invoice(session, event.order_id)

    async def _queue_invoice(self, session: AsyncSession, order_id: uuid.UUID) -> None:
        await enqueue_job(
            session, m.jobs, ISSUE_INVOICE, OrderRef(order_id=order_id), key=str(order_id)
        )

    # --- issuing ----------------------------------------------------------------------------

    async def _next_number(self, session: AsyncSession, year: int) -> str:
        # The counter row stays locked until the invoice row commits with it: no gap, no twin.
        result = await session.execute(
            insert(m.invoice_numbers)
            .values(year=year, last=1)
            .on_conflict_do_update(
                index_elements=[m.invoice_numbers.c.year],
                set_={"last": m.invoice_numbers.c.last + 1},
            )
            .returning(m.invoice_numbers.c.last)
        )
        return f"{self._settings.invoice_prefix}-{year}-{result.scalar_one():06d}"

    async def _numbered(self, order_id: uuid.UUID) -> StoredInvoice | None:
        """The order's invoice row, numbered and stored once (a retry finds it)."""
        async with self._db.sessions() as session:
            org_id = await session.scalar(
                select(m.orders.c.org_id).where(m.orders.c.order_id == order_id)
            )
        if org_id is None:
            return None
        # The buyer as the invoice prints it, read before the numbering transaction.
        licence = await self._billing.licence(org_id)
        profile = licence.profile
        async with self._db.transaction() as session:
            order = (
                (
                    await session.execute(
                        select(m.orders).where(m.orders.c.order_id == order_id).with_for_update()
                    )
                )
                .mappings()
                .one()
            )
            found = await session.execute(
                select(m.invoices).where(m.invoices.c.order_id == order_id)
            )
            existing = found.mappings().first()
            if existing is not None:
                return StoredInvoice.from_row(existing)
            if order["payment"] != "required":
                return None
            services = order["services"] or [{"key": "photos", "price_cents": order["gross_cents"]}]
            taxed = tax(
                [int(s["price_cents"]) for s in services],
                country=profile.country,
                # Reverse charge only for a VAT id VIES verified (pix_billing.vat).
                vat_id=vat_id_for_tax(profile.vat_id, licence.vat_status),
                percent=self._settings.vat_percent,
            )
            lines = [
                {
                    "description": f"{SERVICE_NAMES.get(s['key'], s['key'])} – "
                    f"{order['reference']}, {order['property_address']}",
                    "amount_cents": cents,
                }
                for s, cents in zip(services, taxed.line_cents, strict=True)
            ]
            now = self._clock.now()
            buyer = profile.model_dump()
            buyer["company"] = buyer["company"] or order["contact_name"]
            buyer["email"] = buyer["email"] or order["contact_email"]
            row = {
                "id": uuid.uuid4(),
                "org_id": order["org_id"],
                "order_id": order_id,
                "kind": "order",
                "number": await self._next_number(session, now.year),
                "status": "draft",
                "currency": order["currency"],
                "net_cents": taxed.net_cents,
                "vat_cents": taxed.vat_cents,
                "gross_cents": taxed.gross_cents,
                "vat_percent": taxed.percent,
                "vat_treatment": taxed.treatment,
                "seller": self._settings.seller.model_dump(),
                "buyer": {**buyer, "note": taxed.note},
                "lines": lines,
                "issued_at": now,
            }
            result = await session.execute(insert(m.invoices).values(**row).returning(m.invoices))
            await session.execute(
                update(m.orders).where(m.orders.c.order_id == order_id).values(payment="invoiced")
            )
            return StoredInvoice.from_row(result.mappings().one())

    async def issue(self, payload: OrderRef, ctx: JobContext) -> None:
        """Job: number the invoice, then create it at Stripe (idempotently) and store its ids."""
        stripe = self._billing.stripe
        if stripe is None:
            return
        invoice = await self._numbered(payload.order_id)
        if invoice is None or invoice.stripe_invoice_id is not None:
            return
        assert invoice.number is not None  # an order's invoice is numbered when it is stored
        customer_id = await self._billing.customer_id(invoice.org_id)
        tax_rate = None
        if invoice.vat_treatment == "de_vat":
            tax_rate = await stripe.tax_rate(float(invoice.vat_percent), inclusive=True)
        issued = await stripe.order_invoice(
            invoice_id=invoice.id,
            customer_id=customer_id,
            number=invoice.number,
            currency=invoice.currency,
            lines=[InvoiceLine(li["description"], li["amount_cents"]) for li in invoice.lines],
            tax_rate=tax_rate,
            footer=invoice.buyer.get("note"),
            due_days=self._settings.invoice_due_days,
            metadata={
                "invoice_id": str(invoice.id),
                "order_id": str(payload.order_id),
                "org_id": str(invoice.org_id),
            },
        )
        if issued.total != invoice.gross_cents:
            log.error(
                "stripe.invoice_total_differs",
                number=invoice.number,
                ours=invoice.gross_cents,
                stripes=issued.total,
            )
        async with self._db.transaction() as session:
            await session.execute(
                update(m.invoices)
                .where(m.invoices.c.id == invoice.id)
                .values(
                    stripe_invoice_id=issued.id,
                    status=issued.status if issued.status != "draft" else "open",
                    hosted_url=issued.hosted_url,
                    pdf_url=issued.pdf_url,
                    due_at=issued.due_at,
                )
            )
            await ctx.finish(session)
        if issued.status == "paid":
            await self.invoice_changed(issued)

    # --- payments ---------------------------------------------------------------------------

    async def invoice_changed(self, current: Invoice) -> None:
        """Stripe's current state of an invoice, from a webhook's job."""
        async with self._db.transaction() as session:
            found = await session.execute(
                select(m.invoices)
                .where(m.invoices.c.stripe_invoice_id == current.id)
                .with_for_update()
            )
            row = found.mappings().first()
            if row is None and current.metadata.get("invoice_id"):
                found = await session.execute(
                    select(m.invoices)
                    .where(m.invoices.c.id == uuid.UUID(current.metadata["invoice_id"]))
                    .with_for_update()
                )
                row = found.mappings().first()
            if row is None:
                if current.subscription_id:
                    await self._subscription_invoice(session, current)
                return
            if row["status"] in ("paid", "waived"):
                return
            failed = current.attempt_count > row["attempts"] and current.status == "open"
            await session.execute(
                update(m.invoices)
                .where(m.invoices.c.id == row["id"])
                .values(
                    stripe_invoice_id=current.id,
                    status=current.status,
                    hosted_url=current.hosted_url,
                    pdf_url=current.pdf_url,
                    due_at=current.due_at,
                    attempts=current.attempt_count,
                    payment_failed_at=self._clock.now() if failed else row["payment_failed_at"],
                    paid_at=current.paid_at if current.status == "paid" else None,
                    paid_via=("bank_transfer" if current.paid_out_of_band else "stripe")
                    if current.status == "paid"
                    else None,
                )
            )
            if current.status == "paid" and row["order_id"] is not None:
                via: Literal["stripe", "bank_transfer"] = (
                    "bank_transfer" if current.paid_out_of_band else "stripe"
                )
                await self._order_paid(
                    session, row["order_id"], via, current.paid_at or self._clock.now()
                )

    async def _subscription_invoice(self, session: AsyncSession, current: Invoice) -> None:
        owner = await session.execute(
            select(m.accounts.c.org_id).where(m.accounts.c.stripe_customer_id == current.customer)
        )
        org_id = owner.scalar()
        if org_id is None or current.status == "draft":
            return
        failed_at = (
            self._clock.now() if current.attempt_count and current.status == "open" else None
        )
        values: dict[str, Any] = {  # the invoices columns Stripe's state sets
            "status": current.status,
            "number": current.number,
            "gross_cents": current.total,
            "vat_cents": current.tax,
            "net_cents": current.total - current.tax,
            "hosted_url": current.hosted_url,
            "pdf_url": current.pdf_url,
            "due_at": current.due_at,
            "paid_at": current.paid_at,
            "paid_via": "stripe" if current.status == "paid" else None,
            "attempts": current.attempt_count,
            "payment_failed_at": failed_at,
        }
        await session.execute(
            insert(m.invoices)
            .values(
                id=uuid.uuid4(),
                org_id=org_id,
                kind="subscription",
                currency=current.currency,
                vat_percent=Decimal(str(self._settings.vat_percent)) if current.tax else 0,
                vat_treatment="de_vat" if current.tax else "reverse_charge",
                seller=self._settings.seller.model_dump(),
                buyer={},
                lines=[],
                stripe_invoice_id=current.id,
                issued_at=current.created,
                **values,
            )
            .on_conflict_do_update(index_elements=[m.invoices.c.stripe_invoice_id], set_=values)
        )

    async def _order_paid(
        self,
        session: AsyncSession,
        order_id: uuid.UUID,
        via: Literal["stripe", "bank_transfer", "waived"],
        paid_at: datetime,
    ) -> None:
        settled = "waived" if via == "waived" else "paid"
        result = await session.execute(
            update(m.orders)
            .where(
                m.orders.c.order_id == order_id,
                m.orders.c.payment.in_(("required", "invoiced")),
            )
            .values(payment=settled)
            .returning(m.orders)
        )
        order = result.mappings().first()
        if order is None:
            return  # settled before: announced then
        number = await session.execute(
            select(m.invoices.c.number).where(m.invoices.c.order_id == order_id)
        )
        await enqueue(
            session,
            m.outbox,
            OrderPaid(
                order_id=order_id,
                org_id=order["org_id"],
                gallery_id=order["gallery_id"],
                invoice_number=number.scalar(),
                via=via,
                paid_at=paid_at,
            ),
            source=SOURCE,
        )

    async def settle(
        self, order_id: uuid.UUID, via: Literal["bank_transfer", "waived"]
    ) -> OrderPayment:
        """An admin's decision: paid by bank transfer (recorded at Stripe too) or waived."""
        async with self._db.sessions() as session:
            found = await session.execute(
                select(m.invoices).where(m.invoices.c.order_id == order_id)
            )
            invoice = found.mappings().first()
        stripe = self._billing.stripe
        if invoice is not None and invoice["stripe_invoice_id"] and stripe is not None:
            if via == "bank_transfer":
                await stripe.paid_out_of_band(invoice["stripe_invoice_id"])
            else:
                await stripe.void(invoice["stripe_invoice_id"])
        now = self._clock.now()
        async with self._db.transaction() as session:
            order = (
                (
                    await session.execute(
                        select(m.orders).where(m.orders.c.order_id == order_id).with_for_update()
                    )
                )
                .mappings()
                .first()
            )
            if order is None:
                raise NotFound("order")
            if order["payment"] == "free":
                raise Conflict("nothing_to_pay", "this order has nothing to pay")
            if invoice is not None and invoice["status"] not in ("paid", "waived"):
                await session.execute(
                    update(m.invoices)
                    .where(m.invoices.c.id == invoice["id"])
                    .values(
                        status="paid" if via == "bank_transfer" else "waived",
                        paid_at=now,
                        paid_via=via,
                    )
                )
            await self._order_paid(session, order_id, via, now)
        return await self.order_payment(order_id, None)

    # --- reading ----------------------------------------------------------------------------

    async def order_payment(self, order_id: uuid.UUID, viewer: Identity | None) -> OrderPayment:
        async with self._db.sessions() as session:
            query = select(m.orders).where(m.orders.c.order_id == order_id)
            if viewer is not None and not viewer.is_admin:
                query = query.where(m.orders.c.org_id == viewer.org_id)
            order = (await session.execute(query)).mappings().first()
            if order is None:
                raise NotFound("order")
            invoice = (
                (await session.execute(select(m.invoices).where(m.invoices.c.order_id == order_id)))
                .mappings()
                .first()
            )
        return OrderPayment(
            order_id=order_id,
            org_id=order["org_id"],
            payment=order["payment"],
            gross_cents=order["gross_cents"],
            invoice=invoice_view(invoice) if invoice else None,
        )

    async def invoices(self, viewer: Identity, org_id: uuid.UUID | None) -> list[InvoiceView]:
        scope = m.invoices.c.org_id == viewer.org_id
        if viewer.is_admin:
            scope = m.invoices.c.org_id == org_id if org_id else true()
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(m.invoices)
                .where(scope, m.invoices.c.status != "draft")
                .order_by(m.invoices.c.issued_at.desc())
                .limit(500)
            )
            return [invoice_view(r) for r in rows.mappings()]

    async def invoice(self, viewer: Identity, invoice_id: uuid.UUID) -> InvoiceView:
        async with self._db.sessions() as session:
            query = select(m.invoices).where(m.invoices.c.id == invoice_id)
            if not viewer.is_admin:
                query = query.where(m.invoices.c.org_id == viewer.org_id)
            row = (await session.execute(query)).mappings().first()
        if row is None:
            raise NotFound("invoice")
        return invoice_view(row)

    async def statement_timeout(self, session: AsyncSession) -> None:
        await session.execute(text("SET LOCAL statement_timeout = '10s'"))
