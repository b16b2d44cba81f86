"""The admin's analytics in the browser, on the whole stack: a month of an organisation's
activity (orders and deliveries, leads and their timeline, photos, invoices, captions, the
assistant's model calls) is seeded into the services' tables; every chart is drawn with its
table and CSV link, with the seeded numbers; a screenshot is kept for review."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from conftest import snap
from playwright.async_api import Page, expect
from stack import Stack
from staff import admin_signed_in

sys.path.insert(0, str(Path(__file__).parents[1] / "gateway"))
from test_gateway_analytics import seed_money_and_captions, seed_month


def german(number: str) -> str:
    """A CSV number as the page shows it in German (no ".0", a decimal comma)."""
    value = float(number)
    return str(int(value)) if value.is_integer() else number.replace(".", ",")


CHARTS = ("orders", "delivery", "revenue", "photos", "captions", "cost", "leads", "funnel")


async def test_admin_sees_every_chart_with_its_numbers(page: Page, stack: Stack) -> None:
    org_id = uuid.uuid4()
    now = datetime.now(UTC).replace(microsecond=0)
    expected = await seed_month(org_id, now, stack.database_url)
    await seed_money_and_captions(org_id, now, stack.database_url)

    await admin_signed_in(page, stack)
    await page.goto(f"{stack.base_url}/admin/analytics?org_id={org_id}&days=60")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Auswertungen")
    await expect(page.get_by_test_id("chart-missing")).to_have_count(0)
    for key in CHARTS:
        chart = page.locator(f'[data-chart="{key}"]')
        await expect(chart.locator("svg.chart")).to_be_visible()
        await expect(chart.get_by_role("link", name="CSV")).to_be_visible()
    funnel = page.locator('[data-chart="funnel"] tbody tr').first.locator("td")
    await expect(funnel).to_have_text(["immoscout24", "3", "3", "2", "1", "33,3", "20"])
    delivery = page.locator('[data-chart="delivery"] tbody tr')
    for n, (week, orders, median, p90) in enumerate(expected["delivery"]):
        await expect(delivery.nth(n).locator("td")).to_have_text(
            [week, orders, german(median), german(p90)]
        )
    await expect(page.locator('[data-chart="cost"]')).to_contain_text("0,0223")
    await snap(page, "admin-analytics")
