"""The order form, the booking page and the Impressum through the gateway, signed in against
real auth and orders services (uvicorn on loopback ports) and the session's database."""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pix_auth.app import create_app as auth_app
from pix_auth.models import users
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_orders.app import create_app as orders_app
from pix_runtime.db import Database
from pix_runtime.settings import PlatformSettings
from sqlalchemy import func, update

PUBLIC = "http://gateway.test"
PASSWORD = "lange-sichere-phrase-42"


class Served:
    """An ASGI app on a free loopback port in a daemon thread."""

    def __init__(self, app: FastAPI) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "service did not start"
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


@dataclass
class Services:
    auth_url: str
    orders_url: str


@pytest.fixture
def services(migrated: set[str]) -> Iterator[Services]:
    auth, _ = auth_app()
    orders, _ = orders_app()
    served = [Served(auth), Served(orders)]
    yield Services(served[0].url, served[1].url)
    for s in served:
        s.stop()


async def browser_for(services: Services, *, role: str = "owner") -> httpx.AsyncClient:
    """A browser signed in as a new, confirmed member (or admin) of a new agency."""
    email = f"agent-{uuid.uuid4().hex[:8]}@makler-example.de"
    async with httpx.AsyncClient(base_url=services.auth_url) as auth:
        registered = await auth.post(
            "/register",
            json={"name": "Erika Muster", "email": email, "password": PASSWORD, "company": "M"},
        )
        assert registered.status_code == 201, registered.text
        # Confirming the address by its emailed link is auth's own test; here it is a given.
        db = Database(PlatformSettings().database_url, schema="auth", application_name="test")
        async with db.transaction() as session:
            await session.execute(
                update(users)
                .where(func.lower(users.c.email) == email)
                .values(email_verified_at=func.now(), role=role)
            )
        await db.dispose()
        login = await auth.post("/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
    platform = PlatformSettings(
        auth_url=services.auth_url, orders_url=services.orders_url, public_url=PUBLIC
    )
    browser = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway_app(GatewaySettings(platform=platform))),
        base_url=PUBLIC,
        headers={"sec-fetch-site": "same-origin"},
    )
    browser.cookies.set("__Host-session", login.json()["token"], domain="gateway.test")
    return browser


@pytest.fixture
async def browser(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with await browser_for(services) as client:
        yield client


def field_errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'<span class="field-error" id="([\w-]+)-error">([^<]*)</span>', html))


async def test_a_word_as_living_area_is_shown_beside_every_other_mistake(
    browser: httpx.AsyncClient,
) -> None:
    form = {
        "idempotency_key": uuid.uuid4().hex,
        "contact_name": "Erika Muster",
        "contact_email": "erika@",
        "contact_phone": "030 1234567",
        "street": "Lindenallee",
        "house_number": "5",
        "postcode": "1234",
        "city": "Berlin",
        "country": "DE",
        "property_type": "apartment",
        "living_area_m2": "abc",
        "rooms": "3,5",
        "services": "photos",
    }
    page = await browser.post("/orders/new", data=form)
    assert page.status_code == 422, page.text
    errors = field_errors(page.text)
    assert errors == {
        "contact_email": "Bitte eine gültige E-Mail-Adresse.",
        "postcode": errors["postcode"],
        "living_area_m2": "Bitte eine Zahl, z. B. 94,5.",
        "marketing": "Bitte ausfüllen.",
    }
    assert errors["postcode"]
    # The slots have no span of their own: the form says it on top of them.
    assert "Bitte mindestens einen Wunschtermin." in page.text
    # What was typed stays in the form.
    assert 'value="abc"' in page.text
    assert "Kauf" in page.text
    assert "Miete" in page.text


async def test_an_order_with_sale_or_rent_and_a_german_decimal_is_placed(
    browser: httpx.AsyncClient,
) -> None:
    soon = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 9 * 86400))
    form = {
        "idempotency_key": uuid.uuid4().hex,
        "contact_name": "Erika Muster",
        "contact_email": "erika@makler-example.de",
        "contact_phone": "030 1234567",
        "street": "Lindenallee",
        "house_number": "5",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
        "property_type": "apartment",
        "marketing": "rent",
        "living_area_m2": "94,5",
        "rooms": "3",
        "services": "photos",
        "slot_0_date": soon,
        "slot_0_window": "morning",
    }
    placed = await browser.post("/orders/new", data=form)
    assert placed.status_code == 303, placed.text
    order_id = placed.headers["location"].split("/")[2].split("?")[0]
    order = await browser.get(f"/api/orders/orders/{order_id}")
    assert order.status_code == 200, order.text
    assert (order.json()["marketing"], order.json()["living_area_m2"]) == ("rent", 94.5)
    detail = await browser.get(f"/orders/{order_id}")
    assert "Wohnung · Miete" in detail.text


async def test_the_booking_page_without_a_calendar_helps_customers_and_tells_admins(
    services: Services, browser: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIX_TIDYCAL_URL", raising=False)
    customer = await browser.get("/booking")
    assert customer.status_code == 200
    assert "PIX_TIDYCAL_URL" not in customer.text
    assert "wir melden uns mit Terminvorschlägen" in customer.text
    assert 'href="/orders/new"' in customer.text
    async with await browser_for(services, role="admin") as admin:
        staff = await admin.get("/booking")
    assert staff.status_code == 200
    assert 'data-test="booking-admin-hint"' in staff.text
    assert "PIX_TIDYCAL_URL" in staff.text


async def test_the_impressum_names_the_provider_from_the_settings(
    browser: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIX_IMPRESSUM_COMPANY", "pix.immo GmbH")
    monkeypatch.setenv("PIX_IMPRESSUM_ADDRESS", "Torstraße 101\\n10119 Berlin")
    monkeypatch.setenv("PIX_IMPRESSUM_REPRESENTED_BY", "Erika Muster (Geschäftsführerin)")
    monkeypatch.setenv("PIX_IMPRESSUM_EMAIL", "kontakt@pix.immo")
    monkeypatch.setenv("PIX_IMPRESSUM_REGISTER", "Amtsgericht Charlottenburg, HRB 123456 B")
    monkeypatch.setenv("PIX_IMPRESSUM_VAT_ID", "DE123456789")
    # Public: no session needed.
    anonymous = httpx.AsyncClient(transport=browser._transport, base_url=PUBLIC)
    async with anonymous:
        page = await anonymous.get("/impressum")
    assert page.status_code == 200
    for text in (
        "pix.immo GmbH",
        "Torstraße 101<br>10119 Berlin",
        "Erika Muster (Geschäftsführerin)",
        "kontakt@pix.immo",
        "HRB 123456 B",
        "DE123456789",
    ):
        assert text in page.text
    assert "Anbieterangaben werden gerade ergänzt" not in page.text
    # Every page links it in the footer.
    assert 'href="/impressum">Impressum</a>' in (await browser.get("/orders/new")).text

    monkeypatch.delenv("PIX_IMPRESSUM_EMAIL")
    incomplete = await browser.get("/impressum")
    assert "Anbieterangaben werden gerade ergänzt" in incomplete.text
    assert "PIX_IMPRESSUM_EMAIL" not in incomplete.text  # the setting is for admins only
