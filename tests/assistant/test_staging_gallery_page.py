"""The gallery's "Virtuell einrichten" through the real gateway (auth, media, listings and the
assistant as HTTP servers): a gallery without a listing says so and stages nothing; a photo
not yet delivered to the listing is refused with the reason; a delivered one is staged in the
assistant's job, and its card polls only while the staging is busy."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from assistant_helpers import MODEL, ROUTER, AssistantStack, model_settings, serve_in_loop
from faststream.kafka import TestKafkaBroker
from listings.listings_helpers import order_placed, stage_export
from pix_assistant.app import create_app as assistant_app
from pix_assistant.settings import Price
from pix_auth.app import create_app as auth_app
from pix_auth.settings import AuthSettings
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_media.app import create_app as media_app
from pix_media.settings import MediaSettings
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.settings import PlatformSettings
from test_assistant_staging_page import _serve_without_lifespan, _signed_in


@dataclass
class Gallery:
    url: str
    media: ServiceRuntime


@pytest.fixture(scope="module")
async def site(stack: AssistantStack) -> AsyncIterator[Gallery]:
    auth, auth_runtime = auth_app(AuthSettings())
    media, media_runtime = media_app(MediaSettings())
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
    assistant, assistant_runtime = assistant_app(staging, transports=stack.transports)
    listings = stack.transports["listings"]
    assert isinstance(listings, httpx.ASGITransport)
    async with (
        serve_in_loop(auth) as auth_url,
        serve_in_loop(assistant) as assistant_url,
        _serve_without_lifespan(media) as media_url,
        _serve_without_lifespan(listings.app) as listings_url,  # type: ignore[arg-type]
    ):
        platform = PlatformSettings(
            auth_url=auth_url,
            assistant_url=assistant_url,
            listings_url=listings_url,
            media_url=media_url,
        )
        async with serve_in_loop(gateway_app(GatewaySettings(platform=platform))) as url:
            yield Gallery(url, media_runtime)
    for runtime in (auth_runtime, media_runtime, assistant_runtime):
        await runtime.db.dispose()


async def _publish(runtime: ServiceRuntime, *events: object) -> None:
    async with TestKafkaBroker(runtime.broker) as broker:
        for event in events:
            await broker.publish(event.model_dump_json().encode(), event.topic)  # type: ignore[attr-defined]


HTMX = {"hx-request": "true"}


async def test_staging_from_the_gallery_page(site: Gallery, stack: AssistantStack) -> None:
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as browser:
        headers, org_id = await _signed_in(browser)
        placed = order_placed(org_id)
        gallery = f"/galleries/{placed.gallery_id}"
        # Media opens the order's gallery; listings has not heard of the order.
        await _publish(site.media, placed)

        panel = await browser.get(f"{gallery}/staging", headers=headers)
        assert panel.status_code == 200, panel.text
        assert 'data-test="staging-no-listing"' in panel.text
        assert "gehört zu keinem Objekt" in panel.text
        refused = await browser.post(
            f"{gallery}/stage",
            data={"asset_id": str(uuid.uuid4()), "style": "modern"},
            headers={**headers, **HTMX},
        )
        assert 'data-code="no_listing"' in refused.text
        # Without htmx: back to the gallery, whose panel names the reason.
        plain = await browser.post(
            f"{gallery}/stage", data={"asset_id": str(uuid.uuid4())}, headers=headers
        )
        assert plain.status_code == 303
        assert plain.headers["location"] == f"{gallery}?staging_error=no_listing"
        back = await browser.get(f"{gallery}/staging?staging_error=no_listing", headers=headers)
        assert 'data-code="no_listing"' in back.text

        # The order's listing exists, its photos come with the delivery.
        await _publish(stack.listings_runtime, placed)
        panel = await browser.get(f"{gallery}/staging", headers=headers)
        assert 'data-test="staging-listing"' in panel.text
        assert placed.reference in panel.text
        asset = uuid.uuid4()
        early = await browser.post(
            f"{gallery}/stage", data={"asset_id": str(asset)}, headers={**headers, **HTMX}
        )
        assert 'data-code="not_delivered"' in early.text

        exported = await stage_export(
            stack.listings_runtime,
            org_id,
            placed.gallery_id,
            asset_ids={"Wohnzimmer_01": asset},
        )
        await _publish(stack.listings_runtime, exported)
        asked = await browser.post(
            f"{gallery}/stage",
            data={"asset_id": str(asset), "style": "industrial"},
            headers={**headers, **HTMX},
        )
        assert asked.status_code == 200, asked.text
        assert 'data-test="staging"' in asked.text
        staging_id = asked.text.split('id="staging-')[1].split('"')[0]
        async with asyncio.timeout(60):
            while True:
                card = await browser.get(f"/staging/{staging_id}", headers=headers)
                if 'data-status="done"' in card.text:
                    break
                assert 'hx-trigger="every 1s"' in card.text, card.text
                await asyncio.sleep(0.1)
        assert "hx-trigger" not in card.text
        assert 'data-test="staged-label">Virtuell eingerichtet<' in card.text

        # Another organisation's staging is not shown.
        other, _ = await _signed_in(browser)
        foreign = await browser.get(f"/staging/{staging_id}", headers=other)
        assert 'data-test="staging-error"' in foreign.text
        assert "Virtuell eingerichtet" not in foreign.text
