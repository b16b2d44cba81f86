"""Virtual staging: an empty room photo furnished by an image-edit model, stored through the
listings API (as the user) as a new, separate photo of the listing, marked as staged and
labelled "Virtuell eingerichtet" in its corner by listings (in Germany a staged photo must be
marked as such, so the service that keeps the media stamps it); the real photo is never
replaced.

The model is fed the listing's own copy of the photo, which is the anonymised web rendition
(listings takes its photos from delivered exports, never the originals). The listing is read
through the listings API as the user, so only a photo the user may see can be staged.

Providers (`PIX_ASSISTANT_STAGING_PROVIDER`): `openai` (the Images edit endpoint of any
OpenAI-compatible API, e.g. gpt-image-1) or `gemini` (Gemini's generateContent with an image
part, e.g. gemini-2.5-flash-image); `off` (default) leaves the tool out.

The pages' "Virtuell einrichten" does not wait for the model inside the request (a provider
slower than the gateway's 30 s would fail the page): `StagingDesk.request` checks the photo,
keeps a `stagings` row and enqueues a job; the job calls the model with the job layer's retries
(a provider's refusal fails the staging at once, with the reason); the page polls the row. The
chat's `virtual_staging` tool still stages within its answer (the stream has heartbeats).
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import httpx
import openai
from openai import AsyncOpenAI
from PIL import Image
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import NotFound
from pix_runtime.identity import Identity
from pix_runtime.jobs import JobContext, PermanentJobError, RetryPolicy, enqueue_job
from pix_runtime.logging import get_logger
from pydantic import BaseModel
from sqlalchemy import insert, select, update

from pix_assistant import models as m
from pix_assistant.accounts import Accounts, ModelCall, Outcome
from pix_assistant.platform import Caller, PlatformApis, ServiceError

log = get_logger(__name__)

Style = Literal["modern", "scandinavian", "classic", "industrial", "cosy"]
STYLE_WORDS = {
    "modern": "modern, clean lines, neutral colours",
    "scandinavian": "Scandinavian, light wood, white and soft textiles",
    "classic": "classic, elegant, warm wood and fabrics",
    "industrial": "industrial, metal, leather and dark wood",
    "cosy": "cosy, warm light, plants and soft rugs",
}
# Larger photos are scaled down before they go to the model (its own limits, and the cost).
MAX_SIDE = 1536


class ProviderRefused(Exception):
    """The image model said no (a bad request, a refused key, no picture in its answer):
    asking again would get the same answer."""


class ProviderBusy(Exception):
    """The image model did not answer now (overloaded, rate-limited, a timeout, a 5xx): worth
    another attempt, after `retry_after` seconds if it said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    value = headers.get("retry-after") if headers is not None else None
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _status_failure(status: int, message: str, headers: Mapping[str, str] | None) -> Exception:
    """A provider's HTTP error as busy (429, 408, 5xx) or refused (any other 4xx)."""
    if status in (408, 409, 429) or status >= 500:
        return ProviderBusy(f"HTTP {status}: {message}", _retry_after(headers))
    return ProviderRefused(f"HTTP {status}: {message}")


class ImageEditor(Protocol):
    model: str

    async def furnish(self, image: bytes, prompt: str) -> bytes: ...

    async def aclose(self) -> None: ...


class OpenAIImageEditor:
    def __init__(self, *, base_url: str | None, api_key: str, model: str, timeout: float) -> None:
        self.model = model
        # No retries of the client's own: the staging job's policy decides when to ask again.
        self._client = AsyncOpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0
        )

    async def furnish(self, image: bytes, prompt: str) -> bytes:
        try:
            result = await self._client.images.edit(
                model=self.model, image=("room.png", image, "image/png"), prompt=prompt, n=1
            )
        except openai.APIStatusError as exc:
            raise _status_failure(exc.status_code, exc.message, exc.response.headers) from exc
        except openai.APIConnectionError as exc:  # includes the timeout
            raise ProviderBusy(f"no answer: {exc}") from exc
        data = result.data[0].b64_json if result.data else None
        if not data:
            raise ProviderRefused("the image model returned no image")
        return base64.b64decode(data)

    async def aclose(self) -> None:
        await self._client.close()


