"""Virtual staging as a job: POST /staging answers 202 at once, the image model runs in the
assistant's job (the job layer's retries for a busy provider, a refusal fails the staging with
its reason), GET /staging/{id} tells queued/running/done/failed and the result.

The image model is the local fake (tests/assistant/chat_fake.py) made slow (`image_gate`: it
answers only when the test lets it) or failing (`image_failures`), through the real `openai`
client; listings is the real app.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from assistant_helpers import MODEL, ROUTER, AssistantStack, model_settings, person, serve_in_loop
from pix_assistant import models
from pix_assistant.app import create_app
from pix_assistant.settings import Price
from pix_assistant.staging import STAGE_PHOTO, STAGING_POLICY, StagePhoto
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.jobs import cancel_jobs, enqueue_job
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import update
from test_assistant_staging import _listing_with_photos

IMAGE_MODEL = "image-edit-1"


def _settings(stack: AssistantStack) -> Any:
    return model_settings(
        stack.chat,
        staging_provider="openai",
        staging_base_url=stack.chat.url.removesuffix("/v1") + "/v1",
        staging_api_key="image-key",
        staging_model=IMAGE_MODEL,
        prices={
            MODEL: Price(input_eur=2.0, output_eur=10.0),
            ROUTER: Price(input_eur=0.2, output_eur=1.0),
            IMAGE_MODEL: Price(image_eur=0.05),
        },
    )


async def _no_stale_stagings(runtime: ServiceRuntime) -> None:
    """Jobs another test left queued would take this test's scripted answers."""
    async with runtime.db.transaction() as session:
        await cancel_jobs(session, models.jobs, STAGE_PHOTO, key_prefix="")


