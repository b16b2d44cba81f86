"""Every public page fits a phone: nothing wider than the screen, navigation reachable."""

from __future__ import annotations

import pytest
from conftest import snap
from playwright.async_api import Browser, expect
from stack import Stack


@pytest.mark.parametrize("path", ["/", "/login", "/register", "/forgot-password", "/privacy"])
async def test_pages_fit_a_phone(browser: Browser, stack: Stack, path: str) -> None:
    context = await browser.new_context(
        viewport={"width": 375, "height": 740}, locale="de-DE", is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    try:
        await page.goto(stack.base_url + path)
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
        await expect(page.locator("footer").get_by_role("link", name="Datenschutz")).to_be_visible()
        await snap(page, "phone-" + (path.strip("/") or "home"))
    finally:
        await context.close()