class GeminiImageEditor:
    """Gemini's REST API (`models/<model>:generateContent`), an image part and the prompt in."""

    def __init__(self, *, base_url: str | None, api_key: str, model: str, timeout: float) -> None:
        self.model = model
        self._client = httpx.AsyncClient(
            base_url=(base_url or "https://generativelanguage.googleapis.com/v1beta").rstrip("/"),
            headers={"x-goog-api-key": api_key},
            timeout=timeout,
        )

    async def furnish(self, image: bytes, prompt: str) -> bytes:
        try:
            response = await self._post(image, prompt)
        except httpx.TransportError as exc:  # includes the timeout
            raise ProviderBusy(f"no answer: {exc!r}") from exc
        if response.status_code >= 400:
            raise _status_failure(response.status_code, response.text[:300], response.headers)
        for candidate in response.json().get("candidates", []):
            for part in candidate.get("content", {}).get("parts", []):
                inline = part.get("inlineData") or part.get("inline_data")
                if inline and inline.get("data"):
                    return base64.b64decode(inline["data"])
        raise ProviderRefused("the image model returned no image")

    async def _post(self, image: bytes, prompt: str) -> httpx.Response:
        return await self._client.post(
            f"/models/{self.model}:generateContent",
            json={
                "contents": [
                    {
                        "parts": [
                            {"text": prompt},
                            {
                                "inline_data": {
                                    "mime_type": "image/png",
                                    "data": base64.b64encode(image).decode(),
                                }
                            },
                        ]
                    }
                ]
            },
        )

    async def aclose(self) -> None:
        await self._client.aclose()


class StagedPhoto(BaseModel):
    """The new photo of the listing (`id` is its media id there; `media_id` the source)."""

    id: uuid.UUID
    listing_id: uuid.UUID
    media_id: uuid.UUID
    style: Style
    label: str
    storage_key: str
    url: str
    model: str


def prompt_for(style: Style) -> str:
    return (
        f"Furnish this empty room photo in a {STYLE_WORDS[style]} style. Keep the walls, "
        "windows, floor, doors, light and perspective exactly as they are; add furniture and "
        "decoration only. Photorealistic, no text, no people."
    )


