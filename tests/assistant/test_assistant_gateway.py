"""The assistant behind the real gateway (auth, assistant and gateway as HTTP servers): answers
stream through the proxy as they are written (the test reads the first words while the model
still holds back the rest), the page in German and English, and without a model the page
names the settings to set."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from assistant_helpers import AssistantStack, person, serve_in_loop
from chat_fake import Round
from pix_assistant.app import create_app as assistant_app
from pix_assistant.settings import AssistantSettings
from pix_auth.app import create_app as auth_app
from pix_auth.settings import AuthSettings
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_runtime.identity import IDENTITY_HEADER, sign_identity
from pix_runtime.settings import PlatformSettings

PASSWORD = "Ruhige-Seitenstrasse-12"


@dataclass
class Site:
    gateway: str
    unconfigured_gateway: str
    auth: str


@pytest.fixture(scope="module")
async def site(stack: AssistantStack) -> AsyncIterator[Site]:
    auth, auth_runtime = auth_app(AuthSettings())
    off, off_runtime = assistant_app(AssistantSettings(model=None, base_url=None, api_key=None))
    async with serve_in_loop(auth) as auth_url, serve_in_loop(off) as off_url:
        platform = PlatformSettings(
            auth_url=auth_url, assistant_url=str(stack.client.base_url).rstrip("/")
        )
        unconfigured = PlatformSettings(auth_url=auth_url, assistant_url=off_url)
        async with (
            serve_in_loop(gateway_app(GatewaySettings(platform=platform))) as gateway_url,
            serve_in_loop(gateway_app(GatewaySettings(platform=unconfigured))) as off_gateway,
        ):
            yield Site(gateway_url, off_gateway, auth_url)
    await auth_runtime.db.dispose()
    await off_runtime.db.dispose()


async def _signed_in(client: httpx.AsyncClient, *, admin_via: str = "") -> dict[str, str]:
    """Register and sign in through the gateway; `admin_via` (auth's URL): made a platform
    admin first, by an admin through auth's API."""
    email = f"agent-{uuid.uuid4().hex[:10]}@makler-example.de"
    registered = await client.post(
        "/api/auth/register",
        json={"name": "Erika", "email": email, "password": PASSWORD, "company": "Muster"},
    )
    assert registered.status_code == 201, registered.text
    login = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    if admin_via:
        staff = person("admin")
        key = os.environ["PIX_INTERNAL_KEY"].encode()
        promoted = await client.patch(
            f"{admin_via}/admin/users/{login.json()['identity']['user_id']}",
            json={"role": "admin"},
            headers={IDENTITY_HEADER: sign_identity(staff, key)},
        )
        assert promoted.status_code == 200, promoted.text
        login = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    return {
        "cookie": f"__Host-session={login.cookies['__Host-session']}",
        "sec-fetch-site": "same-origin",
    }


async def test_answers_stream_through_the_gateway_as_they_are_written(
    site: Site, stack: AssistantStack
) -> None:
    release = threading.Event()
    stack.chat.script(
        "erzähl mir langsam etwas",
        Round(text="Erstens kommt das hier und zweitens kommt das danach.", hold=release),
        intent="crm",
    )
    async with httpx.AsyncClient(base_url=site.gateway, timeout=30) as client:
        headers = await _signed_in(client)
        conversation = (
            await client.post("/api/assistant/conversations", json={}, headers=headers)
        ).json()["id"]
        seen: list[str] = []
        async with client.stream(
            "POST",
            f"/api/assistant/conversations/{conversation}/messages",
            json={"text": "Erzähl mir langsam etwas"},
            headers=headers,
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line.removeprefix("data: "))
                if event["type"] == "delta":
                    seen.append(event["text"])
                    # The first words came through while the model holds back the rest.
                    if not release.is_set():
                        assert "danach" not in "".join(seen)
                        release.set()
                if event["type"] == "done":
                    break
    assert release.is_set()
    assert "".join(seen) == "Erstens kommt das hier und zweitens kommt das danach."


async def test_the_page_in_german_and_english(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.gateway, timeout=30) as client:
        headers = await _signed_in(client)
        empty = await client.get("/assistant", headers=headers)
        assert empty.status_code == 200, empty.text
        assert "Unterhaltungen" in empty.text
        assert 'href="/assistant"' in empty.text
        created = await client.post("/assistant/new", headers={**headers, "origin": site.gateway})
        assert created.status_code == 303
        page = await client.get(created.headers["location"], headers=headers)
        assert 'data-conversation="' in page.text
        assert "/static/assistant.js" in page.text
        assert 'data-t-confirm="Bestätigen"' in page.text
        english = await client.get(
            created.headers["location"],
            headers={**headers, "cookie": headers["cookie"] + "; lang=en"},
        )
        assert 'data-t-confirm="Confirm"' in english.text
        assert "Conversations" in english.text
        script = await client.get("/static/assistant.js")
        assert script.status_code == 200
        stranger = await client.get(f"/assistant?c={uuid.uuid4()}", headers=headers)
        assert stranger.status_code == 404


async def test_without_a_model_the_page_names_the_settings(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.unconfigured_gateway, timeout=30) as client:
        headers = await _signed_in(client)
        page = await client.get("/assistant", headers=headers)
        assert page.status_code == 200, page.text
        assert "Der Assistent ist nicht eingerichtet" in page.text
        assert "PIX_ASSISTANT_MODEL" in page.text
        assert "PIX_ASSISTANT_BASE_URL" in page.text
        assert "assistant.js" not in page.text
        # The rest of the site is unaffected.
        assert (await client.get("/dashboard", headers=headers)).status_code == 200


async def test_admins_see_the_costs_page_and_set_a_budget(
    site: Site, stack: AssistantStack
) -> None:
    async with httpx.AsyncClient(base_url=site.gateway, timeout=30) as client:
        agent = await _signed_in(client)
        assert (await client.get("/assistant/costs", headers=agent)).status_code == 404
        admin = await _signed_in(client, admin_via=site.auth)
        conversation = (
            await client.post("/api/assistant/conversations", json={}, headers=admin)
        ).json()["id"]
        stack.chat.script("kosten prüfen bitte", Round(text="Erledigt."))
        await client.post(
            f"/api/assistant/conversations/{conversation}/messages",
            json={"text": "Kosten prüfen bitte"},
            headers=admin,
        )

        page = await client.get("/assistant/costs", headers=admin)

        assert page.status_code == 200, page.text
        assert 'data-test="assistant-costs"' in page.text
        assert "chat" in page.text
        assert "router" in page.text
        org = str(uuid.uuid4())
        saved = await client.post(
            "/assistant/costs/budget",
            data={"org_id": org, "monthly_eur": "12,50"},
            headers={**admin, "origin": site.gateway},
        )
        assert saved.status_code == 303
        budget = await client.get("/api/assistant/usage", headers=admin)
        assert budget.status_code == 200
        staff = person("admin", org_id=uuid.UUID(org))
        ours = await stack.call(staff, "GET", "/usage")
        assert ours.json()["monthly_eur"] == 12.5
