"""An agency connects its CRM: a webhook with a test event and its delivery log, and stored
onOffice credentials that are never shown again."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from conftest import snap
from playwright.async_api import Page, expect
from stack import Stack
from test_orders_gallery_browser import signed_up_and_in


class Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        Receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pix-hook"
    server.shutdown()


async def test_webhook_test_event_and_crm_credentials(
    page: Page, stack: Stack, receiver: str
) -> None:
    await signed_up_and_in(page, stack)
    await page.get_by_role("link", name="CRM-Anbindung").click()
    await page.get_by_label("Adresse (https://…)").fill(receiver)
    await page.get_by_label("Beschreibung").fill("Unser CRM")
    await page.get_by_role("button", name="Webhook anlegen").click()
    secret = (await page.locator("[data-test=webhook-secret]").inner_text()).strip()
    assert len(secret) >= 32

    await page.get_by_role("button", name="Testereignis senden").click()
    await expect(page.locator("[data-test=deliveries]")).to_contain_text(
        "delivered", timeout=15_000
    )
    headers, body = Receiver.received[-1]
    signature = headers["pix-webhook-signature"].removeprefix("v1=")
    expected = hmac.new(
        secret.encode(), f"{headers['pix-webhook-timestamp']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(signature, expected)

    await page.get_by_label("API-Token").fill("token-1234567890abcd")
    await page.get_by_label("API-Secret").fill("secret-never-shown-again")
    await (
        page.locator("form[action='/integrations/crm/onoffice']")
        .get_by_role("button", name="Speichern")
        .click()
    )
    await expect(page.locator(".badge", has_text="hinterlegt")).to_contain_text("abcd")
    assert "secret-never-shown-again" not in await page.content()
    assert "token-1234567890abcd" not in await page.content()
    await snap(page, "16-integrations")
