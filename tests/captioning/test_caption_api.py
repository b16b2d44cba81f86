"""Editing, history, regeneration, the review guard and admin failures, over HTTP on the real DB."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from caption_fakes import GOOD_CAPTION, Answer, FakeProviders, ServerThread
from faststream.kafka import TestKafkaBroker
from pix_captioning.app import create_app
from pix_captioning.models import captions
from pix_captioning.settings import CaptioningSettings
from pix_contracts import AssetUploaded, CaptionFailed, CaptionReady
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import select
from test_caption_handlers import announced, uploaded


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProviders]:
    providers = FakeProviders()
    server = ServerThread(providers)
    server.start()
    yield providers
    server.stop()


Setup = tuple[ServiceRuntime, Any, httpx.AsyncClient]


async def service(settings: CaptioningSettings) -> AsyncIterator[Setup]:
    app, runtime = create_app(settings)
    async with TestKafkaBroker(runtime.broker) as broker:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            yield runtime, broker, client
    await runtime.db.dispose()


@pytest.fixture
async def offline(migrated: set[str]) -> AsyncIterator[Setup]:
    async for setup in service(CaptioningSettings()):
        yield setup


@pytest.fixture
async def remote(migrated: set[str], fake: FakeProviders) -> AsyncIterator[Setup]:
    fake.reset()
    settings = CaptioningSettings.model_validate(
        {
            "provider": "openai",
            "openai_base_url": fake.url + "/v1",
            "openai_api_key": "sk-fake-key-for-tests-only",
            "provider_timeout_seconds": 1.0,
            "attempts": 2,
            "backoff_base_seconds": 0.01,
        }
    )
    async for setup in service(settings):
        yield setup


def who(runtime: ServiceRuntime, org_id: uuid.UUID, role: str = "client") -> dict[str, str]:
    identity = Identity(
        user_id=uuid.uuid4(),
        org_id=org_id,
        role=role,
        email="a@b.de",
        name="A",  # type: ignore[arg-type]
    )
    return {IDENTITY_HEADER: sign_identity(identity, runtime.internal_key)}


async def test_an_edit_is_a_new_version_with_files_and_an_event(offline: Setup) -> None:
    runtime, broker, client = offline
    event = await uploaded(runtime)
    await broker.publish(event.model_dump_json().encode(), AssetUploaded.topic)
    owner = who(runtime, event.org_id)

    edited = await client.patch(
        f"/assets/{event.asset_id}/caption",
        json={"title_de": "Traumküche", "features": ["kitchen", "bright"]},
        headers=owner,
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["caption_version"] == 2
    assert body["edited"] is True
    assert body["caption"]["title_de"] == "Traumküche"
    assert body["created_by"]

    document = json.loads(await runtime.storage.get_bytes(body["json_key"]))
    assert document["title_de"] == "Traumküche"
    assert document["edited"] is True
    assert document["caption_version"] == 2
    assert (await runtime.storage.get_bytes(body["txt_key"])).decode().find("Traumküche") > 0
    versions = [
        CaptionReady.model_validate_json(p).caption_version
        for p in await announced(runtime, CaptionReady.topic, event.asset_id)
    ]
    assert sorted(versions) == [1, 2]

    history = await client.get(f"/assets/{event.asset_id}/captions", headers=owner)
    assert [v["caption_version"] for v in history.json()] == [2, 1]
    again = await client.post(f"/assets/{event.asset_id}/caption/regenerate", headers=owner)
    assert again.status_code == 201
    assert again.json()["caption_version"] == 3
    assert again.json()["edited"] is False
    listed = await client.get(f"/galleries/{event.gallery_id}/captions", headers=owner)
    assert [c["caption_version"] for c in listed.json()] == [3]


async def test_other_organisations_and_bad_edits_are_refused(offline: Setup) -> None:
    runtime, broker, client = offline
    event = await uploaded(runtime)
    await broker.publish(event.model_dump_json().encode(), AssetUploaded.topic)
    stranger = who(runtime, uuid.uuid4())
    url = f"/assets/{event.asset_id}/caption"
    assert (await client.get(url, headers=stranger)).status_code == 404
    assert (await client.patch(url, json={"title_de": "x"}, headers=stranger)).status_code == 404
    assert (
        await client.get(f"/assets/{uuid.uuid4()}/captions", headers=stranger)
    ).status_code == 404
    assert (await client.get(url)).status_code == 401
    owner = who(runtime, event.org_id)
    too_long = await client.patch(url, json={"title_de": "x" * 31}, headers=owner)
    assert too_long.status_code == 422
    contact = await client.patch(
        url,
        json={"description_de": "Rufen Sie an: 0171 2345678 oder info@makler.de"},
        headers=owner,
    )
    assert contact.status_code == 422
    assert "phone number" in contact.json()["error"]["message"]
    assert (await client.get("/admin/failures", headers=owner)).status_code == 403


async def test_a_caption_with_contact_data_is_held_for_review(
    remote: Setup, fake: FakeProviders
) -> None:
    runtime, broker, client = remote
    fake.openai.append(
        Answer(body=json.dumps(dict(GOOD_CAPTION, description_en="Call Frank Meyer on www.x.de.")))
    )
    event = await uploaded(runtime)
    await broker.publish(event.model_dump_json().encode(), AssetUploaded.topic)
    [payload] = await announced(runtime, CaptionFailed.topic, event.asset_id)
    failed = CaptionFailed.model_validate_json(payload)
    assert failed.needs_review
    assert "personal name" in failed.reason
    assert "link" in failed.reason
    assert not await announced(runtime, CaptionReady.topic, event.asset_id)
    owner = who(runtime, event.org_id)
    held = (await client.get(f"/assets/{event.asset_id}/caption", headers=owner)).json()
    assert held["status"] == "needs_review"
    assert not await runtime.storage.exists(held["json_key"])
    # A clean edit releases it.
    fixed = await client.patch(
        f"/assets/{event.asset_id}/caption",
        json={"description_en": "A bright kitchen."},
        headers=owner,
    )
    assert fixed.json()["status"] == "ready"
    assert len(await announced(runtime, CaptionReady.topic, event.asset_id)) == 1


async def test_after_the_last_retry_the_failure_is_listed_and_retried_by_an_admin(
    remote: Setup, fake: FakeProviders
) -> None:
    runtime, broker, client = remote
    fake.openai.extend([Answer(status=503), Answer(status=500)])
    event = await uploaded(runtime)
    body = event.model_dump_json().encode()
    await broker.publish(body, AssetUploaded.topic)
    await broker.publish(body, AssetUploaded.topic)  # redelivered: no further provider call
    assert len(fake.requests) == 2
    [payload] = await announced(runtime, CaptionFailed.topic, event.asset_id)
    assert CaptionFailed.model_validate_json(payload).attempts == 2

    admin = who(runtime, uuid.uuid4(), role="admin")
    listed = (await client.get("/admin/failures", headers=admin)).json()
    [failure] = [f for f in listed if f["asset_id"] == str(event.asset_id)]
    assert (failure["kind"] == "provider" and "503" in failure["reason"]) or "500" in failure[
        "reason"
    ]
    retried = await client.post(f"/admin/failures/{failure['id']}/retry", headers=admin)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "ready"
    listed = (await client.get("/admin/failures", headers=admin)).json()
    assert all(f["id"] != failure["id"] for f in listed)
    async with runtime.db.sessions() as session:
        rows = (
            await session.execute(select(captions).where(captions.c.asset_id == event.asset_id))
        ).all()
    assert len(rows) == 1


async def test_metrics_expose_latency_in_flight_and_failures(remote: Setup) -> None:
    _, _, client = remote
    text = (await client.get("/metrics")).text
    for name in (
        "pix_caption_provider_seconds_bucket",
        "pix_caption_in_flight",
        "pix_caption_failures_total",
        "pix_caption_handle_seconds",
    ):
        assert name in text
