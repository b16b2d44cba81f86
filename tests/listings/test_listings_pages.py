"""The listing pages through the gateway, signed in, against real auth and listings services
(uvicorn on loopback ports): list, search box, edit, media order, publish, drafts, exposé
progress and the lead's matches, in German and English."""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from listings_helpers import Api, order_placed, stage_export
from pix_auth.app import create_app as auth_app
from pix_contracts.leads import LeadCreated, LeadProfile
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_runtime.embeddings import LocalEmbedder
from pix_runtime.settings import PlatformSettings

PUBLIC = "http://gateway.test"


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
class Site:
    browser: httpx.AsyncClient
    org_id: uuid.UUID
    identity: Any


@pytest.fixture
def services(listings_schema: str, local_embedder: LocalEmbedder) -> Iterator[tuple[str, str]]:
    from pix_listings.app import create_app as listings_app

    auth, _ = auth_app()
    listings, _ = listings_app(embedder=local_embedder)
    served = [Served(auth), Served(listings)]
    yield served[0].url, served[1].url
    for s in served:
        s.stop()


@pytest.fixture
async def site(services: tuple[str, str]) -> AsyncIterator[Site]:
    auth_url, listings_url = services
    email = f"agent-{uuid.uuid4().hex[:8]}@makler-example.de"
    async with httpx.AsyncClient(base_url=auth_url) as auth:
        registered = await auth.post(
            "/register",
            json={
                "name": "Erika Muster",
                "email": email,
                "password": "lange-sichere-phrase-42",
                "company": "Muster Immobilien",
            },
        )
        assert registered.status_code == 201, registered.text
        login = await auth.post(
            "/login", json={"email": email, "password": "lange-sichere-phrase-42"}
        )
        assert login.status_code == 200, login.text
        token = login.json()["token"]
        identity = login.json()["identity"]
    platform = PlatformSettings(auth_url=auth_url, listings_url=listings_url, public_url=PUBLIC)
    app = gateway_app(GatewaySettings(platform=platform))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=PUBLIC,
        headers={"sec-fetch-site": "same-origin"},
    ) as browser:
        # In the jar, not a header: httpx drops a Cookie header when it follows a redirect.
        browser.cookies.set("__Host-session", token, domain="gateway.test")
        yield Site(browser, uuid.UUID(identity["org_id"]), identity)


def texts(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_an_agent_works_a_listing_in_the_ui(site: Site, api: Api) -> None:
    browser = site.browser
    placed = order_placed(site.org_id)
    await api.publish(placed)
    await api.publish(await stage_export(api.runtime, site.org_id, placed.gallery_id))
    lead = LeadCreated(
        lead_id=uuid.uuid4(),
        org_id=site.org_id,
        source="website",
        status="NEW",
        score=64,
        profile=LeadProfile(rooms_min=3, postcodes=["10115"], wishes="Balkon bitte"),
    )
    await api.publish(lead)

    page = await browser.get("/listings")
    assert page.status_code == 200, page.text
    assert placed.reference in page.text
    assert 'aria-current="page">Objekte' in page.text
    [listing_id] = re.findall(r'href="/listings/([0-9a-f-]{36})">' + placed.reference, page.text)

    edit = await browser.get(f"/listings/{listing_id}")
    assert edit.status_code == 200, edit.text
    body = texts(edit.text)
    assert "Energieausweis" in body
    assert "Offene Küche" in body  # captions of the gallery
    assert edit.text.count('data-test="media-item"') == 5
    assert "Grundriss" in body

    # Save facts; a wrong postcode is shown at its field.
    form = {
        "title": "Altbauwohnung mit Balkon",
        "property_type": "apartment",
        "marketing": "sale",
        "price_eur": "450.000",
        "rooms": "3",
        "living_area_m2": "84,5",
        "energy_certificate_type": "verbrauch",
        "energy_value_kwh": "112,4",
        "energy_class": "D",
        "postcode": "1011x",
        "city": "Berlin",
        "street": "Lindenallee 5a",
        "features": "Balkon, Einbauküche",
        "description_de": "Helle Wohnung mit Balkon.",
    }
    bad = await browser.post(f"/listings/{listing_id}", data=form)
    assert bad.status_code == 422
    assert 'id="postcode-error"' in bad.text
    saved = await browser.post(
        f"/listings/{listing_id}", data={**form, "postcode": "10115"}, follow_redirects=True
    )
    assert saved.status_code == 200
    assert "Gespeichert." in saved.text
    assert 'value="Altbauwohnung mit Balkon"' in saved.text

    # Media order and title picture.
    ids = re.findall(r'name="position_([0-9a-f-]{36})"', saved.text)
    reordered = {f"position_{media_id}": str(len(ids) - n) for n, media_id in enumerate(ids)}
    reordered["title_media_id"] = ids[1]
    moved = await browser.post(
        f"/listings/{listing_id}/media", data=reordered, follow_redirects=True
    )
    assert re.findall(r'name="position_([0-9a-f-]{36})"', moved.text) == list(reversed(ids))
    assert re.search(rf'value="{ids[1]}" checked', moved.text)

    # Draft, then take it over.
    drafted = await browser.post(f"/listings/{listing_id}/draft", follow_redirects=True)
    assert 'data-test="draft"' in drafted.text
    taken = await browser.post(f"/listings/{listing_id}/take-draft", follow_redirects=True)
    assert "Entwurf übernommen." in taken.text

    published = await browser.post(f"/listings/{listing_id}/publish", follow_redirects=True)
    assert 'data-test="listing-status">Veröffentlicht' in published.text
    await api.run_jobs()  # embeddings
    matches = await browser.get(f"/listings/{listing_id}")
    assert "1 Interessenten könnten das wollen" in texts(matches.text)
    assert "3 Zimmer wie gewünscht" in matches.text

    # Exposé: queued with progress (polling), then a download link.
    queued = await browser.post(
        f"/listings/{listing_id}/exposes", data={"locale": "de"}, follow_redirects=True
    )
    assert 'data-test="expose-progress"' in queued.text
    assert 'hx-trigger="every 1s"' in queued.text
    await api.run_jobs()
    partial = await browser.get(f"/listings/{listing_id}/exposes")
    assert 'data-test="expose-download"' in partial.text
    assert "hx-trigger" not in partial.text

    # The search box says which way a listing matched.
    found = await browser.get("/listings", params={"q": "Balkon"})
    assert 'data-test="search-hits"' in found.text
    assert "Text" in texts(found.text)

    # A lead's page can embed its matching listings, with the reasons, in English too.
    browser.cookies.set("lang", "en", domain="gateway.test")
    fragment = await browser.get(f"/listings/for-lead/{lead.lead_id}")
    assert 'data-test="lead-matches"' in fragment.text
    assert "Altbauwohnung mit Balkon" in fragment.text
    assert "3 rooms as wished" in fragment.text
    assert "balcony mentioned" in fragment.text.lower()
    english = await browser.get(f"/listings/{listing_id}")
    assert "Energy certificate" in english.text
    assert "1 leads might want this" in texts(english.text)
