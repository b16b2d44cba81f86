"""'Mein Postfach' through the real gateway (auth and leads as HTTP servers, Google's OAuth and
Gmail API as a local server): connect by the provider's redirect back to the gateway's callback,
a replayed callback refused, the broken mailbox's warning on every page."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from mailbox_fakes import FakeGoogle
from pix_auth.app import create_app as auth_app
from pix_auth.settings import AuthSettings
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_leads.app import create_app as leads_app
from pix_leads.settings import LeadsSettings
from pix_runtime.settings import PlatformSettings
from test_leads_pages import PASSWORD, PUBLIC, serve


@pytest.fixture
async def site(
    leads_schema: str, google: FakeGoogle
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    auth, auth_runtime = auth_app(AuthSettings())
    leads, leads_runtime = leads_app(
        LeadsSettings(
            smtp_port=0,
            mailbox_redirect_url=f"{PUBLIC}/account/mailbox/callback",
            **google.settings(),  # type: ignore[arg-type]
        )
    )
    auth_url, auth_server, auth_task = await serve(auth)
    leads_url, leads_server, leads_task = await serve(leads)
    platform = PlatformSettings(auth_url=auth_url, leads_url=leads_url)
    gateway = gateway_app(GatewaySettings(platform=platform))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url=PUBLIC
    ) as client:
        yield client, leads_runtime
    for server, task in ((auth_server, auth_task), (leads_server, leads_task)):
        server.should_exit = True
        await task
    await auth_runtime.db.dispose()
    await leads_runtime.db.dispose()


async def test_connect_gmail_replay_and_the_broken_warning(
    site: tuple[httpx.AsyncClient, Any], google: FakeGoogle
) -> None:
    client, leads_runtime = site
    email = f"agent-{uuid.uuid4().hex[:10]}@makler-example.de"
    registered = await client.post(
        "/api/auth/register",
        json={"name": "Erika Muster", "email": email, "password": PASSWORD, "company": "Muster"},
    )
    assert registered.status_code == 201, registered.text
    login = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    cookie = {"cookie": f"__Host-session={login.cookies['__Host-session']}"}
    same_site = {**cookie, "sec-fetch-site": "same-origin", "origin": PUBLIC}

    account = await client.get("/account", headers=cookie)
    assert 'href="/account/mailbox"' in account.text
    page = await client.get("/account/mailbox", headers=cookie)
    assert page.status_code == 200, page.text
    assert "Mein Postfach" in page.text
    assert 'data-test="connect-gmail"' in page.text
    assert 'data-test="connect-outlook"' not in page.text  # no client id for Outlook

    # "Connect Gmail": to Google's consent page, which sends the agent back with a code.
    to_google = await client.get("/account/mailbox/connect/gmail", headers=cookie)
    assert to_google.status_code == 303
    assert to_google.headers["location"].startswith(google.url)
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(to_google.headers["location"])
    back = urlparse(consent.headers["location"])
    assert f"{back.scheme}://{back.netloc}" == PUBLIC
    callback = f"{back.path}?{back.query}"
    done = await client.get(callback, headers=cookie)
    assert done.status_code == 303, done.text
    page = await client.get(done.headers["location"], headers=cookie)
    assert google.address in page.text
    assert "Ihr Postfach ist verbunden." in page.text
    assert 'data-test="mailbox-status">verbunden' in page.text

    # The same callback again (a replay) is refused.
    replay = await client.get(callback, headers=cookie)
    assert replay.status_code == 422
    assert "schon benutzt oder abgelaufen" in replay.text

    # No warning while it works.
    assert (await client.get("/account/mailbox/banner", headers=cookie)).text == ""

    # The agent revokes at Google; the next reply finds it broken.
    lead = await client.post(
        "/api/leads/leads",
        json={"name": "Lena Beispiel", "email": "lena@example.org"},
        headers=same_site,
    )
    assert lead.status_code == 201, lead.text
    google.revoke_everything()
    reply = await client.post(
        f"/api/leads/leads/{lead.json()['id']}/messages",
        json={"text": "Dienstag um 17 Uhr?"},
        headers=same_site,
    )
    assert reply.status_code == 201, reply.text
    await leads_runtime.jobs.run_due()
    dashboard = await client.get("/dashboard", headers=cookie)
    assert 'hx-get="/account/mailbox/banner"' in dashboard.text
    leads_page = await client.get("/leads", headers=cookie)
    assert 'hx-get="/account/mailbox/banner"' in leads_page.text
    warning = await client.get("/account/mailbox/banner", headers=cookie)
    assert 'data-test="mailbox-broken"' in warning.text
    assert google.address in warning.text
    english = {"cookie": cookie["cookie"] + "; lang=en"}
    page = await client.get("/account/mailbox", headers=english)
    assert "My mailbox" in page.text
    assert "connection broken" in page.text

    # Disconnect: the credentials are gone, the buttons are back.
    mine = (await client.get("/api/leads/mailboxes/mine", headers=cookie)).json()
    mailbox_id = mine["mailbox"]["id"]
    assert mine["mailbox"]["status"] == "broken"
    gone = await client.post(f"/account/mailbox/{mailbox_id}/disconnect", headers=same_site)
    assert gone.status_code == 303
    page = await client.get(gone.headers["location"], headers=cookie)
    assert 'data-test="mailbox"' not in page.text
    assert "Zugangsdaten sind gelöscht" in page.text
