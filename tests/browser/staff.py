"""Platform staff in the browser: the administrator signs in, people who registered become
photographers, orders are placed and scheduled through the same JSON API the pages use."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, BrowserContext, Page, expect
from stack import Stack
from test_orders_gallery_browser import signed_up_and_in

BERLIN = ZoneInfo("Europe/Berlin")


def berlin_today() -> str:
    return datetime.now(BERLIN).date().isoformat()


async def api(page: Page, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A same-origin fetch from the page, as the page's own scripts call the API."""
    answer: dict[str, Any] = await page.evaluate(
        """async ([method, path, body]) => {
            const init = {method, headers: {}};
            if (body !== null) {
                init.body = JSON.stringify(body);
                init.headers["Content-Type"] = "application/json";
            }
            const response = await fetch(path, init);
            const text = await response.text();
            let json = null;
            try { json = JSON.parse(text); } catch (e) { json = text; }
            return {status: response.status, json};
        }""",
        [method, path, body],
    )
    return int(answer["status"]), answer["json"]


async def new_page(browser: Browser) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 860})
    return context, await context.new_page()


async def admin_signed_in(page: Page, stack: Stack) -> None:
    await page.goto(stack.base_url + "/login")
    await page.get_by_label("E-Mail").fill(stack.admin_email)
    await page.get_by_label("Passwort").fill(stack.admin_password)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page).to_have_url(stack.base_url + "/dashboard")


async def user_id_of(admin: Page, email: str) -> str:
    status, users = await api(admin, "GET", "/api/auth/admin/users")
    assert status == 200, users
    return next(str(u["id"]) for u in users if u["email"] == email)


async def photographer(admin: Page, page: Page, stack: Stack) -> tuple[str, str]:
    """Someone registers and signs in on `page`; the admin makes them a photographer.
    Returns (user id, email)."""
    email = await signed_up_and_in(page, stack)
    user_id = await user_id_of(admin, email)
    status, body = await api(
        admin, "PATCH", f"/api/auth/admin/users/{user_id}", {"role": "photographer"}
    )
    assert status == 200, body
    # The gateway caches a session's identity for up to 2 s.
    for _ in range(60):
        if (await page.goto(stack.base_url + "/photographer")) is not None and (
            await page.locator("[data-test=photographer-day]").count()
        ):
            break
        await page.wait_for_timeout(250)
    await expect(page.locator("[data-test=photographer-day]")).to_be_visible()
    return user_id, email


ORDER = {
    "contact_name": "Erika Muster",
    "contact_phone": "030 1234567",
    "house_number": "5",
    "postcode": "10115",
    "city": "Berlin",
    "country": "DE",
    "property_type": "apartment",
    "marketing": "sale",
    "living_area_m2": 84.5,
    "rooms": 3,
    "services": ["photos"],
}


async def placed_order(client: Page, email: str, street: str, notes: str = "") -> dict[str, Any]:
    soon = (datetime.now(BERLIN).date() + timedelta(days=9)).isoformat()
    body = {
        **ORDER,
        "contact_email": email,
        "street": street,
        "access_notes": notes,
        "preferred_slots": [{"date": soon, "window": "morning"}],
    }
    status, order = await api(client, "POST", "/api/orders/orders", body)
    assert status == 201, order
    return dict(order)


async def scheduled(
    admin: Page,
    order: dict[str, Any],
    photographer_id: str,
    *,
    day: str,
    starts: str = "09:00",
    ends: str = "11:00",
) -> None:
    status, body = await api(
        admin,
        "PUT",
        f"/api/orders/orders/{order['id']}/appointment",
        {
            "date": day,
            "starts_at": starts,
            "ends_at": ends,
            "photographer_id": photographer_id,
            "photographer_name": f"Fotograf {uuid.UUID(photographer_id).hex[:4]}",
        },
    )
    assert status == 200, body
