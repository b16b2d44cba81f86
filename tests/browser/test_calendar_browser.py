"""The admin's calendar in the browser: the admin schedules two orders for two photographers
with the form on the order page and sees them in the day view (a column per photographer) and
the week view (a column per day), moves back and forth, and on a phone the columns stack."""

from __future__ import annotations

from datetime import date, timedelta

from conftest import snap
from playwright.async_api import Browser, Page, expect
from stack import Stack
from staff import admin_signed_in, berlin_today, new_page, photographer, placed_order
from test_orders_gallery_browser import signed_up_and_in


async def schedule_with_form(
    admin: Page, stack: Stack, order: dict[str, str], day: str, starts: str, ends: str, who: str
) -> None:
    await admin.goto(f"{stack.base_url}/orders/{order['id']}")
    await admin.locator("[data-test=schedule-link]").click()
    await expect(admin.get_by_role("heading", level=1)).to_contain_text(order["reference"])
    await expect(admin.locator("[data-test=current-appointment]")).to_contain_text("Noch kein")
    await admin.get_by_label("Datum").fill(day)
    await admin.get_by_label("Von").fill(starts)
    await admin.get_by_label("Bis").fill(ends)
    await admin.get_by_label("Fotograf").select_option(who)
    await admin.get_by_role("button", name="Termin speichern").click()
    await expect(admin).to_have_url(f"{stack.base_url}/admin/calendar?view=day&day={day}")


async def test_admin_schedules_two_shoots_and_sees_them_by_day_and_week(
    page: Page, browser: Browser, stack: Stack
) -> None:
    paula_context, paula_page = await new_page(browser)
    peter_context, peter_page = await new_page(browser)
    client_context, client = await new_page(browser)
    admin = page
    try:
        await admin_signed_in(admin, stack)
        paula, _ = await photographer(admin, paula_page, stack)
        peter, _ = await photographer(admin, peter_page, stack)
        client_email = await signed_up_and_in(client, stack)
        first = await placed_order(client, client_email, "Lindenallee")
        second = await placed_order(client, client_email, "Birkenweg")

        # A Wednesday three weeks ahead: its week is free of the other tests' shoots.
        ahead = date.fromisoformat(berlin_today()) + timedelta(days=21)
        wednesday = ahead + timedelta(days=2 - ahead.weekday())
        day = wednesday.isoformat()

        # A window that ends before it starts is refused under its field.
        await admin.goto(f"{stack.base_url}/admin/orders/{first['id']}/appointment")
        await admin.get_by_label("Datum").fill(day)
        await admin.get_by_label("Von").fill("11:00")
        await admin.get_by_label("Bis").fill("09:00")
        await admin.get_by_label("Fotograf").select_option(paula)
        await admin.get_by_role("button", name="Termin speichern").click()
        await expect(admin.locator("#ends_at-error")).to_contain_text("nach seinem Beginn")

        await schedule_with_form(admin, stack, first, day, "09:00", "10:00", paula)
        await schedule_with_form(admin, stack, second, day, "13:00", "14:30", peter)

        # Day view: a column per photographer, each with their shoot, linking to the order.
        columns = admin.locator("[data-test=calendar-column]")
        paula_column = admin.locator(f"[data-test=calendar-column][data-key='{paula}']")
        peter_column = admin.locator(f"[data-test=calendar-column][data-key='{peter}']")
        await expect(paula_column.locator("[data-test=calendar-shoot]")).to_have_count(1)
        await expect(paula_column).to_contain_text(first["reference"])
        await expect(paula_column).to_contain_text("09:00–10:00")
        await expect(paula_column).not_to_contain_text(second["reference"])
        await expect(peter_column).to_contain_text(second["reference"])
        await expect(peter_column).to_contain_text("13:00–14:30")
        assert await columns.count() >= 2
        # Placed by their time windows: the later one lower, the longer one taller.
        short = await paula_column.locator("[data-test=calendar-shoot]").bounding_box()
        long = await peter_column.locator("[data-test=calendar-shoot]").bounding_box()
        assert short is not None
        assert long is not None
        assert long["y"] > short["y"]
        assert short["height"] < long["height"]
        await snap(admin, "80-calendar-day")

        # Next day: nothing; back: both again.
        await admin.locator("[data-test=calendar-next]").click()
        await expect(admin.locator("[data-test=calendar-range]")).to_contain_text("Donnerstag")
        await expect(admin.locator("[data-test=calendar-shoot]")).to_have_count(0)
        await admin.locator("[data-test=calendar-prev]").click()
        await expect(admin.locator("[data-test=calendar-shoot]")).to_have_count(2)

        # Week view: a column per day, Monday first; both shoots on Wednesday.
        await admin.get_by_role("link", name="Woche", exact=True).click()
        await expect(columns).to_have_count(7)
        await expect(columns.first).to_contain_text("Montag")
        wednesday_column = admin.locator(f"[data-test=calendar-column][data-key='{day}']")
        await expect(wednesday_column.locator("[data-test=calendar-shoot]")).to_have_count(2)
        await expect(wednesday_column).to_contain_text(first["reference"])
        await expect(wednesday_column).to_contain_text(second["reference"])
        await snap(admin, "81-calendar-week")
        await admin.locator("[data-test=calendar-next]").click()
        await expect(admin.locator("[data-test=calendar-shoot]")).to_have_count(0)
        await admin.locator("[data-test=calendar-prev]").click()

        # The shoot links to its order.
        await wednesday_column.get_by_role("link", name=first["reference"]).click()
        await expect(admin.get_by_role("heading", level=1)).to_contain_text(first["reference"])

        # On a phone the week's columns stack.
        await admin.set_viewport_size({"width": 390, "height": 800})
        await admin.goto(f"{stack.base_url}/admin/calendar?view=week&day={day}")
        boxes = [await columns.nth(n).bounding_box() for n in range(2)]
        assert boxes[0] is not None
        assert boxes[1] is not None
        assert boxes[1]["y"] > boxes[0]["y"]
        assert abs(boxes[1]["x"] - boxes[0]["x"]) < 2
        assert boxes[0]["width"] <= 390
        await snap(admin, "82-calendar-phone")

        # English too.
        await admin.goto(f"{stack.base_url}/lang/en?next=/admin/calendar")
        await expect(admin.get_by_role("heading", level=1)).to_have_text("Appointment calendar")
        await admin.goto(f"{stack.base_url}/lang/de?next=/admin/calendar")

        # Only admins have the calendar.
        refused = await client.goto(f"{stack.base_url}/admin/calendar")
        assert refused is not None
        assert refused.status == 404
    finally:
        for context in (paula_context, peter_context, client_context):
            await context.close()
