"""The photographer's day in the browser: a photographer signs in, sees only the shoots of the
day assigned to them (not another photographer's, not an unassigned order), opens the gallery,
uploads a real JPEG (progress bar), delivers, and the client gets the gallery-ready email and
sees the gallery delivered. Another photographer cannot deliver that gallery (404)."""

from __future__ import annotations

import asyncio
import base64
import time

from conftest import snap
from dev_outbox import messages_to
from photos import jpeg_with_gps, room_photo
from playwright.async_api import Browser, Page, expect
from stack import Stack
from staff import (
    admin_signed_in,
    api,
    berlin_today,
    new_page,
    photographer,
    placed_order,
    scheduled,
)
from test_orders_gallery_browser import signed_up_and_in


async def mail_with_subject(stack: Stack, recipient: str, words: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in messages_to(stack.data_dir / "mail", recipient):
            if words in str(message["Subject"]):
                return str(message["Subject"])
        await asyncio.sleep(0.2)
    raise TimeoutError(f"no mail '{words}' reached {recipient}")


async def test_photographer_uploads_and_delivers_their_shoot(
    page: Page, browser: Browser, stack: Stack
) -> None:
    admin_context, admin = await new_page(browser)
    client_context, client = await new_page(browser)
    other_context, other = await new_page(browser)
    try:
        await admin_signed_in(admin, stack)
        paula_id, _ = await photographer(admin, page, stack)
        peter_id, _ = await photographer(admin, other, stack)

        client_email = await signed_up_and_in(client, stack)
        mine = await placed_order(client, client_email, "Lindenallee", "Schlüssel beim Hausmeister")
        theirs = await placed_order(client, client_email, "Birkenweg", "Code 4711")
        nobodys = await placed_order(client, client_email, "Eichenstraße")
        today = berlin_today()
        await scheduled(admin, mine, paula_id, day=today, starts="09:00", ends="11:00")
        await scheduled(admin, theirs, peter_id, day=today, starts="12:00", ends="13:00")

        # Paula's day: her shoot only.
        await page.goto(stack.base_url + "/photographer")
        shoots = page.locator("[data-test=shoot]")
        await expect(shoots).to_have_count(1)
        await expect(shoots.first).to_contain_text(mine["reference"])
        await expect(shoots.first).to_contain_text("Schlüssel beim Hausmeister")
        await expect(shoots.first).to_contain_text("09:00–11:00")
        day_text = await page.locator("main").inner_text()
        assert theirs["reference"] not in day_text
        assert nobodys["reference"] not in day_text
        await snap(page, "70-photographer-day")

        await shoots.first.locator("[data-test=upload-link]").click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text(mine["reference"])
        photo = base64.b64encode(jpeg_with_gps(room_photo(1600, 1200))).decode()
        transfer = await page.evaluate_handle(
            """data => {
                const dt = new DataTransfer();
                const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
                dt.items.add(new File([bytes], "Küche_01.jpg", {type: "image/jpeg"}));
                return dt;
            }""",
            photo,
        )
        await page.dispatch_event(".dropzone", "drop", {"dataTransfer": transfer})
        bar = page.locator(".upload-list progress")
        await expect(bar).to_have_count(1)
        await expect(bar.first).to_have_js_property("value", 1, timeout=30_000)
        await expect(page.locator("[data-test=photo]").first).to_have_attribute(
            "data-status", "captioned", timeout=45_000
        )
        state = page.locator("[data-test=delivery-state]")
        await expect(state).to_have_attribute("data-state", "complete", timeout=30_000)

        # Peter may neither see nor deliver Paula's gallery.
        status, _ = await api(other, "POST", f"/api/media/galleries/{mine['gallery_id']}/deliver")
        assert status == 404
        missing = await other.goto(f"{stack.base_url}/galleries/{mine['gallery_id']}")
        assert missing is not None
        assert missing.status == 404

        deliver = page.locator("[data-test=deliver]")
        # Automatic delivery waits for a quiet minute; the photographer is quicker.
        await expect(deliver).to_be_enabled()
        await deliver.click()
        await expect(page.locator("[data-test=delivery-state]")).to_have_attribute(
            "data-delivered", "yes", timeout=30_000
        )
        await snap(page, "71-photographer-delivered")

        # The client hears about it and sees the gallery delivered.
        await mail_with_subject(stack, client_email, f"Ihre Galerie {mine['reference']} ist fertig")
        await client.goto(f"{stack.base_url}/galleries/{mine['gallery_id']}")
        await expect(client.locator("[data-test=delivery-state]")).to_have_attribute(
            "data-delivered", "yes", timeout=30_000
        )
        status, order = await api(client, "GET", f"/api/orders/orders/{mine['id']}")
        assert status == 200
        assert order["status"] == "delivered", order
    finally:
        for context in (admin_context, client_context, other_context):
            await context.close()
