"""Replicate's webhook flow end to end, on the real database, through the real `replicate` client.

The fake Replicate (`caption_fakes`) finishes each prediction created with a webhook and POSTs
it, signed, to the gateway's public route, which forwards it to the captioning API; both serve
on loopback ports in this event loop. Upload events go through FastStream's TestKafkaBroker, as
in the other captioning tests. Only fake tokens; the signing secret is random per run.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from caption_fakes import GOOD_CAPTION, Answer, FakeProviders, ServerThread
from fastapi import FastAPI
from faststream.kafka import TestKafkaBroker
from pix_captioning.app import create_app
from pix_captioning.models import captions, failures, jobs, predictions
from pix_captioning.predictions import RETRY
from pix_captioning.service import CaptionDesk
from pix_captioning.settings import CaptioningSettings
from pix_contracts import AssetDeleted, AssetUploaded, CaptionFailed, CaptionReady
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.settings import PlatformSettings
from pix_stack.embedded import free_port
from sqlalchemy import RowMapping, delete, func, select
from structlog.testing import capture_logs
from test_caption_handlers import announced, uploaded

FAKE_TOKEN = "r8_fake-token-for-tests-only"
ROUTE = "/api/captioning/webhooks/replicate"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProviders]:
    providers = FakeProviders(latency=0.3)  # the webhook comes after the row is committed
    server = ServerThread(providers)
    server.start()
    yield providers
    server.stop()


async def serving(app: FastAPI, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    return server, task


@dataclass
class Setup:
    runtime: ServiceRuntime
    broker: Any
    desk: CaptionDesk
    gateway: str  # where Replicate calls: the gateway's public URL
    captioning: str


@pytest.fixture
async def setup(
    request: pytest.FixtureRequest, migrated: set[str], fake: FakeProviders
) -> AsyncIterator[Setup]:
    fake.reset()
    overrides: dict[str, Any] = getattr(request, "param", {})  # indirect parametrization
    captioning_port, gateway_port = free_port(), free_port()
    gateway = f"http://127.0.0.1:{gateway_port}"
    settings = CaptioningSettings.model_validate(
        {
            "provider": "replicate",
            "replicate_api_token": FAKE_TOKEN,
            "replicate_base_url": fake.url,
            "replicate_webhook_url": gateway + ROUTE,
            "replicate_webhook_grace_seconds": 0.5,
            "provider_timeout_seconds": 5.0,
            "attempts": 2,
            "backoff_base_seconds": 0.01,
            # The tests run the reconciler themselves.
            "reconcile_every_seconds": 3600,
            **overrides,
        }
    )
    app, runtime = create_app(settings)
    async with runtime.db.transaction() as session:
        # The reconciler looks at every open prediction: none left over by an earlier test,
        # nor a retry of one.
        await session.execute(delete(predictions).where(predictions.c.completed_at.is_(None)))
        await session.execute(delete(jobs).where(jobs.c.kind == RETRY))
    # The job queue runs the next attempt of a failed prediction after its backoff.
    await runtime.jobs.start()
    platform = PlatformSettings(
        auth_url="http://127.0.0.1:9", captioning_url=f"http://127.0.0.1:{captioning_port}"
    )
    servers = [
        await serving(app, captioning_port),
        await serving(gateway_app(GatewaySettings(platform=platform)), gateway_port),
    ]
    async with TestKafkaBroker(runtime.broker) as broker:
        yield Setup(runtime, broker, app.state.desk, gateway, platform.captioning_url)
    for server, task in servers:
        server.should_exit = True
        await task
    await runtime.jobs.stop()
    await runtime.db.dispose()


async def until(check: Callable[[], Any], seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (result := await check()):
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)
    return result


async def caption_rows(runtime: ServiceRuntime, asset_id: uuid.UUID) -> list[RowMapping]:
    async with runtime.db.sessions() as session:
        result = await session.execute(select(captions).where(captions.c.asset_id == asset_id))
        return list(result.mappings())


async def prediction_rows(runtime: ServiceRuntime, asset_id: uuid.UUID) -> list[RowMapping]:
    async with runtime.db.sessions() as session:
        result = await session.execute(
            select(predictions)
            .where(predictions.c.asset_id == asset_id)
            .order_by(predictions.c.created_at)
        )
        return list(result.mappings())


async def delivered(fake: FakeProviders, count: int) -> list[tuple[str, int, str]]:
    async def enough() -> list[tuple[str, int, str]] | None:
        return fake.deliveries if len(fake.deliveries) >= count else None

    return list(await until(enough))


def creates(fake: FakeProviders) -> list[dict[str, Any]]:
    return [body for path, body, _ in fake.requests if path.endswith("/predictions")]


async def publish(setup: Setup, event: AssetUploaded) -> None:
    await setup.broker.publish(event.model_dump_json().encode(), AssetUploaded.topic)


async def test_a_signed_webhook_through_the_gateway_stores_the_caption_once(
    setup: Setup, fake: FakeProviders
) -> None:
    runtime = setup.runtime
    event = await uploaded(runtime)
    await publish(setup, event)
    await publish(setup, event)  # redelivered while the prediction runs
    again = event.model_copy(update={"event_id": uuid.uuid4()})  # media's reconciler
    await publish(setup, again)

    # The worker returned at once: the prediction is recorded, open, not yet captioned.
    [row] = await prediction_rows(runtime, event.asset_id)
    assert row["completed_at"] is None
    assert await caption_rows(runtime, event.asset_id) == []
    [created] = creates(fake)  # one prediction for the three deliveries
    assert created["webhook"] == setup.gateway + ROUTE
    assert created["webhook_events_filter"] == ["completed"]
    assert created["input"]["image"].startswith("http://testserver/api/media/storage/")

    [caption] = await until(lambda: caption_rows(runtime, event.asset_id))
    assert caption["provider"] == "replicate"
    assert caption["content"]["title_de"] == GOOD_CAPTION["title_de"]
    [payload] = await until(lambda: announced(runtime, CaptionReady.topic, event.asset_id))
    ready = CaptionReady.model_validate_json(payload)
    assert ready.caption_version == 1
    assert json.loads(await runtime.storage.get_bytes(ready.json_key))["provider"] == "replicate"
    [row] = await prediction_rows(runtime, event.asset_id)
    assert (row["status"], row["outcome"]) == ("succeeded", "stored")
    assert fake.deliveries == [(row["id"], 200, '{"status":"stored"}')]
    # The secret was fetched from Replicate once; the prediction itself was never polled.
    assert fake.paths().count("/v1/webhooks/default/secret") == 1
    assert not any(p.startswith("/v1/predictions/") for p in fake.paths())

    # A later announcement of the captioned version is re-announced without a prediction.
    await publish(setup, event.model_copy(update={"event_id": uuid.uuid4()}))
    assert len(await announced(runtime, CaptionReady.topic, event.asset_id)) == 2
    assert len(creates(fake)) == 1


async def test_a_replayed_webhook_makes_no_second_version(
    setup: Setup, fake: FakeProviders
) -> None:
    fake.webhook_twice = True
    event = await uploaded(setup.runtime)
    await publish(setup, event)
    await delivered(fake, 2)
    assert [(status, body) for _, status, body in fake.deliveries] == [
        (200, '{"status":"stored"}'),
        (200, '{"status":"duplicate"}'),
    ]
    assert len(await caption_rows(setup.runtime, event.asset_id)) == 1
    assert len(await announced(setup.runtime, CaptionReady.topic, event.asset_id)) == 1


async def test_a_bad_or_expired_signature_is_refused_and_stores_nothing(
    setup: Setup, fake: FakeProviders
) -> None:
    fake.webhook_bad_signature = True
    event = await uploaded(setup.runtime)
    await publish(setup, event)
    [(pid, status, body)] = await delivered(fake, 1)
    assert status == 401
    assert json.loads(body)["error"]["code"] == "invalid_signature"
    assert await caption_rows(setup.runtime, event.asset_id) == []
    [row] = await prediction_rows(setup.runtime, event.asset_id)
    assert row["completed_at"] is None  # still open: the reconciler will ask for it

    prediction = dict(fake.predictions[pid], status="succeeded")
    prediction.pop("started"), prediction.pop("final")
    signed = json.dumps(prediction).encode()
    async with httpx.AsyncClient(base_url=setup.gateway) as client:
        stale = fake.sign(signed, timestamp=int(time.time()) - 600)
        assert (await client.post(ROUTE, content=signed, headers=stale)).status_code == 401
        altered = signed.replace(b"Helle", b"Hello")
        assert (
            await client.post(ROUTE, content=altered, headers=fake.sign(signed))
        ).status_code == 401
        unsigned = {"content-type": "application/json"}
        assert (await client.post(ROUTE, content=signed, headers=unsigned)).status_code == 401
        # Signed but of a prediction that is not ours: answered, harmlessly.
        unknown = json.dumps(dict(prediction, id="not-ours")).encode()
        answer = await client.post(ROUTE, content=unknown, headers=fake.sign(unknown))
        assert (answer.status_code, answer.json()) == (200, {"status": "unknown"})
        # The gateway bounds what it forwards.
        huge = b"{" + b" " * (1 << 20) + b"}"
        assert (await client.post(ROUTE, content=huge, headers=fake.sign(huge))).status_code == 413
    assert await caption_rows(setup.runtime, event.asset_id) == []


async def test_a_lost_webhook_is_made_up_by_the_reconciler(
    setup: Setup, fake: FakeProviders
) -> None:
    fake.webhook_lost = True
    predictions = setup.desk.predictions
    assert predictions is not None  # Replicate with a webhook URL
    event = await uploaded(setup.runtime)
    await publish(setup, event)
    assert await predictions.reconcile() == 0  # within the grace period
    await asyncio.sleep(0.6)
    assert fake.deliveries == []
    assert await predictions.reconcile() == 1
    [caption] = await caption_rows(setup.runtime, event.asset_id)
    assert caption["content"]["title_en"] == GOOD_CAPTION["title_en"]
    assert len(await announced(setup.runtime, CaptionReady.topic, event.asset_id)) == 1
    [row] = await prediction_rows(setup.runtime, event.asset_id)
    assert any(p == f"/v1/predictions/{row['id']}" for p in fake.paths())
    assert await predictions.reconcile() == 0  # nothing open any more


async def test_malformed_output_gets_a_repair_prediction(setup: Setup, fake: FakeProviders) -> None:
    fake.replicate_outcomes.append(Answer(body="A lovely kitchen with a window."))
    event = await uploaded(setup.runtime)
    await publish(setup, event)
    [caption] = await until(lambda: caption_rows(setup.runtime, event.asset_id))
    assert caption["content"]["title_de"] == GOOD_CAPTION["title_de"]
    first, repair = creates(fake)
    assert "rejected" not in first["input"]["query"]
    assert "rejected" in repair["input"]["query"]
    assert repair["webhook"] == setup.gateway + ROUTE
    rows = await prediction_rows(setup.runtime, event.asset_id)
    assert [(r["kind"], r["attempt"], r["outcome"]) for r in rows] == [
        ("caption", 1, "repair"),
        ("repair", 1, "stored"),
    ]
    assert rows[0]["output"] == "A lovely kitchen with a window."


async def test_a_failed_prediction_is_retried_then_the_caption_fails(
    setup: Setup, fake: FakeProviders
) -> None:
    fake.replicate_outcomes.extend(
        [Answer(prediction_status="failed", error="CUDA out of memory")] * 2
    )
    event = await uploaded(setup.runtime)
    await publish(setup, event)
    [payload] = await until(lambda: announced(setup.runtime, CaptionFailed.topic, event.asset_id))
    failed = CaptionFailed.model_validate_json(payload)
    assert failed.attempts == 2  # PIX_CAPTIONING_ATTEMPTS
    assert "CUDA out of memory" in failed.reason
    assert not failed.needs_review
    rows = await prediction_rows(setup.runtime, event.asset_id)
    assert [(r["attempt"], r["status"], r["outcome"]) for r in rows] == [
        (1, "failed", "retry"),
        (2, "failed", "failed"),
    ]
    async with setup.runtime.db.sessions() as session:
        listed = await session.scalar(
            select(func.count()).where(
                failures.c.asset_id == event.asset_id, failures.c.resolved_at.is_(None)
            )
        )
    assert listed == 1
    assert await caption_rows(setup.runtime, event.asset_id) == []


@pytest.mark.parametrize("setup", [{"backoff_base_seconds": 30.0}], indirect=True)
async def test_a_failed_prediction_is_retried_after_a_backoff_not_inside_the_webhook(
    setup: Setup, fake: FakeProviders
) -> None:
    fake.replicate_outcomes.append(Answer(prediction_status="failed", error="CUDA out of memory"))
    fake.webhook_twice = True
    event = await uploaded(setup.runtime)
    with capture_logs() as logs:
        await publish(setup, event)
        deliveries = await delivered(fake, 2)
    # Both the webhook and its replay are answered at once; the next attempt waits out its
    # backoff (up to 30 s with full jitter), and the replay does not schedule a second one.
    assert [json.loads(body) for _, _, body in deliveries] == [{"status": "retry"}] * 2
    assert len(creates(fake)) == 1
    assert [entry["event"] for entry in logs].count("caption.retry_scheduled") == 1
    # Open until the next prediction is recorded: a process that stops meanwhile leaves it to
    # the reconciler, which settles it again.
    [row] = await prediction_rows(setup.runtime, event.asset_id)
    assert row["completed_at"] is None


async def test_a_photo_deleted_while_its_prediction_runs_gets_no_caption(
    setup: Setup, fake: FakeProviders
) -> None:
    fake.latency = 0.6
    try:
        event = await uploaded(setup.runtime)
        await publish(setup, event)
        deleted = AssetDeleted(
            asset_id=event.asset_id,
            gallery_id=event.gallery_id,
            org_id=event.org_id,
            pseudonym=event.pseudonym,
            deleted_by=uuid.uuid4(),
        )
        await setup.broker.publish(deleted.model_dump_json().encode(), AssetDeleted.topic)
        [(_, status, body)] = await delivered(fake, 1)
    finally:
        fake.latency = 0.3
    assert (status, json.loads(body)) == (200, {"status": "unknown"})
    assert await caption_rows(setup.runtime, event.asset_id) == []
    assert await prediction_rows(setup.runtime, event.asset_id) == []
    [created] = [pid for pid, _, _ in fake.deliveries]
    assert f"/v1/predictions/{created}/cancel" in fake.paths()  # the model stopped for nothing


async def test_a_secret_from_the_environment_is_used_without_asking_replicate(
    fake: FakeProviders, tmp_path: Path
) -> None:
    from pix_captioning.providers import BadWebhook, ReplicateProvider
    from pix_runtime.storage import LocalStorage

    fake.reset()
    settings = CaptioningSettings.model_validate(
        {
            "provider": "replicate",
            "replicate_api_token": FAKE_TOKEN,
            "replicate_base_url": fake.url,
            "replicate_webhook_url": "http://testserver" + ROUTE,
            "replicate_webhook_secret": fake.webhook_secret,  # REPLICATE_WEBHOOK_SECRET
        }
    )
    storage = LocalStorage(tmp_path, public_base="http://testserver/s", signing_key=b"k" * 32)
    provider = ReplicateProvider(settings, storage)
    body = json.dumps({"id": "p1", "status": "succeeded", "output": ["{", "}"]}).encode()
    state = await provider.verify_webhook(fake.sign(body), body)
    assert (state.id, state.status, state.output, state.finished) == ("p1", "succeeded", "{}", True)
    with pytest.raises(BadWebhook):
        await provider.verify_webhook(fake.sign(body), body + b" ")
    assert fake.requests == []  # the secret came from the environment
    assert fake.webhook_secret not in repr(settings)
