"""Paid orders: an invoice of ours per order (gap-free numbers per year, seller and buyer with
VAT ids, German VAT included or reverse charge), issued through Stripe at delivery, paid on
Stripe's hosted page (→ `billing.order.paid.v1`), by bank transfer or waived by an admin."""

from __future__ import annotations

import asyncio
import re
import uuid
from decimal import Decimal
from typing import Any

import httpx
from billing_helpers import BillingApp, billing_settings, outbox_events, person
from pix_billing.invoicing import ISSUE_INVOICE, OrderRef
from pix_billing.models import jobs
from pix_contracts import GalleryDelivered, OrderPlaced
from pix_contracts.billing import OrderPaid, OrderPaymentRequired
from pix_contracts.events import OrderedService
from pix_runtime.identity import Identity
from sqlalchemy import func, select

GERMAN = {
    "company": "Makler Berlin GmbH",
    "email": "buchhaltung@makler-berlin.example",
    "street": "Lindenallee 5",
    "postcode": "10115",
    "city": "Berlin",
    "country": "DE",
    "vat_id": "DE123456789",
}
FRENCH = {
    "company": "Agence Lumière SARL",
    "email": "compta@agence-lumiere.example",
    "street": "12 rue de la Paix",
    "postcode": "75002",
    "city": "Paris",
    "country": "FR",
    "vat_id": "FR40303265045",
}


def placed(org_id: uuid.UUID, services: dict[str, int]) -> OrderPlaced:
    return OrderPlaced(
        order_id=uuid.uuid4(),
        org_id=org_id,
        gallery_id=uuid.uuid4(),
        reference=f"PIX-{uuid.uuid4().hex[:6].upper()}",
        placed_by=uuid.uuid4(),
        contact_name="Erika Muster",
        contact_email="erika@makler-example.de",
        property_address="Lindenallee 5, 10115 Berlin",
        services=[OrderedService(key=k, price_cents=v) for k, v in services.items()],
        total_cents=sum(services.values()),
    )


def delivered(order: OrderPlaced) -> GalleryDelivered:
    return GalleryDelivered(
        gallery_id=order.gallery_id,
        org_id=order.org_id,
        order_id=order.order_id,
        delivery=1,
        set_version=3,
        photos=[],
    )


