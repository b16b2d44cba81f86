"""Playwright on Debian's Chromium (`make test` installs it; nothing is downloaded at run time)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    async_playwright,
)

CHROMIUM = "/usr/bin/chromium"
# Requests whose error status a test may provoke on purpose (an error page, a refused fetch
# the page shows as a message).
PAGE_REQUESTS = frozenset({"document", "fetch", "xhr"})
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Chromium is missing: run `make test` (it installs Debian's chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield browser
        await browser.close()


@pytest.fixture
def expected_problems() -> list[str]:
    """Parts of browser problems a test provokes on purpose (it appends them)."""
    return []


@pytest.fixture
async def page(browser: Browser, expected_problems: list[str]) -> AsyncIterator[Page]:
    """A fresh tab; the test fails on anything the browser reports as broken: a script error, a
    CSP refusal, a failed script, style or image request (document responses may be errors on
    purpose: a wrong password answers 401)."""
    context = await browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 860})
    page = await context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A document's own error status is reported as "Failed to load resource"; sub-resources
        # are checked through their responses below.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"console: {message.text[:300]}")

    def on_response(response: Response) -> None:
        if response.status >= 400 and response.request.resource_type not in PAGE_REQUESTS:
            problems.append(f"{response.status} {response.request.resource_type} {response.url}")

    def on_request_failed(request: Request) -> None:
        failure = request.failure or ""
        # Aborted: the page moved on while a poll or an image was still loading.
        if "ERR_ABORTED" not in failure:
            problems.append(f"failed {request.resource_type} {request.url}: {failure}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("response", on_response)
    page.on("requestfailed", on_request_failed)
    yield page
    await context.close()
    unexpected = [p for p in problems if not any(part in p for part in expected_problems)]
    assert not unexpected, "the browser reported problems:\n" + "\n".join(unexpected)


async def snap(page: Page, name: str) -> None:
    """Keep a screenshot of what a person would see, for review (test-artifacts/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
