"""Stripe through its official client, with typed answers; nothing else imports `stripe`.

The client's base address comes from settings (`PIX_BILLING_STRIPE_API_BASE`, a local server in
tests). Every create carries an idempotency key derived from our own ids, so a job that retries
after a lost answer gets Stripe's first answer instead of a second object.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe

from pix_billing.settings import BillingSettings


class WebhookRefused(Exception):
    pass


def _time(value: object) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class EventRef:
    id: str
    type: str
    object_id: str | None
    object_kind: str | None


@dataclass(frozen=True)
class Subscription:
    id: str
    customer: str
    status: str
    org_id: uuid.UUID | None
    plan: str | None
    seats: int
    current_period_end: datetime | None
    trial_end: datetime | None


@dataclass(frozen=True)
class Invoice:
    id: str
    customer: str
    status: str
    number: str | None
    subscription_id: str | None
    metadata: dict[str, str]
    currency: str
    subtotal: int
    tax: int
    total: int
    amount_paid: int
    hosted_url: str | None
    pdf_url: str | None
    created: datetime
    paid_at: datetime | None
    due_at: datetime | None
    attempt_count: int
    paid_out_of_band: bool


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    mode: str
    customer: str | None
    subscription: str | None
    org_id: uuid.UUID | None


@dataclass(frozen=True)
class Customer:
    name: str | None
    email: str | None
    street: str | None
    postcode: str | None
    city: str | None
    country: str
    vat_id: str | None
    reverse_charge: bool


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    amount_cents: int


def _org(metadata: dict[str, Any] | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str((metadata or {}).get("org_id")))
    except ValueError:
        return None


def _subscription(data: dict[str, Any]) -> Subscription:
    items = data.get("items", {}).get("data", [])
    item = items[0] if items else {}
    price = item.get("price") or {}
    metadata = data.get("metadata") or {}
    # Since API version 2025-03-31 the period lives on the items; older ones had it on top.
    period_end = item.get("current_period_end", data.get("current_period_end"))
    return Subscription(
        id=data["id"],
        customer=str(data["customer"]),
        status=str(data["status"]),
        org_id=_org(metadata),
        plan=metadata.get("plan") or (price.get("metadata") or {}).get("plan"),
        seats=int(item.get("quantity") or 1),
        current_period_end=_time(period_end),
        trial_end=_time(data.get("trial_end")),
    )


def _invoice(data: dict[str, Any]) -> Invoice:
    parent = data.get("parent") or {}
    details = parent.get("subscription_details") or {}
    subscription = details.get("subscription") or data.get("subscription")
    taxes = data.get("total_taxes")
    tax = sum(int(t["amount"]) for t in taxes) if taxes is not None else int(data.get("tax") or 0)
    transitions = data.get("status_transitions") or {}
    return Invoice(
        id=data["id"],
        customer=str(data["customer"]),
        status=str(data["status"]),
        number=data.get("number"),
        subscription_id=str(subscription) if subscription else None,
        metadata=dict(data.get("metadata") or {}),
        currency=str(data.get("currency", "eur")).upper(),
        subtotal=int(data.get("subtotal") or 0),
        tax=tax,
        total=int(data.get("total") or 0),
        amount_paid=int(data.get("amount_paid") or 0),
        hosted_url=data.get("hosted_invoice_url"),
        pdf_url=data.get("invoice_pdf"),
        created=_time(data.get("created")) or datetime.now(UTC),
        paid_at=_time(transitions.get("paid_at")),
        due_at=_time(data.get("due_date")),
        attempt_count=int(data.get("attempt_count") or 0),
        paid_out_of_band=bool(data.get("paid_out_of_band")),
    )


class StripeApi:
    def __init__(self, settings: BillingSettings) -> None:
        assert settings.stripe_api_key is not None
        self._client = stripe.StripeClient(
            settings.stripe_api_key.get_secret_value(),
            base_addresses={"api": settings.stripe_api_base.rstrip("/")},
            http_client=stripe.HTTPXClient(timeout=settings.stripe_timeout_seconds),
            max_network_retries=2,
        )
        secret = settings.stripe_webhook_secret
        self._webhook_secret = secret.get_secret_value() if secret else None
        self._tolerance = settings.webhook_tolerance_seconds
        self._tax_rates: dict[str, str] = {}

    def verified_event(self, payload: bytes, signature: str | None) -> EventRef:
        """The event of a webhook request, if Stripe signed it with our endpoint's secret."""
        if not self._webhook_secret:
            raise WebhookRefused("no webhook secret configured (STRIPE_WEBHOOK_SECRET)")
        try:
            event = self._client.construct_event(
                payload, signature or "", self._webhook_secret, tolerance=self._tolerance
            )
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise WebhookRefused(str(exc)) from exc
        obj = event.to_dict()["data"]["object"]
        return EventRef(
            id=event.id,
            type=event.type,
            object_id=obj.get("id"),
            object_kind=obj.get("object"),
        )

    async def create_customer(self, org_id: uuid.UUID, customer: Customer) -> str:
        created = await self._client.v1.customers.create_async(
            {
                "name": customer.name or "",
                "email": customer.email or "",
                "metadata": {"org_id": str(org_id)},
                "address": {
                    "line1": customer.street or "",
                    "postal_code": customer.postcode or "",
                    "city": customer.city or "",
                    "country": customer.country,
                },
                "tax_exempt": "reverse" if customer.reverse_charge else "none",
                "tax_id_data": [{"type": "eu_vat", "value": customer.vat_id}]
                if customer.vat_id
                else [],
                "preferred_locales": ["de"],
            },
            {"idempotency_key": f"customer-{org_id}"},
        )
        return created.id

    async def update_customer(self, customer_id: str, customer: Customer) -> None:
        await self._client.v1.customers.update_async(
            customer_id,
            {
                "name": customer.name or "",
                "email": customer.email or "",
                "address": {
                    "line1": customer.street or "",
                    "postal_code": customer.postcode or "",
                    "city": customer.city or "",
                    "country": customer.country,
                },
                "tax_exempt": "reverse" if customer.reverse_charge else "none",
            },
        )

    async def tax_rate(self, percent: float, *, inclusive: bool) -> str:
        key = f"vat-de-{percent:g}-{'incl' if inclusive else 'excl'}"
        if key not in self._tax_rates:
            rate = await self._client.v1.tax_rates.create_async(
                {
                    "display_name": "USt.",
                    "description": f"Umsatzsteuer {percent:g} %",
                    "percentage": percent,
                    "inclusive": inclusive,
                    "country": "DE",
                    "jurisdiction": "DE",
                },
                {"idempotency_key": key},
            )
            self._tax_rates[key] = rate.id
        return self._tax_rates[key]

    async def checkout(
        self,
        *,
        org_id: uuid.UUID,
        customer_id: str,
        plan_key: str,
        plan_name: str,
        seat_cents: int,
        currency: str,
        seats: int,
        trial_days: int,
        tax_rate: str | None,
        success_url: str,
        cancel_url: str,
        locale: str,
    ) -> str:
        metadata = {"org_id": str(org_id), "plan": plan_key}
        session = await self._client.v1.checkout.sessions.create_async(
            {
                "mode": "subscription",
                "customer": customer_id,
                "client_reference_id": str(org_id),
                "success_url": success_url,
                "cancel_url": cancel_url,
                "locale": "de" if locale == "de" else "en",
                "metadata": metadata,
                "line_items": [
                    {
                        "quantity": seats,
                        "price_data": {
                            "currency": currency,
                            "unit_amount": seat_cents,
                            "recurring": {"interval": "month"},
                            "product_data": {"name": plan_name, "metadata": metadata},
                        },
                        "tax_rates": [tax_rate] if tax_rate else [],
                    }
                ],
                "subscription_data": {
                    "metadata": metadata,
                    **({"trial_period_days": trial_days} if trial_days > 0 else {}),
                },
            }
        )
        assert session.url is not None
        return session.url

    async def portal(self, customer_id: str, *, return_url: str, locale: str) -> str:
        session = await self._client.v1.billing_portal.sessions.create_async(
            {"customer": customer_id, "return_url": return_url, "locale": locale}
        )
        return session.url

    async def checkout_session(self, session_id: str) -> CheckoutSession:
        session = (await self._client.v1.checkout.sessions.retrieve_async(session_id)).to_dict()
        return CheckoutSession(
            id=session["id"],
            mode=str(session.get("mode")),
            customer=session.get("customer"),
            subscription=session.get("subscription"),
            org_id=_org(session.get("metadata")),
        )

    async def subscription(self, subscription_id: str) -> Subscription:
        found = await self._client.v1.subscriptions.retrieve_async(subscription_id)
        return _subscription(found.to_dict())

    async def invoice(self, invoice_id: str) -> Invoice:
        return _invoice((await self._client.v1.invoices.retrieve_async(invoice_id)).to_dict())

    async def order_invoice(
        self,
        *,
        invoice_id: uuid.UUID,
        customer_id: str,
        number: str,
        currency: str,
        lines: list[InvoiceLine],
        tax_rate: str | None,
        footer: str | None,
        due_days: int,
        metadata: dict[str, str],
    ) -> Invoice:
        """A finalized invoice with our number, sent for payment (card, SEPA, … per account)."""
        draft = await self._client.v1.invoices.create_async(
            {
                "customer": customer_id,
                "number": number,
                "currency": currency.lower(),
                "collection_method": "send_invoice",
                "days_until_due": due_days,
                "auto_advance": False,
                "pending_invoice_items_behavior": "exclude",
                "default_tax_rates": [tax_rate] if tax_rate else [],
                "metadata": metadata,
                **({"footer": footer} if footer else {}),
            },
            {"idempotency_key": f"invoice-{invoice_id}"},
        )
        assert draft.id is not None
        if draft.status == "draft":
            for index, line in enumerate(lines):
                await self._client.v1.invoice_items.create_async(
                    {
                        "customer": customer_id,
                        "invoice": draft.id,
                        "amount": line.amount_cents,
                        "currency": currency.lower(),
                        "description": line.description,
                    },
                    {"idempotency_key": f"invoice-{invoice_id}-line-{index}"},
                )
            draft = await self._client.v1.invoices.finalize_invoice_async(draft.id)
            # Stripe emails the customer the invoice with its payment link.
            draft = await self._client.v1.invoices.send_invoice_async(
                draft.id, options={"idempotency_key": f"invoice-{invoice_id}-send"}
            )
        return _invoice(draft.to_dict())

    async def paid_out_of_band(self, stripe_invoice_id: str) -> Invoice:
        current = await self.invoice(stripe_invoice_id)
        if current.status != "open":
            return current
        paid = await self._client.v1.invoices.pay_async(
            stripe_invoice_id, {"paid_out_of_band": True}
        )
        return _invoice(paid.to_dict())

    async def void(self, stripe_invoice_id: str) -> Invoice:
        current = await self.invoice(stripe_invoice_id)
        if current.status != "open":
            return current
        return _invoice(
            (await self._client.v1.invoices.void_invoice_async(stripe_invoice_id)).to_dict()
        )
