"""The billing page says what VIES said of the VAT id: confirmed, provisional while VIES is
down (with 19 % VAT until then), or refused (the form says VIES does not know it). Through the
real gateway, auth and billing as HTTP servers, VIES the local server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from billing_helpers import billing_settings
from pix_auth.app import create_app as auth_app
from pix_auth.settings import AuthSettings
from pix_billing.app import create_app as billing_app
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_runtime.settings import PlatformSettings
from stripe_fake import FakeStripe
from test_billing_pages import PUBLIC, Site, serve
from vies_fake import FakeVies

FRENCH = {
    "company": "Agence Lumière SARL",
    "street": "12 rue de la Paix",
    "postcode": "75002",
    "city": "Paris",
    "country": "FR",
    "vat_id": "FR40303265045",
}


@pytest.fixture
async def site(billing_schema: str, stripe_fake: FakeStripe, vies: FakeVies) -> AsyncIterator[Site]:
    auth, auth_runtime = auth_app(AuthSettings())
    billing, billing_runtime = billing_app(billing_settings(stripe_fake, vies_base_url=vies.url))
    auth_url, auth_server, auth_task = await serve(auth)
    billing_url, billing_server, billing_task = await serve(billing)
    platform = PlatformSettings(auth_url=auth_url, billing_url=billing_url)
    gateway = gateway_app(GatewaySettings(platform=platform))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url=PUBLIC
    ) as client:
        yield Site(client, billing_runtime, billing)
    for server, task in ((auth_server, auth_task), (billing_server, billing_task)):
        server.should_exit = True
        await task
    await auth_runtime.db.dispose()
    await billing_runtime.db.dispose()


async def test_the_billing_page_shows_what_vies_said(site: Site, vies: FakeVies) -> None:
    headers = await site.sign_up()

    vies.outage = True
    saved = await site.client.post("/billing/profile", data=FRENCH, headers=headers)
    assert "Gespeichert." in saved.text
    assert 'data-status="unverified"' in saved.text
    assert "Vorläufig: VIES war nicht erreichbar" in saved.text

    vies.outage = False
    saved = await site.client.post(
        "/billing/profile", data={**FRENCH, "street": "14 rue de la Paix"}, headers=headers
    )
    assert 'data-status="verified"' in saved.text
    assert "Von VIES bestätigt" in saved.text
    assert "Trader FR40303265045" in saved.text

    vies.unregistered.add("FR12345678901")
    refused = await site.client.post(
        "/billing/profile", data={**FRENCH, "vat_id": "FR12345678901"}, headers=headers
    )
    assert "VIES, das EU-Register, kennt diese USt-IdNr. nicht als gültig." in refused.text
