"""The billing pages through the real gateway (auth and billing as HTTP servers, Stripe's local
server): the trial, subscribing through Checkout, the banner while the licence is inactive,
the invoice list with its PDF, the billing address form, the admin's figures, German and
English, and the "billing is off" page."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from billing_helpers import billing_settings, until
from pix_auth.app import create_app as auth_app
from pix_auth.settings import AuthSettings
from pix_billing.app import create_app as billing_app
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.settings import PlatformSettings
from pix_stack.embedded import free_port
from sqlalchemy import text
from stripe_fake import FakeStripe

PUBLIC = "http://testserver"
PASSWORD = "Ruhige-Seitenstrasse-12"


async def serve(app: Any) -> tuple[str, uvicorn.Server, asyncio.Task[None]]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    return f"http://127.0.0.1:{port}", server, task


@dataclass
class Site:
    client: httpx.AsyncClient
    billing: ServiceRuntime
    billing_app: Any
    email: str = ""

    async def sign_up(self) -> dict[str, str]:
        email = f"agent-{uuid.uuid4().hex[:10]}@makler-example.de"
        registered = await self.client.post(
            "/api/auth/register",
            json={"name": "Erika", "email": email, "password": PASSWORD, "company": "Muster"},
        )
        assert registered.status_code == 201, registered.text
        login = await self.client.post(
            "/api/auth/login", json={"email": email, "password": PASSWORD}
        )
        cookie = f"__Host-session={login.cookies['__Host-session']}"
        self.email = email
        return {"cookie": cookie, "sec-fetch-site": "same-origin", "origin": PUBLIC}


async def _site(billing_schema: str, fake: FakeStripe | None) -> AsyncIterator[Site]:
    auth, auth_runtime = auth_app(AuthSettings())
    billing, billing_runtime = billing_app(billing_settings(fake))
    auth_url, auth_server, auth_task = await serve(auth)
    billing_url, billing_server, billing_task = await serve(billing)
    platform = PlatformSettings(auth_url=auth_url, billing_url=billing_url)
    gateway = gateway_app(GatewaySettings(platform=platform))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url=PUBLIC
    ) as client:
        if fake is not None:
            # Stripe reaches billing through the gateway's public prefix, byte for byte.
            fake.webhook_url = f"{PUBLIC}/api/billing/public/stripe/webhook"
            fake.webhook_client = client
        yield Site(client, billing_runtime, billing)
    if fake is not None:
        await fake.settle()
    for server, task in ((auth_server, auth_task), (billing_server, billing_task)):
        server.should_exit = True
        await task
    await auth_runtime.db.dispose()
    await billing_runtime.db.dispose()


@pytest.fixture
async def site(billing_schema: str, stripe_fake: FakeStripe) -> AsyncIterator[Site]:
    async for value in _site(billing_schema, stripe_fake):
        yield value


@pytest.fixture
async def site_off(billing_schema: str) -> AsyncIterator[Site]:
    async for value in _site(billing_schema, None):
        yield value


async def test_billing_page_subscribe_banner_and_invoices(
    site: Site, stripe_fake: FakeStripe
) -> None:
    headers = await site.sign_up()
    page = await site.client.get("/billing", headers=headers)
    assert page.status_code == 200, page.text
    assert 'data-status="trialing"' in page.text
    assert "Testphase endet" in page.text
    assert 'hx-get="/billing/banner"' in page.text
    assert (await site.client.get("/billing/banner", headers=headers)).text == ""

    saved = await site.client.post(
        "/billing/profile",
        data={"company": "Muster Immobilien", "country": "FR", "vat_id": "DE123456789"},
        headers=headers,
    )
    assert saved.status_code == 200
    assert "Keine gültige USt-IdNr. dieses Landes." in saved.text
    saved = await site.client.post(
        "/billing/profile",
        data={
            "company": "Muster Immobilien",
            "street": "Lindenallee 5",
            "postcode": "10115",
            "city": "Berlin",
            "country": "DE",
            "vat_id": "DE123456789",
        },
        headers=headers,
    )
    assert "Gespeichert." in saved.text
    assert 'value="DE123456789"' in saved.text

    to_stripe = await site.client.post("/billing/checkout", data={"seats": "2"}, headers=headers)
    assert to_stripe.status_code == 200
    url = re.search(r'href="([^"]+/checkout/cs_[0-9a-f]+)"', to_stripe.text)
    assert url, to_stripe.text
    async with httpx.AsyncClient() as browser:
        paid = await browser.post(f"{url.group(1)}/pay")
    assert paid.headers["location"] == f"{PUBLIC}/billing?checkout=done"
    session_id = url.group(1).rsplit("/", 1)[1]
    sub_id = stripe_fake.objects[session_id]["subscription"]

    async def subscribed() -> bool:
        await stripe_fake.settle()
        await site.billing.jobs.run_due()
        page = await site.client.get("/billing?checkout=done", headers=headers)
        return 'data-test="portal"' in page.text

    await until(subscribed, what="the subscription on the billing page")

    failed = stripe_fake.renew(sub_id, pay=False)

    async def banner_shown() -> str:
        await stripe_fake.settle()
        await site.billing.jobs.run_due()
        text = (await site.client.get("/billing/banner", headers=headers)).text
        return text if "licence-banner" in text else ""

    banner = await until(banner_shown, what="the licence banner")
    assert "Ihre CRM-Lizenz ist nicht aktiv" in banner
    english = await site.client.get(
        "/billing/banner", headers={**headers, "cookie": headers["cookie"] + "; lang=en"}
    )
    assert "Your CRM licence is not active" in english.text

    stripe_fake.pay_invoice(failed["id"])

    async def banner_gone() -> bool:
        await stripe_fake.settle()
        await site.billing.jobs.run_due()
        return (await site.client.get("/billing/banner", headers=headers)).text == ""

    await until(banner_gone, what="the banner to go")
    page = await site.client.get("/billing", headers=headers)
    assert 'data-status="active"' in page.text
    assert 'data-test="invoices"' in page.text
    pdf_link = re.search(r'href="(/api/billing/invoices/[0-9a-f-]+/pdf)"', page.text)
    assert pdf_link
    pdf = await site.client.get(pdf_link.group(1), headers=headers)
    assert pdf.status_code == 303
    assert pdf.headers["location"].startswith(stripe_fake.base)

    portal = await site.client.post("/billing/portal", headers=headers)
    assert "/portal/bps_" in portal.text
    # Every webhook passed the gateway with its signature intact.
    assert stripe_fake.deliveries
    assert {d.status for d in stripe_fake.deliveries} == {200}

    # The same person made a platform admin sees the figures (with this month's revenue).
    assert (await site.client.get("/admin/billing", headers=headers)).status_code == 404
    async with site.billing.db.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE auth.users SET role = 'admin' WHERE email = :email"),
            {"email": site.email},
        )

    async def admin_page() -> str:
        page = await site.client.get("/admin/billing", headers=headers)
        return page.text if page.status_code == 200 else ""

    admin = await until(admin_page, what="the admin's billing page")
    assert 'data-test="revenue"' in admin
    month = datetime.now(UTC).strftime("%Y-%m")
    assert month in admin
    assert "Testphasen, die bald enden" in admin


async def test_billing_off_page_says_what_to_set(site_off: Site) -> None:
    headers = await site_off.sign_up()
    page = await site_off.client.get("/billing", headers=headers)
    assert page.status_code == 200
    assert 'data-test="billing-off"' in page.text
    assert "STRIPE_API_KEY" in page.text
    english = await site_off.client.get(
        "/billing", headers={**headers, "cookie": headers["cookie"] + "; lang=en"}
    )
    assert "Billing is off" in english.text
    assert (await site_off.client.get("/billing/banner", headers=headers)).text == ""
    # Not an admin: the admin page does not exist for them.
    assert (await site_off.client.get("/admin/billing", headers=headers)).status_code == 404
