"""The remote providers through their real client libraries against a local fake server.

`replicate.Client` and `openai.AsyncOpenAI` talk HTTP to `caption_fakes.FakeProviders`, which
speaks Replicate's predictions API and OpenAI's chat completions. Only obviously fake tokens.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from caption_fakes import GOOD_CAPTION, Answer, FakeProviders, ServerThread
from pix_captioning.providers import (
    CaptionRequest,
    OpenAIProvider,
    Provider,
    ReplicateProvider,
    build_provider,
)
from pix_captioning.reliability import (
    CircuitBreaker,
    GaveUp,
    Permanent,
    RetryPolicy,
    call_with_retries,
)
from pix_captioning.settings import CaptioningSettings
from pix_contracts import CaptionText
from pix_runtime.storage import LocalStorage

FAKE_TOKEN = "r8_fake-token-for-tests-only"
FAKE_KEY = "sk-fake-key-for-tests-only"
WEB_KEY = "renditions/g/a/web.jpg"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProviders]:
    providers = FakeProviders()
    server = ServerThread(providers)
    server.start()
    yield providers
    server.stop()


@pytest.fixture
async def storage(tmp_path: Path, fake: FakeProviders) -> LocalStorage:
    fake.reset()
    store = LocalStorage(
        tmp_path, public_base="http://testserver/api/media/storage", signing_key=b"k" * 32
    )
    await store.put_bytes(WEB_KEY, b"\xff\xd8fake-jpeg", "image/jpeg")
    return store


def settings(fake: FakeProviders, **overrides: Any) -> CaptioningSettings:
    values: dict[str, Any] = {
        "provider": "replicate",
        "replicate_api_token": FAKE_TOKEN,
        "replicate_base_url": fake.url,
        "replicate_poll_seconds": 0.02,
        "openai_base_url": fake.url + "/v1",
        "openai_api_key": FAKE_KEY,
        "openai_model": "fake-vision",
        "provider_timeout_seconds": 1.0,
    }
    return CaptioningSettings.model_validate(values | overrides)


REQUEST = CaptionRequest(WEB_KEY, "kitchen", "seed")
# For tests of what happens within one attempt, not of its deadline.
NO_DEADLINE: dict[str, Any] = {"provider_timeout_seconds": 60.0}


async def run(provider: Provider, *, attempts: int = 3) -> tuple[CaptionText, int, list[float]]:
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    caption, used = await call_with_retries(
        lambda: provider.caption(REQUEST),
        policy=RetryPolicy(attempts=attempts, base_seconds=0.01, max_seconds=30),
        breaker=CircuitBreaker(provider.name, threshold=10, reset_seconds=30),
        sleep=no_sleep,
    )
    return caption, used, waits


# --- Replicate --------------------------------------------------------------------------------


async def test_replicate_creates_polls_and_parses_a_cogvlm_answer(
    fake: FakeProviders, storage: LocalStorage
) -> None:
    fake.replicate_polls.extend([Answer(prediction_status="processing")] * 3)
    fake.replicate_polls.append(Answer(body="Sure! ```json\n" + json.dumps(GOOD_CAPTION) + "```"))
    provider = build_provider(settings(fake), storage)
    assert isinstance(provider, ReplicateProvider)
    caption, attempts, _ = await run(provider)
    assert attempts == 1
    assert caption.title_de == GOOD_CAPTION["title_de"]
    path, body, headers = fake.requests[0]
    assert path == "/v1/models/cjwbw/cogvlm/predictions"
    assert headers["authorization"] == f"Bearer {FAKE_TOKEN}"
    # A short-lived signed URL of the rendition, never bytes or the original.
    assert body["input"]["image"].startswith("http://testserver/api/media/storage/")
    assert "signature=" in body["input"]["image"] or "sig" in body["input"]["image"]
    assert "kitchen" in body["input"]["query"]
    assert "JSON" in body["input"]["query"]
    assert body["input"]["vqa"] is False
    assert fake.paths().count(fake.paths()[1]) == 4  # polled until it succeeded


async def test_replicate_with_a_pinned_version_uses_the_predictions_endpoint(
    fake: FakeProviders, storage: LocalStorage
) -> None:
    provider = build_provider(settings(fake, replicate_version="a" * 64), storage)
    await run(provider)
    path, body, _ = fake.requests[0]
    assert path == "/v1/predictions"
    assert body["version"] == "a" * 64
    assert provider.model == "cjwbw/cogvlm:" + "a" * 12


async def test_replicate_429_honours_retry_after(
    fake: FakeProviders, storage: LocalStorage
) -> None:
    fake.replicate_create.append(Answer(status=429, headers={"Retry-After": "7"}))
    _, attempts, waits = await run(build_provider(settings(fake), storage))
    assert attempts == 2
    assert 7.0 <= waits[0] < 7.5


async def test_replicate_5xx_and_a_failed_prediction_are_retried(
    fake: FakeProviders, storage: LocalStorage
) -> None:
    fake.replicate_create.append(Answer(status=502))
    fake.replicate_polls.append(Answer(prediction_status="failed", error="CUDA out of memory"))
    caption, attempts, waits = await run(build_provider(settings(fake), storage))
    assert attempts == 3
    assert len(waits) == 2
    assert caption.room_type == "kitchen"


async def test_replicate_slow_prediction_times_out_and_is_cancelled(
    fake: FakeProviders, storage: LocalStorage
) -> None:
    fake.replicate_polls.extend([Answer(prediction_status="processing", delay=0.1)] * 30)
    with pytest.raises(GaveUp) as failed:
        await run(build_provider(settings(fake, provider_timeout_seconds=0.3), storage), attempts=1)
    assert "timed out" in str(failed.value)
    assert any(p.endswith("/cancel") for p in fake.paths())


async def test_replicate_malformed_output_is_asked_again_once(
    fake: FakeProviders, storage: LocalStorage
) -> None:
    fake.replicate_polls.append(Answer(body="A lovely kitchen with a window."))
    # Two predictions within one attempt's deadline: a deadline no busy machine can miss,
    # the deadline itself is tested above.
    caption, attempts, _ = await run(build_provider(settings(fake, **NO_DEADLINE), storage))
    assert attempts == 1
    assert caption.title_en == GOOD_CAPTION["title_en"]
    creates = [b for p, b, _ in fake.requests if p.endswith("/predictions")]
    assert len(creates) == 2
    assert "rejected" in creates[1]["input"]["query"]


async def test_replicate_malformed_twice_is_a_permanent_failure(
    fake: FakeProviders, storage: LocalStorage
) -> None:
    fake.replicate_polls.extend([Answer(body="no json"), Answer(body='{"title_de": "x"}')])
    with pytest.raises(GaveUp) as failed:
        await run(build_provider(settings(fake, **NO_DEADLINE), storage))
    assert isinstance(failed.value.last, Permanent)
    assert failed.value.attempts == 1


async def test_replicate_401_is_permanent(fake: FakeProviders, storage: LocalStorage) -> None:
    fake.replicate_create.append(Answer(status=401))
    with pytest.raises(GaveUp) as failed:
        await run(build_provider(settings(fake), storage))
    assert failed.value.attempts == 1
    assert "401" in str(failed.value)


# --- OpenAI-compatible ------------------------------------------------------------------------


async def test_openai_sends_a_data_url_and_parses_json(
    fake: FakeProviders, storage: LocalStorage
) -> None:
    long_title = dict(GOOD_CAPTION, title_en="A very bright and spacious kitchen with island")
    fake.openai.append(Answer(body=json.dumps(long_title), delay=0.3))  # slow but in time
    provider = build_provider(settings(fake, provider="openai"), storage)
    assert isinstance(provider, OpenAIProvider)
    caption, attempts, _ = await run(provider)
    assert attempts == 1
    assert len(caption.title_en) <= 30
    path, body, headers = fake.requests[0]
    assert path == "/v1/chat/completions"
    assert body["model"] == "fake-vision"
    assert headers["authorization"] == f"Bearer {FAKE_KEY}"
    image = body["messages"][0]["content"][1]["image_url"]["url"]
    assert image.startswith("data:image/jpeg;base64,")
    assert body["response_format"] == {"type": "json_object"}


async def test_openai_429_retry_after_5xx_and_timeout_are_retried(
    fake: FakeProviders, storage: LocalStorage
) -> None:
    fake.openai.extend(
        [
            Answer(status=429, headers={"Retry-After": "3"}),
            Answer(status=503),
            Answer(delay=1.5),  # longer than the 1 s timeout
        ]
    )
    provider = build_provider(settings(fake, provider="openai"), storage)
    caption, attempts, waits = await run(provider, attempts=4)
    assert attempts == 4
    assert 3.0 <= waits[0] < 3.5
    assert caption.title_de == GOOD_CAPTION["title_de"]


async def test_openai_malformed_is_repaired_in_the_conversation(
    fake: FakeProviders, storage: LocalStorage
) -> None:
    fake.openai.extend([Answer(body="I cannot see the image clearly."), Answer()])
    caption, _, _ = await run(build_provider(settings(fake, provider="openai"), storage))
    assert caption.features == ["bright", "dining area"]
    retry_messages = fake.requests[1][1]["messages"]
    assert [m["role"] for m in retry_messages] == ["user", "assistant", "user"]


@pytest.mark.parametrize(
    "raw",
    [b'{"choices": []}', b'{"object": "list", "data": []}', b"<html>502 Bad Gateway</html>"],
)
async def test_openai_an_answer_that_is_not_a_chat_completion_is_permanent(
    fake: FakeProviders, storage: LocalStorage, raw: bytes
) -> None:
    fake.openai.append(Answer(raw=raw))
    with pytest.raises(GaveUp) as failed:
        await run(build_provider(settings(fake, provider="openai"), storage), attempts=3)
    assert isinstance(failed.value.last, Permanent)
    assert failed.value.attempts == 1  # asking again would get the same broken server


async def test_the_circuit_opens_after_repeated_failures(
    fake: FakeProviders, storage: LocalStorage
) -> None:
    fake.openai.extend([Answer(status=500)] * 3)
    provider = build_provider(settings(fake, provider="openai"), storage)
    breaker = CircuitBreaker("openai", threshold=3, reset_seconds=60)
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    with pytest.raises(GaveUp) as failed:
        await call_with_retries(
            lambda: provider.caption(REQUEST),
            policy=RetryPolicy(attempts=5, base_seconds=0.01),
            breaker=breaker,
            sleep=no_sleep,
        )
    assert breaker.is_open
    assert "circuit" in str(failed.value)
    assert len(fake.requests) == 3  # calls stop while the circuit is open


def test_secrets_are_not_in_the_settings_repr(fake: FakeProviders) -> None:
    text = repr(settings(fake)) + str(settings(fake).model_dump())
    assert FAKE_TOKEN not in text
    assert FAKE_KEY not in text
