"""Notification preferences in the browser: a client switches "order status" emails off on the
account page; their next order's confirmation is not mailed but listed as switched off in the
admin's mail log; the security switch cannot be touched."""

from __future__ import annotations

import asyncio
import time

from dev_outbox import messages_to
from playwright.async_api import Browser, Page, expect
from stack import Stack
from staff import admin_signed_in, new_page, placed_order
from test_orders_gallery_browser import signed_up_and_in


async def test_order_status_emails_switched_off_on_the_account_page(
    page: Page, browser: Browser, stack: Stack
) -> None:
    email = await signed_up_and_in(page, stack)
    await page.goto(stack.base_url + "/account")
    card = page.locator("[data-test=notifications]")
    await expect(card.get_by_role("heading")).to_have_text("E-Mail-Benachrichtigungen")
    security = card.get_by_label("Sicherheit (immer an)")
    await expect(security).to_be_checked()
    await expect(security).to_be_disabled()
    # Administrator alerts are not offered to a client.
    await expect(card.locator("[data-kind=admin_alerts]")).to_have_count(0)
    await card.get_by_label("Auftragsstatus").uncheck()
    await card.get_by_role("button", name="Einstellungen speichern").click()
    await expect(page.get_by_role("status")).to_contain_text("E-Mail-Einstellungen")
    await expect(
        page.locator("[data-test=notifications]").get_by_label("Auftragsstatus")
    ).not_to_be_checked()
    await expect(
        page.locator("[data-test=notifications]").get_by_label("Galerie ausgeliefert")
    ).to_be_checked()

    order = await placed_order(page, email, "Lindenallee")
    admin_context, admin = await new_page(browser)
    try:
        await admin_signed_in(admin, stack)
        # The client's confirmation (the admins' new-order mail names the client in its body).
        row = (
            admin.locator("details")
            .filter(has=admin.locator("summary", has_text=f"→ {email}"))
            .filter(has_text=order["reference"])
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            await admin.goto(stack.base_url + "/admin/mail")
            if await row.count():
                break
            await asyncio.sleep(0.5)
        await expect(row.locator("[data-status]")).to_have_attribute("data-status", "skipped")
        await expect(row.locator("[data-status]")).to_have_text("abbestellt")
    finally:
        await admin_context.close()
    confirmations = [
        m for m in messages_to(stack.data_dir / "mail", email) if order["reference"] in m["Subject"]
    ]
    assert confirmations == []
