"""The privacy pages through the real gateway (auth and leads as HTTP servers): an agent finds a
lead's person, downloads their data, records an objection and erases them; the record of
processing lists the processors from the services that answer and names those that do not."""

from __future__ import annotations

import asyncio
import json
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


async def test_an_agent_serves_a_leads_rights_and_the_record_lists_processors(
    site: tuple[httpx.AsyncClient, Any, Any],
) -> None:
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
    mailbox = (await client.get("/api/leads/settings", headers=cookie)).json()
    await leads.state.intake.receive(
        corpus("is24_xml_multipart"),
        channel="smtp",
        mail_from=None,
        rcpt_to=[mailbox["intake_address"]],
    )
    await leads_runtime.jobs.run_due()

    page = await client.get("/privacy/leads", headers=cookie)
    assert page.status_code == 200
    assert "Betroffenenrechte von Interessenten" in page.text
    found = await client.post(
        "/privacy/leads",
        data={"email": "lena.beispiel@example.org", "action": "find"},
        headers=same_site,
    )
    assert found.status_code == 200, found.text
    assert "1 Interessenten, 1 Originalnachrichten gefunden." in found.text
    # Notify and the assistant are not running here: the page says so.
    assert "Gefunden in notify: nicht erreichbar" in found.text

    exported = await client.post(
        "/privacy/leads",
        data={"email": "lena.beispiel@example.org", "action": "export"},
        headers=same_site,
    )
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    data = json.loads(exported.content)
    assert data["leads"]["leads"][0]["name"] == "Lena Beispiel"
    assert data["notify"] is None

    objected = await client.post(
        "/privacy/leads", data={"phone": "030 23125 401", "action": "object"}, headers=same_site
    )
    assert "Widerspruch vermerkt" in objected.text
    erased = await client.post(
        "/privacy/leads",
        data={"email": "lena.beispiel@example.org", "action": "erase"},
        headers=same_site,
    )
    assert "1 Interessenten anonymisiert" in erased.text
    inbox = await client.get("/leads", headers=cookie)
    assert "Lena Beispiel" not in inbox.text

    empty = await client.post("/privacy/leads", data={"action": "find"}, headers=same_site)
    assert empty.status_code == 422

    record = await client.get("/privacy/processing", headers={"accept-language": "en"})
    assert record.status_code == 200
    assert "Processors and record of processing" in record.text
    # Only auth and leads run here: leads' processor is listed, the others are named as silent.
    assert "OpenAI-compatible model provider" in record.text
    assert "Not answering:" in record.text
    assert "billing" in record.text
    download = await client.get("/admin/privacy/processing.json", headers=cookie)
    assert download.status_code == 404  # admins only
