"""The listing's page through the real gateway (auth, listings, assistant and gateway as HTTP
servers): each photo has "Virtuell einrichten" with a style choice; the staged photo appears
beside the original with its label; without an image model the page says what to set."""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from assistant_helpers import MODEL, ROUTER, AssistantStack, model_settings, person, serve_in_loop
from fastapi import FastAPI
from pix_assistant.app import create_app as assistant_app
from pix_assistant.settings import Price
from pix_auth.app import create_app as auth_app
from pix_auth.settings import AuthSettings
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_runtime.settings import PlatformSettings
from test_assistant_staging import _listing_with_photos

PASSWORD = "Ruhige-Seitenstrasse-12"


@asynccontextmanager
async def _serve_without_lifespan(app: FastAPI) -> AsyncIterator[str]:
    """An app the stack already runs in-process (its runtime started there), on a port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class Site:
    staging_on: str
    staging_off: str


@pytest.fixture(scope="module")
async def site(stack: AssistantStack) -> AsyncIterator[Site]:
    auth, auth_runtime = auth_app(AuthSettings())
    staging = model_settings(
        stack.chat,
        staging_provider="openai",
        staging_base_url=stack.chat.url.removesuffix("/v1") + "/v1",
        staging_api_key="image-key",
        staging_model="image-edit-1",
        prices={
            MODEL: Price(input_eur=2.0, output_eur=10.0),
            ROUTER: Price(input_eur=0.2, output_eur=1.0),
            "image-edit-1": Price(image_eur=0.05),
        },
    )
    on, on_runtime = assistant_app(staging, transports=stack.transports)
    listings = stack.transports["listings"]
    assert isinstance(listings, httpx.ASGITransport)
    async with (
        serve_in_loop(auth) as auth_url,
        serve_in_loop(on) as on_url,
        _serve_without_lifespan(listings.app) as listings_url,  # type: ignore[arg-type]
    ):
        with_staging = PlatformSettings(
            auth_url=auth_url, assistant_url=on_url, listings_url=listings_url
        )
        # The stack's own assistant has no image model.
        without = PlatformSettings(
            auth_url=auth_url,
            assistant_url=str(stack.client.base_url).rstrip("/"),
            listings_url=listings_url,
        )
        async with (
            serve_in_loop(gateway_app(GatewaySettings(platform=with_staging))) as on_gateway,
            serve_in_loop(gateway_app(GatewaySettings(platform=without))) as off_gateway,
        ):
            yield Site(on_gateway, off_gateway)
    await auth_runtime.db.dispose()
    await on_runtime.db.dispose()


async def _signed_in(client: httpx.AsyncClient) -> tuple[dict[str, str], uuid.UUID]:
    email = f"agent-{uuid.uuid4().hex[:10]}@makler-example.de"
    registered = await client.post(
        "/api/auth/register",
        json={"name": "Erika", "email": email, "password": PASSWORD, "company": "Muster"},
    )
    assert registered.status_code == 201, registered.text
    login = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    headers = {
        "cookie": f"__Host-session={login.cookies['__Host-session']}",
        "sec-fetch-site": "same-origin",
    }
    return headers, uuid.UUID(login.json()["identity"]["org_id"])


async def test_a_photo_is_staged_from_the_listing_page_and_shown_beside_its_original(
    site: Site, stack: AssistantStack
) -> None:
    async with httpx.AsyncClient(base_url=site.staging_on, timeout=30) as browser:
        headers, org_id = await _signed_in(browser)
        listing = await _listing_with_photos(stack, person(org_id=org_id))
        living = next(m for m in listing["media"] if m["name"] == "Wohnzimmer_01")
        plan = next(m for m in listing["media"] if m["is_floor_plan"])

        page = await browser.get(f"/listings/{listing['id']}", headers=headers)

        assert page.status_code == 200, page.text
        html = page.text
        # One staging form per photo that can be staged (no floor plan), with the styles.
        photos = [m for m in listing["media"] if not m["is_floor_plan"]]
        assert html.count('data-test="stage-button"') == len(photos)
        assert f'id="stage-{living["id"]}"' in html
        assert f'id="stage-{plan["id"]}"' not in html
        assert "Virtuell einrichten" in html
        for style in ("modern", "skandinavisch", "klassisch"):
            assert f">{style}</option>" in html
        assert 'hx-post="/listings/' in html
        assert 'data-test="stage-progress"' in html
        assert 'data-test="staging-off"' not in html

        staged = await browser.post(
            f"/listings/{listing['id']}/stage",
            data={"media_id": living["id"], "style": "scandinavian"},
            headers=headers,
        )

        # The assistant answers at once; the page follows the staging's job.
        assert staged.status_code == 303, staged.text
        assert "?staging=" in staged.headers["location"]
        staging_id = staged.headers["location"].split("?staging=")[1].split("#")[0]
        back = await browser.get(staged.headers["location"], headers=headers)
        assert f'hx-get="/staging/{staging_id}"' in back.text
        async with asyncio.timeout(60):
            while True:
                card = await browser.get(f"/staging/{staging_id}", headers=headers)
                assert card.status_code == 200, card.text
                if 'data-status="done"' in card.text:
                    break
                # Busy: the card polls itself (and only while busy).
                assert 'hx-trigger="every 1s"' in card.text
                await asyncio.sleep(0.1)
        assert 'hx-trigger="every' not in card.text
        # Done: the listing page's media section reloads itself with the new photo.
        assert card.headers["hx-trigger"] == "pix:staged"
        assert 'hx-trigger="pix:staged from:body"' in back.text
        assert 'data-test="staged-done"' in card.text
        assert 'data-test="staged-label">Virtuell eingerichtet<' in card.text
        staged = await browser.get(f"/listings/{listing['id']}", headers=headers)
        after = (
            await stack.listings.get(
                f"/listings/{listing['id']}", headers=stack.headers(person(org_id=org_id))
            )
        ).json()
        [new] = [m for m in after["media"] if m["staged"]]
        assert new["source_photo_id"] == living["id"]
        assert new["staging_style"] == "scandinavian"
        # Beside its original, with the label and where it came from.
        cards = re.findall(r'<figure class="photo-card".*?</figure>', staged.text, re.S)
        index = next(i for i, card in enumerate(cards) if 'data-staged="true"' in card)
        assert f'name="position_{living["id"]}"' in cards[index - 1]
        assert 'data-test="staged-label">Virtuell eingerichtet<' in cards[index]
        assert "aus Wohnzimmer_01" in cards[index]
        # The staged photo is not offered for staging again.
        assert f'id="stage-{new["id"]}"' not in staged.text

        # A photo of another organisation's listing is not staged: the page says so.
        foreign = await _listing_with_photos(stack, person())
        refused = await browser.post(
            f"/listings/{listing['id']}/stage",
            data={"media_id": foreign["media"][0]["id"]},
            headers=headers,
        )
        assert refused.status_code == 303
        refused = await browser.get(refused.headers["location"], headers=headers)
        assert 'data-test="staging-error"' in refused.text
        assert "(not_found)" in refused.text


async def test_without_an_image_model_the_page_says_what_to_set(
    site: Site, stack: AssistantStack
) -> None:
    async with httpx.AsyncClient(base_url=site.staging_off, timeout=30) as browser:
        headers, org_id = await _signed_in(browser)
        listing = await _listing_with_photos(stack, person(org_id=org_id))

        page = await browser.get(f"/listings/{listing['id']}", headers=headers)

        assert page.status_code == 200, page.text
        assert 'data-test="stage-button"' not in page.text
        assert 'data-test="staging-off"' in page.text
        assert "PIX_ASSISTANT_STAGING_PROVIDER" in page.text
        assert "PIX_ASSISTANT_STAGING_API_KEY" in page.text
