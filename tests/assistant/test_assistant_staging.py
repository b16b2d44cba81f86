"""Virtual staging: an empty room of a listing furnished by the image model (OpenAI's Images edit
through the chat, Gemini's generateContent through the gallery's endpoint), fed the listing's
anonymised rendition, stored through the real listings app as a new photo of the listing, marked
as staged and labelled in its corner; the real photo stays."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from assistant_helpers import MODEL, ROUTER, AssistantStack, model_settings, person
from chat_fake import Round, tool_call
from faststream.kafka import TestKafkaBroker
from listings.listings_helpers import order_placed, stage_export
from PIL import Image
from pix_assistant.app import create_app
from pix_assistant.settings import Price
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime


async def _listing_with_photos(stack: AssistantStack, who: Identity) -> dict[str, Any]:
    """A listing made from an order and its delivered gallery export, as listings' subscribers
    make it (FastStream's test broker hands them the events)."""
    placed = order_placed(who.org_id)
    exported = await stage_export(stack.listings_runtime, who.org_id, placed.gallery_id)
    async with TestKafkaBroker(stack.listings_runtime.broker) as broker:
        for event in (placed, exported):
            await broker.publish(event.model_dump_json().encode(), event.topic)
    found = (await stack.listings.get("/listings", headers=stack.headers(who))).json()
    [summary] = [item for item in found if item["reference"] == placed.reference]
    response = await stack.listings.get(f"/listings/{summary['id']}", headers=stack.headers(who))
    listing: dict[str, Any] = response.json()
    return listing


async def _staging_app(
    stack: AssistantStack, provider: str, model: str
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    settings = model_settings(
        stack.chat,
        staging_provider=provider,
        staging_base_url=stack.chat.url.removesuffix("/v1")
        + ("/v1beta" if provider == "gemini" else "/v1"),
        staging_api_key="image-key",
        staging_model=model,
        prices={
            MODEL: Price(input_eur=2.0, output_eur=10.0),
            ROUTER: Price(input_eur=0.2, output_eur=1.0),
            model: Price(image_eur=0.05),
        },
    )
    app, runtime = create_app(settings, transports=stack.transports)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://assistant"
    ) as client:
        yield client, runtime
    await runtime.db.dispose()


@pytest.fixture
async def openai_staging(
    stack: AssistantStack,
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    async for pair in _staging_app(stack, "openai", "image-edit-1"):
        yield pair


@pytest.fixture
async def gemini_staging(
    stack: AssistantStack,
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    async for pair in _staging_app(stack, "gemini", "gemini-image-1"):
        yield pair


def _events(body: str) -> list[tuple[str, dict[str, Any]]]:
    events, kind = [], ""
    for line in body.splitlines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((kind, json.loads(line.removeprefix("data: "))))
    return events


async def test_the_chat_stages_an_empty_room_as_a_new_labelled_picture(
    stack: AssistantStack, openai_staging: tuple[httpx.AsyncClient, ServiceRuntime]
) -> None:
    client, runtime = openai_staging
    agent = person()
    listing = await _listing_with_photos(stack, agent)
    living = next(m for m in listing["media"] if m["name"] == "Wohnzimmer_01")
    rendition = await stack.listings_runtime.storage.get_bytes(living["storage_key"])

    def show(body: dict[str, Any]) -> Round:
        result = json.loads([m for m in body["messages"] if m["role"] == "tool"][-1]["content"])
        return Round(text=f"Hier ist das eingerichtete Wohnzimmer:\n{result['image_url']}")

    stack.chat.script(
        "richte das wohnzimmer skandinavisch ein",
        Round(
            calls=[
                tool_call(
                    "virtual_staging",
                    listing_id=listing["id"],
                    media_id=living["id"],
                    style="scandinavian",
                )
            ]
        ),
        Round(make=show),
        intent="expose",
    )
    client.headers[IDENTITY_HEADER] = sign_identity(agent, runtime.internal_key)
    conversation = (await client.post("/conversations", json={})).json()["id"]
    before = len(stack.chat.image_edits)

    response = await client.post(
        f"/conversations/{conversation}/messages",
        json={"text": "Richte das Wohnzimmer skandinavisch ein"},
    )

    events = _events(response.text)
    assert [d["label"] for k, d in events if k == "tool_start"] == ["Virtuell einrichten"]
    assert [d["ok"] for k, d in events if k == "tool_end"] == [True]
    text = "".join(d["text"] for k, d in events if k == "delta")
    url = text.splitlines()[-1]
    assert url.startswith("http://testserver/api/media/storage/listings/")
    # The model got the listing's rendition (scaled, as PNG) and a prompt with the style.
    [edit] = stack.chat.image_edits[before:]
    assert edit["model"] == "image-edit-1"
    assert "Scandinavian" in edit["prompt"]
    with Image.open(io.BytesIO(edit["image"])) as sent, Image.open(io.BytesIO(rendition)) as own:
        assert sent.size == own.size
    # A new photo of the listing, through the real listings app: right after the living room,
    # marked as staged, labelled in its lower left corner; the real photo is unchanged.
    again = await stack.listings.get(f"/listings/{listing['id']}", headers=stack.headers(agent))
    media = again.json()["media"]
    ids = [m["id"] for m in media]
    [staged] = [m for m in media if m["staged"]]
    assert staged["source_photo_id"] == living["id"]
    assert staged["staging_style"] == "scandinavian"
    assert staged["label"] == "Virtuell eingerichtet"
    assert ids.index(staged["id"]) == ids.index(living["id"]) + 1
    assert [i for i in ids if i != staged["id"]] == [m["id"] for m in listing["media"]]
    assert url.split("?")[0].endswith(staged["storage_key"])
    picture_bytes = await stack.listings_runtime.storage.get_bytes(staged["storage_key"])
    with (
        Image.open(io.BytesIO(picture_bytes)) as picture,
        Image.open(io.BytesIO(edit["image"])) as room,
    ):
        box = (0, picture.height * 9 // 10, picture.width // 4, picture.height)
        corner = list(picture.convert("L").crop(box).tobytes())
        before_label = list(room.convert("L").crop(box).tobytes())
        # A dark band with white letters on it, where the room was plain.
        assert sum(corner) / len(corner) < 0.75 * sum(before_label) / len(before_label)
        assert max(corner) > 230
    assert await stack.listings_runtime.storage.get_bytes(living["storage_key"]) == rendition
    # On the books at the image price.
    admin = person("admin")
    calls = await client.get(
        "/admin/calls",
        params={"org_id": str(agent.org_id)},
        headers={IDENTITY_HEADER: sign_identity(admin, runtime.internal_key)},
    )
    staging = [c for c in calls.json() if c["feature"] == "staging"]
    assert [(c["model"], c["cost_eur"], c["outcome"]) for c in staging] == [
        ("image-edit-1", 0.05, "ok")
    ]


async def test_the_gallery_endpoint_stages_with_gemini_and_only_the_users_own_photos(
    stack: AssistantStack, gemini_staging: tuple[httpx.AsyncClient, ServiceRuntime]
) -> None:
    client, runtime = gemini_staging
    agent = person()
    listing = await _listing_with_photos(stack, agent)
    kitchen = next(m for m in listing["media"] if m["name"] == "Kueche_01")
    plan = next(m for m in listing["media"] if m["is_floor_plan"])
    mine = {IDENTITY_HEADER: sign_identity(agent, runtime.internal_key)}
    before = len(stack.chat.image_edits)

    asked = await client.post(
        "/staging",
        json={"listing_id": listing["id"], "media_id": kitchen["id"], "style": "cosy"},
        headers=mine,
    )

    # Accepted at once; the image model runs in the staging's job.
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "queued"
    while (await client.get(f"/staging/{asked.json()['id']}", headers=mine)).json()["status"] in (
        "queued",
        "running",
    ):
        assert await runtime.jobs.run_due()
    staging = (await client.get(f"/staging/{asked.json()['id']}", headers=mine)).json()
    assert staging["status"] == "done", staging
    staged = staging["result"]
    assert staged["label"] == "Virtuell eingerichtet"
    assert staged["model"] == "gemini-image-1"
    assert staged["media_id"] == kitchen["id"]
    again = await stack.listings.get(f"/listings/{listing['id']}", headers=stack.headers(agent))
    [stored] = [m for m in again.json()["media"] if m["staged"]]
    assert stored["id"] == staged["id"]
    assert stored["source_photo_id"] == kitchen["id"]
    assert stored["staging_style"] == "cosy"
    [edit] = stack.chat.image_edits[before:]
    assert edit["model"] == "gemini-image-1"
    assert edit["key"] == "image-key"
    floor_plan = await client.post(
        "/staging", json={"listing_id": listing["id"], "media_id": plan["id"]}, headers=mine
    )
    assert floor_plan.status_code == 422
    stranger = {IDENTITY_HEADER: sign_identity(person(), runtime.internal_key)}
    theirs = await client.post(
        "/staging", json={"listing_id": listing["id"], "media_id": kitchen["id"]}, headers=stranger
    )
    assert theirs.status_code == 404
    # A staged photo is not staged again (refused before the model is asked).
    restaged = await client.post(
        "/staging", json={"listing_id": listing["id"], "media_id": stored["id"]}, headers=mine
    )
    assert restaged.status_code == 422
    assert len(stack.chat.image_edits) == before + 1
    after = await stack.listings.get(f"/listings/{listing['id']}", headers=stack.headers(agent))
    assert len(after.json()["media"]) == len(listing["media"]) + 1


async def test_staging_is_off_unless_configured(stack: AssistantStack) -> None:
    agent = person()
    response = await stack.call(
        agent, "POST", "/staging", {"listing_id": str(agent.org_id), "media_id": str(agent.org_id)}
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_configured"