async def invoice_of(billing: BillingApp, who: Identity, order: OrderPlaced) -> dict[str, Any]:
    answer = await billing.client.get(
        f"/orders/{order.order_id}/payment", headers=billing.headers(who)
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def order_delivered(billing: BillingApp, order: OrderPlaced) -> None:
    invoicing = billing.app.state.invoicing
    await invoicing.order_placed(order)
    await invoicing.order_placed(order)  # a redelivery
    await invoicing.gallery_delivered(delivered(order))
    await billing.handled()


async def test_german_and_french_business_invoices(billing: BillingApp) -> None:
    fake = billing.stripe
    assert fake is not None
    german, french = person(), person()
    for who, profile in ((german, GERMAN), (french, FRENCH)):
        saved = await billing.client.put(
            "/account/profile", json=profile, headers=billing.headers(who)
        )
        assert saved.status_code == 200, saved.text

    berlin = placed(german.org_id, {"photos": 22900, "drone": 14900})
    paris = placed(french.org_id, {"photos": 22900})
    await billing.app.state.invoicing.order_placed(berlin)
    payment = await invoice_of(billing, german, berlin)
    assert payment["payment"] == "required"
    assert payment["invoice"] is None  # invoiced at delivery
    required = await outbox_events(billing.runtime, OrderPaymentRequired, order_id=berlin.order_id)
    assert [e.gross_cents for e in required] == [37800]

    await order_delivered(billing, berlin)
    await order_delivered(billing, paris)

    de = (await invoice_of(billing, german, berlin))["invoice"]
    assert de["status"] == "open"
    assert de["vat_treatment"] == "de_vat"
    assert Decimal(de["vat_percent"]) == Decimal(19)
    # 229.00 and 149.00 gross: nets 192.44 and 125.21, VAT 36.56 + 23.79.
    assert (de["net_cents"], de["vat_cents"], de["gross_cents"]) == (31765, 6035, 37800)
    assert de["seller"]["vat_id"] == billing.settings.seller.vat_id
    assert de["buyer"]["vat_id"] == "DE123456789"
    assert de["buyer"]["street"] == "Lindenallee 5"
    assert de["buyer"]["note"] is None

    fr = (await invoice_of(billing, french, paris))["invoice"]
    assert fr["vat_treatment"] == "reverse_charge"
    assert (fr["net_cents"], fr["vat_cents"], fr["gross_cents"]) == (19244, 0, 19244)
    assert "Reverse Charge" in fr["buyer"]["note"]
    assert fr["buyer"]["vat_id"] == "FR40303265045"

    # Our numbers, in order, without a gap; Stripe carries them and agrees on the totals.
    year = billing.runtime.clock.now().year
    numbers = [de["number"], fr["number"]]
    assert all(re.fullmatch(rf"PIX-{year}-\d{{6}}", n) for n in numbers)
    assert int(fr["number"][-6:]) == int(de["number"][-6:]) + 1
    stripe_de = next(
        o for o in fake.objects.values() if o["object"] == "invoice" and o["number"] == de["number"]
    )
    assert stripe_de["total"] == 37800
    assert stripe_de["sent_to"] == GERMAN["email"]  # Stripe mailed it with its payment link
    assert sum(t["amount"] for t in stripe_de["total_taxes"]) == 6035
    assert stripe_de["customer_tax_ids"] == [{"type": "eu_vat", "value": "DE123456789"}]
    stripe_fr = next(
        o for o in fake.objects.values() if o["object"] == "invoice" and o["number"] == fr["number"]
    )
    assert stripe_fr["total"] == 19244
    assert stripe_fr["total_taxes"] == []
    assert "Reverse Charge" in stripe_fr["footer"]
    assert fake.objects[stripe_fr["customer"]]["tax_exempt"] == "reverse"

    # The client pays on Stripe's hosted page; the webhook announces the order paid.
    async with httpx.AsyncClient() as browser:
        page = await browser.get(de["hosted_url"])
        assert "37800" in page.text
        await browser.post(f"{de['hosted_url']}/pay")
    await billing.handled()
    paid = await invoice_of(billing, german, berlin)
    assert paid["payment"] == "paid"
    assert paid["invoice"]["status"] == "paid"
    assert paid["invoice"]["paid_via"] == "stripe"
    events = await outbox_events(billing.runtime, OrderPaid, order_id=berlin.order_id)
    assert len(events) == 1
    assert events[0].via == "stripe"
    assert events[0].gallery_id == berlin.gallery_id
    assert events[0].invoice_number == de["number"]

    # The PDF from the account page, and the invoice list of one's own organisation only.
    pdf = await billing.client.get(f"/invoices/{de['id']}/pdf", headers=billing.headers(german))
    assert pdf.status_code == 303
    async with httpx.AsyncClient() as browser:
        document = await browser.get(pdf.headers["location"])
    assert document.content.startswith(b"%PDF")
    assert de["number"].encode() in document.content
    mine = (await billing.client.get("/invoices", headers=billing.headers(german))).json()
    assert [i["number"] for i in mine] == [de["number"]]
    stranger = await billing.client.get(f"/invoices/{de['id']}", headers=billing.headers(french))
    assert stranger.status_code == 404


async def test_bank_transfer_waiver_and_admin_figures(billing: BillingApp) -> None:
    client, admin = person(), person("admin")
    await billing.client.put("/account/profile", json=GERMAN, headers=billing.headers(client))
    by_transfer = placed(client.org_id, {"photos": 22900})
    waived = placed(client.org_id, {"video": 19900})
    await order_delivered(billing, by_transfer)
    await order_delivered(billing, waived)

    summary = (await billing.client.get("/admin/summary", headers=billing.headers(admin))).json()
    open_numbers = {i["number"] for i in summary["open_invoices"]}
    invoice = (await invoice_of(billing, client, by_transfer))["invoice"]
    assert invoice["number"] in open_numbers

    refused = await billing.client.post(
        f"/admin/orders/{by_transfer.order_id}/settle",
        json={"via": "bank_transfer"},
        headers=billing.headers(client),
    )
    assert refused.status_code == 403
    settled = await billing.client.post(
        f"/admin/orders/{by_transfer.order_id}/settle",
        json={"via": "bank_transfer"},
        headers=billing.headers(admin),
    )
    assert settled.status_code == 200, settled.text
    assert settled.json()["payment"] == "paid"
    assert settled.json()["invoice"]["paid_via"] == "bank_transfer"
    gone = await billing.client.post(
        f"/admin/orders/{waived.order_id}/settle",
        json={"via": "waived"},
        headers=billing.headers(admin),
    )
    assert gone.json()["payment"] == "waived"
    assert gone.json()["invoice"]["status"] == "waived"
    await billing.handled()  # Stripe's own webhooks for both change nothing more

    announced = await outbox_events(billing.runtime, OrderPaid, org_id=client.org_id)
    assert [e.via for e in announced] == ["bank_transfer", "waived"]
    stripe_invoice = billing.stripe.objects[invoice_id(billing, invoice["number"])]  # type: ignore[union-attr]
    assert stripe_invoice["status"] == "paid"
    assert stripe_invoice["paid_out_of_band"] is True

    summary = (await billing.client.get("/admin/summary", headers=billing.headers(admin))).json()
    month = billing.runtime.clock.now().strftime("%Y-%m")
    assert any(r["month"] == month and r["gross_cents"] >= 22900 for r in summary["revenue"])
    assert invoice["number"] not in {i["number"] for i in summary["open_invoices"]}


def invoice_id(billing: BillingApp, number: str) -> str:
    assert billing.stripe is not None
    return next(
        o["id"]
        for o in billing.stripe.objects.values()
        if o["object"] == "invoice" and o["number"] == number
    )


async def test_numbers_stay_gap_free_under_concurrent_issuing(billing: BillingApp) -> None:
    client = person()
    await billing.client.put("/account/profile", json=GERMAN, headers=billing.headers(client))
    orders = [placed(client.org_id, {"floorplan": 4900}) for _ in range(6)]
    invoicing = billing.app.state.invoicing
    for order in orders:
        await invoicing.order_placed(order)
    rows = await asyncio.gather(*(invoicing._numbered(o.order_id) for o in orders))
    again = await asyncio.gather(*(invoicing._numbered(o.order_id) for o in orders))
    numbers = sorted(int(r.number[-6:]) for r in rows)
    assert numbers == list(range(numbers[0], numbers[0] + 6))
    assert [r.number for r in again] == [r.number for r in rows]
    assert OrderRef(order_id=orders[0].order_id)


async def test_billing_off_orders_are_free(billing_off: BillingApp) -> None:
    client = person()
    order = placed(client.org_id, {"photos": 22900})
    await billing_off.app.state.invoicing.order_placed(order)
    await billing_off.app.state.invoicing.gallery_delivered(delivered(order))
    assert await invoice_jobs(billing_off.runtime, order) == 0
    payment = await invoice_of(billing_off, client, order)
    assert payment["payment"] == "free"
    assert payment["invoice"] is None
    assert (
        await outbox_events(billing_off.runtime, OrderPaymentRequired, order_id=order.order_id)
        == []
    )


async def test_invoiced_at_ordering_when_set(billing: BillingApp) -> None:
    from pix_billing.app import create_app

    assert billing.stripe is not None
    app, runtime = create_app(billing_settings(billing.stripe, invoice_orders_at="ordering"))
    try:
        at_ordering = BillingApp(billing.client, runtime, runtime.settings, app, billing.stripe)  # type: ignore[arg-type]
        client = person()
        order = placed(client.org_id, {"photos": 22900})
        await app.state.invoicing.order_placed(order)
        await at_ordering.handled()
        payment = await app.state.invoicing.order_payment(order.order_id, None)
        assert payment.payment == "invoiced"
        assert payment.invoice is not None
        assert payment.invoice.status == "open"
        assert payment.invoice.gross_cents == 22900
        # The delivery later issues nothing more: the one job is the one from ordering.
        await app.state.invoicing.gallery_delivered(delivered(order))
        assert await invoice_jobs(runtime, order) == 1
    finally:
        await runtime.db.dispose()


async def invoice_jobs(runtime: Any, order: OrderPlaced) -> int:
    """Invoice jobs ever queued for the order (the jobs table is shared by the session)."""
    async with runtime.db.sessions() as session:
        count = await session.scalar(
            select(func.count()).where(
                jobs.c.kind == ISSUE_INVOICE, jobs.c.key == str(order.order_id)
            )
        )
    return int(count or 0)
