"""Paid orders in the browser: with billing on (the local Stripe server), an ordered gallery's
downloads panel says the downloads wait for the invoice; paying it on Stripe's hosted invoice
page unlocks the panel by itself (webhook → billing → `billing.order.paid.v1` → export)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from stack import Stack, run_stack
from test_orders_gallery_browser import signed_up_and_in

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "billing"))
from billing_helpers import API_KEY, WEBHOOK_SECRET
from pix_stack.embedded import free_port
from stripe_fake import FakeStripe, FakeStripeServer

LOCKED = "Die Downloads werden freigeschaltet, sobald die Rechnung bezahlt ist."


@pytest.fixture
async def stripe() -> AsyncIterator[FakeStripe]:
    fake = FakeStripe(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET, port=free_port())
    server = FakeStripeServer(fake)
    await server.start()
    yield fake
    await server.stop()


@pytest.fixture
def billed_stack(scratch: Path, stripe: FakeStripe) -> Iterator[Stack]:
    data_dir = scratch / "stack-billed"
    data_dir.mkdir()
    settings = {
        "STRIPE_API_KEY": API_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PIX_BILLING_STRIPE_API_BASE": stripe.base,
        "PIX_BILLING_INVOICE_ORDERS_AT": "ordering",
    }
    for stack in run_stack(data_dir, settings):
        stripe.webhook_url = stack.base_url + "/api/billing/public/stripe/webhook"
        yield stack


async def test_paying_the_invoice_unlocks_the_downloads(page: Page, billed_stack: Stack) -> None:
    stack = billed_stack
    await signed_up_and_in(page, stack)
    await page.goto(stack.base_url + "/orders/new")
    await page.get_by_label("Telefon").fill("030 1234567")
    await page.get_by_label("Straße").fill("Lindenallee")
    await page.get_by_label("Hausnr.").fill("5")
    await page.get_by_label("PLZ").fill("10115")
    await page.get_by_label("Ort").fill("Berlin")
    await page.get_by_label("Wohnfläche (m²)").fill("96")
    await page.get_by_label("Zimmer").fill("3")
    await page.get_by_label("Kauf").check()
    soon = (date.today() + timedelta(days=9)).isoformat()
    await page.get_by_label("Termin 1", exact=True).fill(soon)
    await page.get_by_role("button", name="Verbindlich bestellen").click()
    await expect(page.get_by_role("status")).to_contain_text("ist eingegangen")

    await page.get_by_role("link", name="Aufträge", exact=True).click()
    await (
        page.locator("[data-test=order-history]")
        .get_by_role("link", name="Zur Galerie")
        .first.click()
    )
    locked = page.locator("[data-test=exports-locked]")
    # Billing announces the payment at ordering; the polling panel shows it once export knows.
    await page.reload()
    await expect(locked).to_contain_text(LOCKED, timeout=30_000)
    await expect(locked.get_by_role("link")).to_have_attribute("href", "/billing")
    await expect(page.locator("#exports")).to_have_attribute("data-busy", "yes")

    # The invoice is paid in another tab, on Stripe's hosted page linked from /billing.
    billing = await page.context.new_page()
    await billing.goto(stack.base_url + "/billing")
    pay = billing.get_by_role("link", name="Bezahlen").first
    await expect(pay).to_be_visible(timeout=30_000)
    await pay.click()
    await billing.locator("[data-test=pay]").click()
    await expect(billing.locator("[data-test=paid]")).to_have_text("paid")

    # The gallery's tab was left alone: its panel polls and unlocks by itself.
    await expect(locked).to_have_count(0, timeout=30_000)
    await expect(page.locator("#exports")).to_have_attribute("data-busy", "no")