def scaled_png(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        picture = image.convert("RGB")
    picture.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


class Storage(Protocol):
    async def get_bytes(self, key: str) -> bytes: ...


class Stager:
    def __init__(
        self,
        editor: ImageEditor,
        apis: PlatformApis,
        storage: Storage,
        accounts: Accounts,
    ) -> None:
        self.editor = editor
        self._apis = apis
        self._storage = storage
        self._accounts = accounts

    async def photos(self, caller: Caller, listing_id: uuid.UUID) -> list[dict[str, Any]]:
        """The listing's media as listings shows them to the caller."""
        listing = await self._apis.call(caller, "listings", "GET", f"/listings/{listing_id}")
        found: list[dict[str, Any]] = listing.get("media", [])
        return found

    async def check(
        self, caller: Caller, listing_id: uuid.UUID, media_id: uuid.UUID
    ) -> dict[str, Any]:
        """The photo as listings shows it to the caller, if it may be staged."""
        return self.stageable(await self.photos(caller, listing_id), media_id)

    def stageable(self, photos: list[dict[str, Any]], media_id: uuid.UUID) -> dict[str, Any]:
        media = next((m for m in photos if m["id"] == str(media_id)), None)
        if media is None:
            raise ServiceError("listings", 404, "not_found", "photo not found")
        if media.get("is_floor_plan"):
            raise ServiceError("assistant", 422, "invalid", "a floor plan cannot be staged")
        if media.get("staged"):
            raise ServiceError("assistant", 422, "invalid", "this photo is already staged")
        found: dict[str, Any] = media
        return found

    async def furnish(self, caller: Caller, media: dict[str, Any], style: Style) -> bytes:
        """The model's furnished room; every call on the books. Raises ProviderRefused or
        ProviderBusy (or another exception of the model's client)."""
        original = await self._storage.get_bytes(media["storage_key"])
        started = time.monotonic()
        try:
            furnished = await self.editor.furnish(scaled_png(original), prompt_for(style))
        except Exception as exc:
            await self._book(caller, started, "error", str(exc))
            raise
        await self._book(caller, started, "ok", None)
        return furnished

    def as_staged(
        self, item: dict[str, Any], listing_id: uuid.UUID, media_id: uuid.UUID, style: Style
    ) -> StagedPhoto:
        return StagedPhoto(
            id=uuid.UUID(item["id"]),
            listing_id=listing_id,
            media_id=media_id,
            style=style,
            label=item["label"],
            storage_key=item["storage_key"],
            url=item["url"],
            model=self.editor.model,
        )

    async def store(
        self,
        caller: Caller,
        listing_id: uuid.UUID,
        media_id: uuid.UUID,
        style: Style,
        furnished: bytes,
    ) -> StagedPhoto:
        # Listings checks the listing and photo again, stamps the label and keeps the copy
        # beside the photo; the assistant keeps no copy of its own.
        item = await self._apis.call(
            caller,
            "listings",
            "POST",
            f"/staged-photos/{listing_id}/{media_id}",
            params={"style": style},
            content=furnished,
            content_type="application/octet-stream",
        )
        return self.as_staged(item, listing_id, media_id, style)

    async def stage(
        self, caller: Caller, listing_id: uuid.UUID, media_id: uuid.UUID, style: Style
    ) -> StagedPhoto:
        """All at once, within the caller's wait (the chat's tool)."""
        media = await self.check(caller, listing_id, media_id)
        try:
            furnished = await self.furnish(caller, media, style)
        except Exception as exc:
            raise ServiceError(
                "assistant", 502, "staging_failed", "the image model failed"
            ) from exc
        return await self.store(caller, listing_id, media_id, style, furnished)

    async def _book(
        self, caller: Caller, started: float, outcome: Outcome, error: str | None
    ) -> None:
        await self._accounts.record(
            ModelCall(
                org_id=caller.identity.org_id,
                user_id=caller.identity.user_id,
                conversation_id=None,
                feature="staging",
                model=self.editor.model,
                tokens_in=0,
                tokens_out=0,
                latency_ms=int((time.monotonic() - started) * 1000),
                outcome=outcome,
                error=error,
                images=1 if outcome == "ok" else 0,
            )
        )


# --- stagings as jobs --------------------------------------------------------------------------

STAGE_PHOTO = "assistant.stage-photo"
StagingStatus = Literal["queued", "running", "done", "failed"]
# A provider that is busy is asked again after about 15 s, 30 s, 1 min: a few minutes in all,
# which a page polling the staging waits for; beyond that the staging fails with the reason.
STAGING_POLICY = RetryPolicy(max_attempts=4, base_seconds=15, max_seconds=120)


class StagePhoto(BaseModel):
    staging_id: uuid.UUID


class Staging(BaseModel):
    """A staging asked for: `result` once done, `error` (the reason) once failed; while a busy
    provider is asked again the status is back to queued and `error` says why."""

    id: uuid.UUID
    listing_id: uuid.UUID
    media_id: uuid.UUID
    style: Style
    status: StagingStatus
    attempts: int
    error: str | None
    result: StagedPhoto | None
    created_at: datetime
    updated_at: datetime


def _staged_from(photos: list[dict[str, Any]], media_id: uuid.UUID, style: str) -> list[str]:
    """The ids of the staged photos already made from this photo in this style."""
    return [
        p["id"]
        for p in photos
        if p.get("staged")
        and p.get("source_photo_id") == str(media_id)
        and p.get("staging_style") == style
    ]


def _staging(row: Any) -> Staging:
    return Staging(
        id=row.id,
        listing_id=row.listing_id,
        media_id=row.media_id,
        style=row.style,
        status=row.status,
        attempts=row.attempts,
        error=row.error,
        result=StagedPhoto.model_validate(row.result) if row.result else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class StagingDesk:
    def __init__(
        self,
        db: Database,
        stager: Stager,
        *,
        clock: Clock,
        policy: RetryPolicy = STAGING_POLICY,
        attempt_seconds: float = 180.0,
    ) -> None:
        self.stager = stager
        self.policy = policy
        # One attempt ends here, inside the job's lease (`job_timeout`), so the staging says
        # why it stopped instead of staying "running" after a lease ran out.
        self.attempt_seconds = attempt_seconds
        self.job_timeout = timedelta(seconds=attempt_seconds + 30)
        self._db = db
        self._clock = clock

    async def request(
        self, caller: Caller, listing_id: uuid.UUID, media_id: uuid.UUID, style: Style
    ) -> Staging:
        """Check the photo now (a wrong one is refused at once) and leave the model to a job."""
        photos = await self.stager.photos(caller, listing_id)
        self.stager.stageable(photos, media_id)
        now = self._clock.now()
        staging_id = uuid.uuid4()
        async with self._db.transaction() as session:
            # Without `exp`: the job signs the identity afresh whenever it calls as the user.
            identity = caller.identity.model_dump(mode="json", exclude={"exp"})
            await session.execute(
                insert(m.stagings).values(
                    id=staging_id,
                    org_id=caller.identity.org_id,
                    user_id=caller.identity.user_id,
                    listing_id=listing_id,
                    media_id=media_id,
                    style=style,
                    status="queued",
                    identity=identity,
                    known_staged=_staged_from(photos, media_id, style),
                    created_at=now,
                    updated_at=now,
                )
            )
            await enqueue_job(
                session, m.jobs, STAGE_PHOTO, StagePhoto(staging_id=staging_id), key=str(staging_id)
            )
        return await self.get(caller, staging_id)

    async def get(self, caller: Caller, staging_id: uuid.UUID) -> Staging:
        """The organisation's own staging; another's is not found."""
        async with self._db.sessions() as session:
            row = (
                await session.execute(
                    select(m.stagings).where(
                        m.stagings.c.id == staging_id,
                        m.stagings.c.org_id == caller.identity.org_id,
                    )
                )
            ).first()
        if row is None:
            raise NotFound("staging")
        return _staging(row)

    async def run(self, job: StagePhoto, ctx: JobContext) -> None:
        """The job: furnish the room, store it through listings, mark the staging done."""
        async with self._db.sessions() as session:
            row = (
                await session.execute(select(m.stagings).where(m.stagings.c.id == job.staging_id))
            ).first()
        if row is None or row.status in ("done", "failed"):
            return
        caller = Caller(identity=Identity.model_validate(row.identity), signed="")
        await self._mark(row.id, status="running", attempts=ctx.attempt)
        try:
            async with asyncio.timeout(self.attempt_seconds):
                photos = await self.stager.photos(caller, row.listing_id)
                # An earlier attempt may have stored the picture and not lived to say so (a
                # crash or a timeout after listings took it): that one is the result.
                stored = [
                    p
                    for p in photos
                    if row.attempts > 0
                    and p["id"] in _staged_from(photos, row.media_id, row.style)
                    and p["id"] not in row.known_staged
                ]
                if stored:
                    staged = self.stager.as_staged(
                        stored[0], row.listing_id, row.media_id, row.style
                    )
                else:
                    media = self.stager.stageable(photos, row.media_id)
                    furnished = await self.stager.furnish(caller, media, row.style)
                    staged = await self.stager.store(
                        caller, row.listing_id, row.media_id, row.style, furnished
                    )
        except ServiceError as exc:
            if exc.status >= 500:
                await self._again_or_fail(row.id, ctx, f"{exc.service}: {exc.message}", exc)
                raise
            await self._fail(row.id, f"{exc.service}: {exc.message} ({exc.code})")
            raise PermanentJobError(exc.message) from exc
        except ProviderRefused as exc:
            await self._fail(row.id, f"the image model refused: {exc}")
            raise PermanentJobError(str(exc)) from exc
        except Exception as exc:
            await self._again_or_fail(row.id, ctx, f"the image model did not answer: {exc}", exc)
            raise
        async with self._db.transaction() as session:
            await session.execute(
                update(m.stagings)
                .where(m.stagings.c.id == row.id)
                .values(
                    status="done",
                    result=staged.model_dump(mode="json"),
                    error=None,
                    updated_at=self._clock.now(),
                )
            )
            await ctx.finish(session)
        log.info("staging.done", staging_id=str(row.id), attempt=ctx.attempt)

    async def _again_or_fail(
        self, staging_id: uuid.UUID, ctx: JobContext, reason: str, exc: Exception
    ) -> None:
        if ctx.attempt >= self.policy.max_attempts:
            await self._fail(staging_id, f"{reason} (after {ctx.attempt} attempts)")
            raise PermanentJobError(reason) from exc
        await self._mark(staging_id, status="queued", error=f"{reason}; trying again")

    async def _fail(self, staging_id: uuid.UUID, reason: str) -> None:
        log.warning("staging.failed", staging_id=str(staging_id), reason=reason)
        await self._mark(staging_id, status="failed", error=reason[:1000])

    async def _mark(self, staging_id: uuid.UUID, **values: object) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(m.stagings)
                .where(m.stagings.c.id == staging_id)
                .values(**values, updated_at=self._clock.now())
            )