@pytest.fixture
async def stepped(
    stack: AssistantStack,
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    """The assistant without its lifespan: the test runs the due jobs itself and moves the
    clock over the backoff."""
    app, runtime = create_app(_settings(stack), transports=stack.transports)
    await _no_stale_stagings(runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://assistant"
    ) as client:
        yield client, runtime
    stack.chat.image_failures.clear()
    await runtime.db.dispose()


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait for a condition (the job queue works on its own), not for a time."""
    async with asyncio.timeout(60):
        while not await check():
            await asyncio.sleep(0.05)


def _signed(who: Identity, runtime: ServiceRuntime) -> dict[str, str]:
    return {IDENTITY_HEADER: sign_identity(who, runtime.internal_key)}


async def _ask(
    client: httpx.AsyncClient, who: dict[str, str], listing: dict[str, Any], name: str
) -> dict[str, Any]:
    photo = next(m for m in listing["media"] if m["name"] == name)
    response = await client.post(
        "/staging",
        json={"listing_id": listing["id"], "media_id": photo["id"], "style": "modern"},
        headers=who,
    )
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _staged_media(stack: AssistantStack, who: Identity, listing_id: str) -> list[Any]:
    found = await stack.listings.get(f"/listings/{listing_id}", headers=stack.headers(who))
    return [m for m in found.json()["media"] if m["staged"]]


async def test_a_slow_image_model_answers_the_request_at_once_and_the_staging_later(
    stack: AssistantStack,
) -> None:
    app, runtime = create_app(_settings(stack), transports=stack.transports)
    await _no_stale_stagings(runtime)
    agent = person()
    listing = await _listing_with_photos(stack, agent)
    mine = _signed(agent, runtime)
    gate = threading.Event()
    stack.chat.image_gate = gate
    try:
        async with serve_in_loop(app) as url, httpx.AsyncClient(base_url=url) as client:
            asked = await _ask(client, mine, listing, "Wohnzimmer_01")

            # The answer came while the model has not answered: the staging is on its way.
            assert asked["status"] == "queued"
            assert asked["result"] is None

            async def state() -> dict[str, Any]:
                got = await client.get(f"/staging/{asked['id']}", headers=mine)
                assert got.status_code == 200, got.text
                found: dict[str, Any] = got.json()
                return found

            async def model_is_working() -> bool:
                return stack.chat.images_waiting == 1 and (await state())["status"] == "running"

            await _until(model_is_working, "the job waits for the image model")
            assert await _staged_media(stack, agent, listing["id"]) == []
            # Another organisation does not see it.
            stranger = _signed(person(), runtime)
            assert (
                await client.get(f"/staging/{asked['id']}", headers=stranger)
            ).status_code == 404

            gate.set()

            async def done() -> bool:
                return (await state())["status"] == "done"

            await _until(done, "the staging is done")
            staging = await state()
            [stored] = await _staged_media(stack, agent, listing["id"])
            assert staging["result"]["id"] == stored["id"]
            assert staging["result"]["label"] == "Virtuell eingerichtet"
            assert staging["result"]["url"]
            assert staging["attempts"] == 1
            assert staging["error"] is None
    finally:
        stack.chat.image_gate = None
        gate.set()
        await runtime.db.dispose()


async def _run_until_settled(
    client: httpx.AsyncClient, runtime: ServiceRuntime, who: dict[str, str], staging_id: str
) -> list[dict[str, Any]]:
    """Run the due jobs, moving the clock past each backoff, until the staging is done or
    failed; the states seen after each attempt."""
    seen: list[dict[str, Any]] = []
    for _ in range(STAGING_POLICY.max_attempts + 1):
        await runtime.jobs.run_due()
        state = (await client.get(f"/staging/{staging_id}", headers=who)).json()
        seen.append(state)
        if state["status"] in ("done", "failed"):
            return seen
        runtime.clock.advance(timedelta(seconds=STAGING_POLICY.max_seconds + 1))
    raise AssertionError(f"not settled: {seen}")


async def test_a_busy_provider_is_asked_again_with_the_job_policy(
    stack: AssistantStack, stepped: tuple[httpx.AsyncClient, ServiceRuntime]
) -> None:
    client, runtime = stepped
    agent = person()
    listing = await _listing_with_photos(stack, agent)
    mine = _signed(agent, runtime)
    stack.chat.image_failures[:] = [503, 429]
    before = stack.chat.image_attempts

    asked = await _ask(client, mine, listing, "Kueche_01")
    seen = await _run_until_settled(client, runtime, mine, asked["id"])

    assert [s["status"] for s in seen] == ["queued", "queued", "done"]
    assert "trying again" in seen[0]["error"]
    assert "503" in seen[0]["error"]
    assert seen[-1]["attempts"] == 3
    assert stack.chat.image_attempts - before == 3
    [stored] = await _staged_media(stack, agent, listing["id"])
    assert seen[-1]["result"]["id"] == stored["id"]


async def test_a_refusal_fails_the_staging_at_once_with_its_reason(
    stack: AssistantStack, stepped: tuple[httpx.AsyncClient, ServiceRuntime]
) -> None:
    client, runtime = stepped
    agent = person()
    listing = await _listing_with_photos(stack, agent)
    mine = _signed(agent, runtime)
    stack.chat.image_failures[:] = [400]
    before = stack.chat.image_attempts

    asked = await _ask(client, mine, listing, "Wohnzimmer_01")
    seen = await _run_until_settled(client, runtime, mine, asked["id"])

    assert [s["status"] for s in seen] == ["failed"]
    assert "refused" in seen[0]["error"]
    assert "400" in seen[0]["error"]
    assert seen[0]["result"] is None
    assert stack.chat.image_attempts - before == 1
    assert await _staged_media(stack, agent, listing["id"]) == []
    # The failed call is on the books as an error.
    admin = _signed(person("admin"), runtime)
    calls = await client.get("/admin/calls", params={"org_id": str(agent.org_id)}, headers=admin)
    assert [c["outcome"] for c in calls.json() if c["feature"] == "staging"] == ["error"]


async def test_a_provider_busy_on_every_attempt_fails_the_staging_after_the_last(
    stack: AssistantStack, stepped: tuple[httpx.AsyncClient, ServiceRuntime]
) -> None:
    client, runtime = stepped
    agent = person()
    listing = await _listing_with_photos(stack, agent)
    mine = _signed(agent, runtime)
    stack.chat.image_failures[:] = [503] * STAGING_POLICY.max_attempts

    asked = await _ask(client, mine, listing, "Wohnzimmer_01")
    seen = await _run_until_settled(client, runtime, mine, asked["id"])

    assert [s["status"] for s in seen] == ["queued"] * (STAGING_POLICY.max_attempts - 1) + [
        "failed"
    ]
    assert f"after {STAGING_POLICY.max_attempts} attempts" in seen[-1]["error"]
    assert await _staged_media(stack, agent, listing["id"]) == []


async def test_a_model_slower_than_its_timeout_is_asked_again(stack: AssistantStack) -> None:
    settings = _settings(stack).model_copy(update={"staging_timeout_seconds": 0.5})
    app, runtime = create_app(settings, transports=stack.transports)
    await _no_stale_stagings(runtime)
    agent = person()
    listing = await _listing_with_photos(stack, agent)
    mine = _signed(agent, runtime)
    gate = threading.Event()
    stack.chat.image_gate = gate
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://assistant"
        ) as client:
            asked = await _ask(client, mine, listing, "Wohnzimmer_01")
            await runtime.jobs.run_due()
            first = (await client.get(f"/staging/{asked['id']}", headers=mine)).json()
            # The client gave up after its timeout; the staging waits for the next attempt.
            assert first["status"] == "queued"
            assert "did not answer" in first["error"]

            gate.set()
            stack.chat.image_gate = None
            seen = await _run_until_settled(client, runtime, mine, asked["id"])
            assert seen[-1]["status"] == "done"
            assert seen[-1]["attempts"] >= 2
    finally:
        stack.chat.image_gate = None
        gate.set()
        await runtime.db.dispose()


async def test_a_retry_after_the_picture_was_stored_does_not_stage_twice(
    stack: AssistantStack, stepped: tuple[httpx.AsyncClient, ServiceRuntime]
) -> None:
    client, runtime = stepped
    agent = person()
    listing = await _listing_with_photos(stack, agent)
    mine = _signed(agent, runtime)
    asked = await _ask(client, mine, listing, "Wohnzimmer_01")
    done = (await _run_until_settled(client, runtime, mine, asked["id"]))[-1]
    assert done["status"] == "done"
    attempts = stack.chat.image_attempts
    # As a crash after listings took the picture leaves it: the staging still running, its
    # job to be run again.
    staging_id = uuid.UUID(asked["id"])
    async with runtime.db.transaction() as session:
        await session.execute(
            update(models.stagings)
            .where(models.stagings.c.id == staging_id)
            .values(status="running", result=None)
        )
        await enqueue_job(
            session, models.jobs, STAGE_PHOTO, StagePhoto(staging_id=staging_id), key="again"
        )

    seen = await _run_until_settled(client, runtime, mine, asked["id"])

    assert seen[-1]["status"] == "done"
    assert seen[-1]["result"]["id"] == done["result"]["id"]
    assert stack.chat.image_attempts == attempts
    assert len(await _staged_media(stack, agent, listing["id"])) == 1
