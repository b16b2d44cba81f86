"""Exposé PDFs made by the job, served by signed link; description drafts; the
OpenAI-compatible providers against a local server; a model change re-embeds."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from listings_helpers import Api, order_placed, person, stage_export
from openai_fake import FakeOpenAI, ServerThread
from pix_contracts.listings import ListingUpdated
from pix_listings.app import create_app
from pix_listings.models import lead_profiles, listing_vectors
from pix_listings.settings import ListingsSettings
from pydantic import SecretStr
from sqlalchemy import select


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    server = ServerThread(fake)
    server.start()
    yield fake
    server.stop()


@pytest.fixture
async def openai_api(listings_schema: str, fake_openai: FakeOpenAI) -> AsyncIterator[Api]:
    settings = ListingsSettings(
        embedding_provider="openai",
        embedding_base_url=fake_openai.url,
        embedding_api_key=SecretStr("sk-test-embeddings"),
        embedding_model="text-embedding-3-small",
        embedding_dimensions=64,
        draft_provider="openai",
        draft_base_url=fake_openai.url,
        draft_api_key=SecretStr("sk-test-drafts"),
        draft_model="gpt-test",
    )
    app, runtime = create_app(settings)
    await app.state.vectors.ensure_indexes()
    transport = httpx.ASGITransport(app=app)
    async with (
        TestKafkaBroker(runtime.broker) as broker,
        httpx.AsyncClient(transport=transport, base_url="http://listings") as client,
    ):
        yield Api(client, runtime, broker, app)
    await runtime.db.dispose()


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", data))


async def test_an_expose_is_rendered_by_the_job_versioned_and_linked(api: Api) -> None:
    agent = person()
    placed = order_placed(agent.org_id)
    await api.publish(placed)
    await api.publish(await stage_export(api.runtime, agent.org_id, placed.gallery_id))
    [summary] = [
        x for x in (await api.get(agent, "/listings")).json() if x["reference"] == placed.reference
    ]
    lid = summary["id"]
    from listings_helpers import complete_listing

    fields = complete_listing()
    for key in ("street", "postcode", "city"):
        fields.pop(key)
    assert (await api.patch(agent, f"/listings/{lid}", fields)).status_code == 200
    assert (await api.post(agent, f"/listings/{lid}/publish")).status_code == 200

    requested = await api.post(agent, f"/listings/{lid}/exposes", {"locale": "de"})
    assert requested.status_code == 202, requested.text
    assert requested.json()["status"] == "queued"
    assert requested.json()["version"] == 1
    await api.run_jobs()
    [done] = (await api.get(agent, f"/listings/{lid}/exposes")).json()
    assert done["status"] == "done", done
    # Title page with facts and energy, description, 3 room photos, floor plan, contact.
    assert done["pages"] >= 4
    assert done["download_url"]

    # Leads hear of the new link; the link works without a session and shows the PDF.
    updates = [e for e in await api.outbox(ListingUpdated) if str(e.listing_id) == lid]
    link = updates[-1].facts.expose_url
    assert link
    assert link.startswith("http://testserver/api/listings/public/exposes/")
    path = link.removeprefix("http://testserver/api/listings")
    response = await api.client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert pdf_pages(response.content) == done["pages"]
    assert f"Expose-{placed.reference}-de.pdf" in response.headers["content-disposition"]

    # A forged or foreign signature finds nothing.
    assert (await api.client.get(path[: path.index("sig=")] + "sig=" + "0" * 32)).status_code == 404
    other = path.replace(lid, str(uuid.uuid4()))
    assert (await api.client.get(other)).status_code == 404

    # A second request is version 2, in English.
    second = await api.post(agent, f"/listings/{lid}/exposes", {"locale": "en"})
    assert second.json()["version"] == 2
    await api.run_jobs()
    versions = (await api.get(agent, f"/listings/{lid}/exposes")).json()
    assert [(v["version"], v["locale"], v["status"]) for v in versions] == [
        (2, "en", "done"),
        (1, "de", "done"),
    ]
    bad = await api.post(agent, f"/listings/{lid}/exposes", {"locale": "fr"})
    assert bad.status_code == 422

    # Withdrawn: the public link answers nothing.
    await api.post(agent, f"/listings/{lid}/withdraw", {})
    assert (await api.client.get(path)).status_code == 404


async def test_offline_drafts_are_kept_beside_the_description(api: Api) -> None:
    agent = person()
    placed = order_placed(agent.org_id)
    await api.publish(placed)
    await api.publish(await stage_export(api.runtime, agent.org_id, placed.gallery_id))
    [summary] = [
        x for x in (await api.get(agent, "/listings")).json() if x["reference"] == placed.reference
    ]
    await api.patch(
        agent,
        f"/listings/{summary['id']}",
        {"rooms": 3, "living_area_m2": 84, "features": ["Südbalkon"], "price_eur": 450000},
    )
    response = await api.post(agent, f"/listings/{summary['id']}/draft")
    assert response.status_code == 200, response.text
    draft = response.json()
    assert draft["model"] == "offline-template-v1"
    assert "Diese Wohnung in Berlin steht zum Kauf bereit: 3 Zimmer" in draft["description_de"]
    assert "Offene Küche: hell, ruhig und freundlich" in draft["description_de"]
    assert "450.000 €" in draft["description_de"]
    assert "This apartment in Berlin is for sale" in draft["description_en"]
    listing = (await api.get(agent, f"/listings/{summary['id']}")).json()
    assert listing["draft_de"] == draft["description_de"]
    assert listing["description_de"] == ""  # never published unseen


async def test_openai_compatible_drafts_and_embeddings(
    openai_api: Api, fake_openai: FakeOpenAI
) -> None:
    api = openai_api
    agent = person()
    listing = await api.create_published(agent)
    draft = await api.post(agent, f"/listings/{listing['id']}/draft")
    assert draft.status_code == 200, draft.text
    assert draft.json()["model"] == "openai:gpt-test"
    assert draft.json()["description_de"].startswith("Lichtdurchflutete")
    chat = [r for r in fake_openai.requests if r[0] == "chat"][-1]
    assert chat[2]["authorization"] == "Bearer sk-test-drafts"
    material = json.loads(chat[1]["messages"][1]["content"])
    assert material["city"] == "Berlin"

    # A broken answer is a clean 503, nothing stored.
    fake_openai.chat_answers.append((200, "not json"))
    broken = await api.post(agent, f"/listings/{listing['id']}/draft")
    assert broken.status_code == 503
    assert broken.json()["error"]["code"] == "draft_failed"

    # Embeddings come from the endpoint, recorded with model and dimension.
    fake_openai.embedding_status.append(500)  # the first try fails, the job retries
    await api.run_jobs()
    api.runtime.clock.advance(timedelta(hours=1))
    await api.run_jobs()
    async with api.runtime.db.sessions() as session:
        row = (
            (
                await session.execute(
                    select(listing_vectors).where(
                        listing_vectors.c.listing_id == uuid.UUID(listing["id"])
                    )
                )
            )
            .mappings()
            .one()
        )
    assert row["model"] == "openai:text-embedding-3-small@64"
    assert row["dim"] == 64
    embed_calls = [r for r in fake_openai.requests if r[0] == "embeddings"]
    assert embed_calls[-1][1]["dimensions"] == 64
    assert embed_calls[-1][2]["authorization"] == "Bearer sk-test-embeddings"
    hits = (
        await api.get(
            agent, "/search", params={"q": "Helle Altbauwohnung mit Südbalkon, Stuck und Dielen"}
        )
    ).json()
    assert hits[0]["id"] == listing["id"]
    assert set(hits[0]["matched"]) == {"text", "meaning"}


async def test_a_model_change_re_embeds_in_the_background(
    api: Api, openai_api: Api, fake_openai: FakeOpenAI
) -> None:
    agent = person()
    listing = await api.create_published(agent)
    await api.run_jobs()  # the local model's vector

    async def model_of() -> str:
        async with api.runtime.db.sessions() as session:
            found = await session.scalar(
                select(listing_vectors.c.model).where(
                    listing_vectors.c.listing_id == uuid.UUID(listing["id"])
                )
            )
            return str(found)

    assert await model_of() == "use-multilingual-v3"
    # The service restarts with another model: the re-embed job converts old vectors.
    await openai_api.app.state.vectors.plan_reembed()
    await openai_api.run_jobs()
    assert await model_of() == "openai:text-embedding-3-small@64"
    async with api.runtime.db.sessions() as session:
        stale = await session.scalar(
            select(lead_profiles.c.lead_id)
            .where(lead_profiles.c.model == "use-multilingual-v3")
            .limit(1)
        )
    assert stale is None
