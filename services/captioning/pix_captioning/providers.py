"""Caption providers behind one small interface: offline (default), Replicate, OpenAI-compatible.

A provider turns one anonymised web rendition into a `CaptionText`, or raises `Retryable` /
`Permanent` (see `reliability`). Retries, the circuit breaker and metrics wrap it from outside;
inside, a provider only repairs or re-asks once when the model's answer misses the schema.
Remote providers never see the original upload: Replicate gets a short-lived signed URL of the
rendition, an OpenAI-compatible server a data URL of it (or a signed URL, by setting).

With `PIX_CAPTION_REPLICATE_WEBHOOK_URL` set, the Replicate provider also starts predictions
that answer by webhook (`start`, `verify_webhook`, `fetch`, `cancel`); the
`PredictionDesk` of `pix_captioning.predictions` settles them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam
from PIL import Image, UnidentifiedImageError
from pix_contracts import CaptionText
from pix_contracts.rooms import RoomType
from pix_runtime.storage import LocalStorage, ObjectNotFound, S3Storage
from replicate.client import Client as ReplicateClient
from replicate.exceptions import ReplicateError
from replicate.prediction import Prediction
from replicate.webhook import WebhookSigningSecret

from pix_captioning import offline
from pix_captioning.content import (
    PROMPT_VERSION,
    CaptionJob,
    CaptionRejected,
    build_prompt,
    parse_caption,
    repair_prompt,
)
from pix_captioning.metrics import remote_call
from pix_captioning.reliability import Permanent, Retryable
from pix_captioning.settings import CaptioningSettings

Storage = LocalStorage | S3Storage


@dataclass(frozen=True)
class CaptionRequest:
    web_key: str
    room_type: str | None
    seed: str  # varies the offline templates per photo, stable across re-runs

    @classmethod
    def of(cls, job: CaptionJob) -> CaptionRequest:
        return cls(job.web_key, job.room_type, str(job.asset_id))


class Provider(Protocol):
    name: str
    model: str
    prompt_version: str

    async def caption(self, request: CaptionRequest) -> CaptionText: ...

    async def close(self) -> None: ...


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: rare from these APIs; our own backoff applies


async def _read_rendition(storage: Storage, key: str) -> bytes:
    try:
        return await storage.get_bytes(key)
    except ObjectNotFound as exc:
        raise Permanent(f"rendition unreadable: {key} not found") from exc


# --- offline ----------------------------------------------------------------------------------


def offline_caption(image_bytes: bytes, room_type: str | None, seed: str) -> CaptionText:
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            image.load()
            facts = offline.measure_image(image)
    except (UnidentifiedImageError, OSError) as exc:
        raise Permanent(f"rendition unreadable: {exc}") from exc
    room = RoomType(room_type) if room_type in set(RoomType) else None
    text = offline.compose_caption(room, facts, seed)
    return CaptionText(
        room_type=text.room_type,
        title_de=text.title_de,
        title_en=text.title_en,
        description_de=text.description_de,
        description_en=text.description_en,
        alt_text_de=text.alt_text_de,
        alt_text_en=text.alt_text_en,
        features=list(text.features),
    )


class OfflineProvider:
    name = "offline"
    model = offline.MODEL_NAME
    prompt_version = "offline-1"

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def caption(self, request: CaptionRequest) -> CaptionText:
        image = await _read_rendition(self._storage, request.web_key)
        with remote_call():  # the offline "model"
            return await asyncio.to_thread(offline_caption, image, request.room_type, request.seed)

    async def close(self) -> None:
        return None


# --- Replicate --------------------------------------------------------------------------------

# The replicate client keeps no response headers on its errors; a response hook notes
# Retry-After in the calling task's context so the retry loop can honour it.
_last_retry_after: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "replicate_retry_after", default=None
)


async def _note_retry_after(response: httpx.Response) -> None:
    _last_retry_after.set(response.headers.get("Retry-After"))


# Replicate's final prediction statuses; a webhook with events_filter ["completed"] is one.
FINISHED = frozenset({"succeeded", "failed", "canceled"})
# How far a webhook's timestamp may be from now (Standard Webhooks recommends 5 minutes).
WEBHOOK_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class PredictionState:
    """What Replicate says about one prediction, from a webhook or a GET."""

    id: str
    status: str
    output: str
    error: str | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> PredictionState:
        output = data.get("output")
        text = "".join(str(p) for p in output) if isinstance(output, list) else str(output or "")
        error = data.get("error")
        return cls(str(data["id"]), str(data["status"]), text, str(error) if error else None)

    @classmethod
    def of_prediction(cls, p: Prediction) -> PredictionState:
        return cls.of({"id": p.id, "status": p.status, "output": p.output, "error": p.error})


class BadWebhook(Exception):
    """A webhook whose signature, timestamp or body does not verify."""


class ReplicateProvider:
    """CogVLM (or another vision model) on Replicate: create a prediction, poll it — or, with a
    webhook URL, create it and let Replicate call back (`start`)."""

    name = "replicate"
    prompt_version = PROMPT_VERSION

    def __init__(self, settings: CaptioningSettings, storage: Storage) -> None:
        if settings.replicate_api_token is None:
            raise RuntimeError("PIX_CAPTION_PROVIDER=replicate needs REPLICATE_API_TOKEN")
        self._storage = storage
        self._settings = settings
        self._model_ref = settings.replicate_model
        self._version = settings.replicate_version
        self.model = f"{self._model_ref}:{self._version[:12]}" if self._version else self._model_ref
        self.webhook_url = settings.replicate_webhook_url
        secret = settings.replicate_webhook_secret
        self._secret = WebhookSigningSecret(key=secret.get_secret_value()) if secret else None
        self._secret_lock = asyncio.Lock()
        self._client = ReplicateClient(
            api_token=settings.replicate_api_token.get_secret_value(),
            base_url=settings.replicate_base_url,
            timeout=httpx.Timeout(30.0, connect=5.0),
            event_hooks={"response": [_note_retry_after]},
        )

    # --- create and poll ------------------------------------------------------------------------

    async def caption(self, request: CaptionRequest) -> CaptionText:
        image_url = await self._image_url(request)
        answer = await self._predict(image_url, build_prompt(request.room_type))
        try:
            return parse_caption(answer, request.room_type)
        except CaptionRejected as first:
            # CogVLM sometimes answers in prose: ask once more, saying what was wrong.
            answer = await self._predict(image_url, repair_prompt(request.room_type, str(first)))
            try:
                return parse_caption(answer, request.room_type)
            except CaptionRejected as second:
                raise Permanent(f"malformed model output: {second}") from second

    async def _image_url(self, request: CaptionRequest) -> str:
        return await self._storage.signed_url(
            request.web_key, "GET", expires_in=self._settings.signed_url_seconds
        )

    @staticmethod
    def _inputs(image_url: str, prompt: str) -> dict[str, Any]:
        return {"image": image_url, "query": prompt, "vqa": False}

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Replicate's and the network's errors as `Retryable` / `Permanent`."""
        try:
            yield
        except ReplicateError as exc:
            status = exc.status or 0
            if status == 429 or status >= 500 or status in (408, 409):
                raise Retryable(
                    f"replicate {status}: {exc.title or exc.detail or ''}"[:300],
                    retry_after=_retry_after(_last_retry_after.get()),
                ) from exc
            raise Permanent(f"replicate {status}: {exc.detail or exc.title or ''}"[:300]) from exc
        except httpx.TimeoutException as exc:
            raise Retryable("replicate timed out") from exc
        except httpx.TransportError as exc:
            raise Retryable(f"replicate unreachable: {exc.__class__.__name__}") from exc

    async def _predict(self, image_url: str, prompt: str) -> str:
        with self._errors(), remote_call():
            prediction = await self._run_prediction(self._inputs(image_url, prompt))
        if prediction.status != "succeeded":
            # A failed prediction is usually a transient GPU or cold-start problem.
            raise Retryable(f"prediction {prediction.status}: {prediction.error or ''}"[:300])
        return PredictionState.of_prediction(prediction).output

    async def _create(self, inputs: dict[str, Any], *, webhook: str | None = None) -> Prediction:
        # Only "completed": one call per prediction, not one per log line.
        hook: dict[str, Any] = (
            {"webhook": webhook, "webhook_events_filter": ["completed"]} if webhook else {}
        )
        if self._version:
            return await self._client.predictions.async_create(
                version=self._version, input=inputs, **hook
            )
        return await self._client.models.predictions.async_create(
            model=self._model_ref, input=inputs, **hook
        )

    async def _run_prediction(self, inputs: dict[str, Any]) -> Prediction:
        """Create the prediction and poll it until it is done (or our deadline passed)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.provider_timeout_seconds
        prediction = await self._create(inputs)
        while prediction.status in ("starting", "processing"):
            if loop.time() > deadline:
                await self._client.predictions.async_cancel(prediction.id)
                raise Retryable("prediction timed out")
            await asyncio.sleep(self._settings.replicate_poll_seconds)
            prediction = await self._client.predictions.async_get(prediction.id)
        return prediction

    # --- webhooks -------------------------------------------------------------------------------

    async def start(self, request: CaptionRequest, *, problem: str | None = None) -> str:
        """Create a prediction that reports back to the webhook URL; its id.

        `problem`: the previous answer was malformed, so this one asks again with the repair
        prompt saying why.
        """
        if not self.webhook_url:
            raise RuntimeError("start() needs PIX_CAPTION_REPLICATE_WEBHOOK_URL")
        image_url = await self._image_url(request)
        prompt = (
            repair_prompt(request.room_type, problem)
            if problem
            else build_prompt(request.room_type)
        )
        with self._errors(), remote_call():
            prediction = await self._create(
                self._inputs(image_url, prompt), webhook=self.webhook_url
            )
        return prediction.id

    async def fetch(self, prediction_id: str) -> PredictionState:
        with self._errors():
            prediction = await self._client.predictions.async_get(prediction_id)
        return PredictionState.of_prediction(prediction)

    async def cancel(self, prediction_id: str) -> None:
        """Best effort: a prediction nobody waits for any more need not run on."""
        with contextlib.suppress(ReplicateError, httpx.HTTPError):
            await self._client.predictions.async_cancel(prediction_id)

    async def _signing_secret(self) -> WebhookSigningSecret:
        """`REPLICATE_WEBHOOK_SECRET`, or the account's default secret, fetched once."""
        if self._secret is None:
            async with self._secret_lock:
                if self._secret is None:
                    with self._errors():
                        self._secret = await self._client.webhooks.default.async_secret()
        return self._secret

    async def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> PredictionState:
        """The prediction a webhook reports, once its Standard Webhooks signature verified.

        Raises `BadWebhook` (forged, altered, expired, malformed) or `Retryable` (the secret
        could not be fetched).
        """
        secret = await self._signing_secret()
        try:
            self._client.webhooks.validate(
                headers=dict(headers),
                body=body.decode(),
                secret=secret,
                tolerance=WEBHOOK_TOLERANCE_SECONDS,
            )
            data = json.loads(body)
            return PredictionState.of(data)
        # WebhookValidationError, bad base64, bad UTF-8 and bad JSON are all ValueErrors. Only
        # the kind goes on: a message may quote the secret (InvalidSecretKeyError does).
        except (ValueError, KeyError, TypeError) as exc:
            raise BadWebhook(type(exc).__name__) from exc

    async def close(self) -> None:
        return None


