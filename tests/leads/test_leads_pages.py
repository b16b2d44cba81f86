"""The lead pages through the real gateway (auth and leads as HTTP servers): the inbox with the
score badge and its reasons, the lead page with timeline, reply box and status buttons, and
the intake settings with the website snippet; German and English."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from leads_helpers import corpus
from pix_auth.app import create_app as auth_app
from pix_auth.settings import AuthSettings
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_leads.app import create_app as leads_app
from pix_leads.settings import LeadsSettings
from pix_runtime.settings import PlatformSettings
from pix_stack.embedded import free_port

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


@pytest.fixture
async def site(leads_schema: str) -> AsyncIterator[tuple[httpx.AsyncClient, Any, Any]]:
    auth, auth_runtime = auth_app(AuthSettings())
    leads, leads_runtime = leads_app(LeadsSettings(smtp_port=0))
    auth_url, auth_server, auth_task = await serve(auth)
    leads_url, leads_server, leads_task = await serve(leads)
    platform = PlatformSettings(auth_url=auth_url, leads_url=leads_url)
    gateway = gateway_app(GatewaySettings(platform=platform))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url=PUBLIC
    ) as client:
        yield client, leads, leads_runtime
    for server, task in ((auth_server, auth_task), (leads_server, leads_task)):
        server.should_exit = True
        await task
    await auth_runtime.db.dispose()
    await leads_runtime.db.dispose()


async def test_inbox_lead_page_and_settings(site: tuple[httpx.AsyncClient, Any, Any]) -> None:
    client, leads, leads_runtime = site
    email = f"agent-{uuid.uuid4().hex[:10]}@makler-example.de"
    registered = await client.post(
        "/api/auth/register",
        json={"name": "Erika", "email": email, "password": PASSWORD, "company": "Muster"},
    )
    assert registered.status_code == 201, registered.text
    login = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    cookie = {"cookie": f"__Host-session={login.cookies['__Host-session']}"}
    same_site = {**cookie, "sec-fetch-site": "same-origin", "origin": PUBLIC}

    settings = await client.get("/leads/settings", headers=cookie)
    assert settings.status_code == 200, settings.text
    assert "@leads.pix.localhost" in settings.text
    assert "pix-lead-form" in settings.text
    mailbox = (await client.get("/api/leads/settings", headers=cookie)).json()

    await leads.state.intake.receive(
        corpus("is24_xml_multipart"),
        channel="smtp",
        mail_from=None,
        rcpt_to=[mailbox["intake_address"]],
    )
    assert await leads_runtime.jobs.run_due() >= 1

    dashboard = await client.get("/dashboard", headers=cookie)
    assert dashboard.status_code == 200
    # Acknowledged at once, so no longer NEW, but counted as this week's.
    assert 'data-testid="new-leads">0</strong> neue Anfragen' in dashboard.text
    assert "1 in den letzten 7 Tagen · 1 in Bearbeitung" in dashboard.text
    # Orders is not running here: its page says so in German instead of failing blank.
    orders = await client.get("/orders", headers=cookie)
    assert orders.status_code == 503
    assert orders.headers["retry-after"] == "5"
    assert "gerade nicht erreichbar" in orders.text

    inbox = await client.get("/leads", headers=cookie)
    assert inbox.status_code == 200
    assert "Lena Beispiel" in inbox.text
    assert "Finanzierung: 25/25" in inbox.text  # the badge's reasons
    listed = (await client.get("/api/leads/leads", headers=cookie)).json()
    lead_id = listed[0]["id"]

    # Search by meaning: the lead's embedded wishes, with how close each is.
    while await leads_runtime.jobs.run_due():
        pass
    meaning = await client.get(
        "/leads", params={"q": "jemand sucht ein Zuhause", "meaning": "1"}, headers=cookie
    )
    assert meaning.status_code == 200
    assert "Lena Beispiel" in meaning.text
    assert 'data-test="similarity"' in meaning.text
    assert "% passend" in meaning.text

    page = await client.get(f"/leads/{lead_id}", headers=cookie)
    assert page.status_code == 200
    for text in ("Verlauf", "Anfrage", "E-Mail gesendet", "Antworten", "Nachfassen"):
        assert text in page.text, text

    sent = await client.post(
        f"/leads/{lead_id}/reply",
        data={"subject": "", "text": "Passt Dienstag?"},
        headers=same_site,
    )
    assert sent.status_code == 303
    moved = await client.post(
        f"/leads/{lead_id}/status", data={"status": "BOOKED"}, headers=same_site
    )
    assert moved.status_code == 303
    page = await client.get(
        f"/leads/{lead_id}", headers={**cookie, "cookie": cookie["cookie"] + "; lang=en"}
    )
    assert "Booked" in page.text
    assert "Timeline" in page.text
    foreign = await client.get(f"/leads/{uuid.uuid4()}", headers=cookie)
    assert foreign.status_code == 404

    mail = await client.get("/leads/mail", headers=cookie)
    assert mail.status_code == 200
    assert "Eingangsbestätigung" in mail.text
    saved = await client.post(
        "/leads/mail/templates",
        data={"kind": "acknowledgement", "locale": "de", "subject": "Danke!", "body": "{greeting}"},
        headers=same_site,
    )
    assert saved.status_code == 303
    templates = (await client.get("/api/leads/templates", headers=cookie)).json()
    assert templates[0] == {
        "kind": "acknowledgement",
        "locale": "de",
        "subject": "Danke!",
        "body": "{greeting}",
        "custom": True,
    }
    created = await client.post(
        "/leads/mail/ab-tests",
        data={
            "name": "Kurz oder lang",
            "template_kind": "acknowledgement",
            "locale": "de",
            "name_a": "kurz",
            "weight_a": "1",
            "subject_a": "Danke",
            "body_a": "Kurz.",
            "name_b": "lang",
            "weight_b": "2",
            "subject_b": "Vielen Dank",
            "body_b": "Lang.",
        },
        headers=same_site,
    )
    assert created.status_code == 303, created.text
    experiment = (await client.get("/api/leads/ab-tests", headers=cookie)).json()[0]
    started = await client.post(f"/leads/mail/ab-tests/{experiment['id']}/start", headers=same_site)
    assert started.status_code == 303
    page = await client.get("/leads/mail", headers=cookie)
    assert "Kurz oder lang" in page.text
    assert "läuft" in page.text
    bad = await client.post(
        "/leads/mail/ab-tests",
        data={"name": "", "template_kind": "acknowledgement", "subject_a": "x", "body_a": "y"},
        headers=same_site,
    )
    assert bad.status_code == 422
