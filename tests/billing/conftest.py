"""Billing in-process on the session's PostgreSQL, talking through the official `stripe` client
to the local Stripe server (`stripe_fake.py`), whose webhooks reach the app over HTTP (ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from billing_helpers import API_KEY, WEBHOOK_SECRET, BillingApp, billing_settings
from pix_billing.app import create_app
from pix_runtime.migrations import upgrade_to_head
from pix_stack.embedded import EmbeddedPostgres, free_port
from stripe_fake import FakeStripe, FakeStripeServer
from vies_fake import FakeVies, FakeViesServer


@pytest.fixture(scope="session")
async def billing_schema(postgres: EmbeddedPostgres, migrated: set[str]) -> str:
    await upgrade_to_head(postgres.url, "pix_billing", "billing")
    return "billing"


@pytest.fixture
async def stripe_fake() -> AsyncIterator[FakeStripe]:
    fake = FakeStripe(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET, port=free_port())
    server = FakeStripeServer(fake)
    await server.start()
    yield fake
    await server.stop()


@pytest.fixture
async def vies() -> AsyncIterator[FakeVies]:
    """VIES as a local server: billing never asks the EU Commission's from a test."""
    fake = FakeVies(port=free_port())
    server = FakeViesServer(fake)
    await server.start()
    yield fake
    await server.stop()


@pytest.fixture
async def billing(
    billing_schema: str, stripe_fake: FakeStripe, vies: FakeVies
) -> AsyncIterator[BillingApp]:
    settings = billing_settings(stripe_fake, vies_base_url=vies.url)
    app, runtime = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing") as client:
        stripe_fake.webhook_url = "http://billing/public/stripe/webhook"
        stripe_fake.webhook_client = client
        yield BillingApp(client, runtime, settings, app, stripe_fake)
        await stripe_fake.settle()
    await runtime.db.dispose()


@pytest.fixture
async def billing_off(billing_schema: str, vies: FakeVies) -> AsyncIterator[BillingApp]:
    settings = billing_settings(None, vies_base_url=vies.url)
    app, runtime = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing") as client:
        yield BillingApp(client, runtime, settings, app, None)
    await runtime.db.dispose()