# --- OpenAI-compatible ------------------------------------------------------------------------


class OpenAIProvider:
    """Any OpenAI-compatible vision chat endpoint: OpenAI, vLLM, Ollama, a Modal deployment."""

    name = "openai"
    prompt_version = PROMPT_VERSION

    def __init__(self, settings: CaptioningSettings, storage: Storage) -> None:
        self._storage = storage
        self._settings = settings
        self.model = settings.openai_model
        key = settings.openai_api_key
        self._client = openai.AsyncOpenAI(
            base_url=settings.openai_base_url,
            # Self-hosted servers often need no key, the client insists on one.
            api_key=key.get_secret_value() if key else "no-key",
            # Our retry loop owns retries (with Retry-After and the circuit breaker).
            max_retries=0,
            timeout=settings.provider_timeout_seconds,
        )

    async def _image_url(self, key: str) -> str:
        if self._settings.openai_image == "signed_url":
            return await self._storage.signed_url(
                key, "GET", expires_in=self._settings.signed_url_seconds
            )
        data = await _read_rendition(self._storage, key)
        return "data:image/jpeg;base64," + base64.b64encode(data).decode()

    async def caption(self, request: CaptionRequest) -> CaptionText:
        image = await self._image_url(request.web_key)
        messages: list[ChatCompletionMessageParam] = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": build_prompt(request.room_type)},
                    {"type": "image_url", "image_url": {"url": image}},
                ],
            }
        ]
        answer = await self._complete(messages)
        try:
            return parse_caption(answer, request.room_type)
        except CaptionRejected as first:
            messages += [
                {"role": "assistant", "content": answer},
                {"role": "user", "content": repair_prompt(request.room_type, str(first))},
            ]
            answer = await self._complete(messages)
            try:
                return parse_caption(answer, request.room_type)
            except CaptionRejected as second:
                raise Permanent(f"malformed model output: {second}") from second

    async def _complete(self, messages: list[ChatCompletionMessageParam]) -> str:
        # The client's documented request method for raw calls (auth, base URL, timeouts and
        # the same error classes as `chat.completions.create`), without the typed wrapper's
        # request transform and response model: 0.4 ms of CPU a call instead of 1.1 ms, which
        # every handler sharing the event loop waits for.
        body = {
            "model": self.model,
            "messages": messages,
            "temperature": 0.4,
            "max_tokens": 900,
            "response_format": {"type": "json_object"},
        }
        try:
            with remote_call():
                response = await self._client.post(
                    "/chat/completions", body=body, cast_to=httpx.Response
                )
        except openai.RateLimitError as exc:
            raise Retryable(
                "openai 429", retry_after=_retry_after(exc.response.headers.get("Retry-After"))
            ) from exc
        except openai.APITimeoutError as exc:
            raise Retryable("openai timed out") from exc
        except openai.APIConnectionError as exc:
            raise Retryable("openai unreachable") from exc
        except openai.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code in (408, 409):
                raise Retryable(
                    f"openai {exc.status_code}",
                    retry_after=_retry_after(exc.response.headers.get("Retry-After")),
                ) from exc
            raise Permanent(f"openai {exc.status_code}: {exc.message}"[:300]) from exc
        return _answer_text(response)

    async def close(self) -> None:
        await self._client.close()


def _answer_text(response: httpx.Response) -> str:
    """The first choice's message text of a chat completion; a body of another shape is a
    broken server, not a transient problem."""
    try:
        choices = response.json()["choices"]
        if not choices:
            raise Permanent("openai answered without choices")
        content = choices[0]["message"].get("content")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Permanent("openai answered something that is not a chat completion") from exc
    return content if isinstance(content, str) else ""


def build_provider(settings: CaptioningSettings, storage: Storage) -> Provider:
    if settings.provider == "replicate":
        return ReplicateProvider(settings, storage)
    if settings.provider == "openai":
        return OpenAIProvider(settings, storage)
    return OfflineProvider(storage)
