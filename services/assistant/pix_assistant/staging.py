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
"""

from __future__ import annotations

import base64
import io
import time
import uuid
from typing import Literal, Protocol

import httpx
from openai import AsyncOpenAI
from PIL import Image
from pydantic import BaseModel

from pix_assistant.accounts import Accounts, ModelCall, Outcome
from pix_assistant.platform import Caller, PlatformApis, ServiceError

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


class ImageEditor(Protocol):
    model: str

    async def furnish(self, image: bytes, prompt: str) -> bytes: ...

    async def aclose(self) -> None: ...


class OpenAIImageEditor:
    def __init__(self, *, base_url: str | None, api_key: str, model: str, timeout: float) -> None:
        self.model = model
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout)

    async def furnish(self, image: bytes, prompt: str) -> bytes:
        result = await self._client.images.edit(
            model=self.model, image=("room.png", image, "image/png"), prompt=prompt, n=1
        )
        data = result.data[0].b64_json if result.data else None
        if not data:
            raise ValueError("the image model returned no image")
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
        response = await self._client.post(
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
        response.raise_for_status()
        for candidate in response.json().get("candidates", []):
            for part in candidate.get("content", {}).get("parts", []):
                inline = part.get("inlineData") or part.get("inline_data")
                if inline and inline.get("data"):
                    return base64.b64decode(inline["data"])
        raise ValueError("the image model returned no image")

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

    async def stage(
        self, caller: Caller, listing_id: uuid.UUID, media_id: uuid.UUID, style: Style
    ) -> StagedPhoto:
        listing = await self._apis.call(caller, "listings", "GET", f"/listings/{listing_id}")
        media = next((m for m in listing.get("media", []) if m["id"] == str(media_id)), None)
        if media is None:
            raise ServiceError("listings", 404, "not_found", "photo not found")
        if media.get("is_floor_plan"):
            raise ServiceError("assistant", 422, "invalid", "a floor plan cannot be staged")
        if media.get("staged"):
            raise ServiceError("assistant", 422, "invalid", "this photo is already staged")
        original = await self._storage.get_bytes(media["storage_key"])
        started = time.monotonic()
        try:
            furnished = await self.editor.furnish(scaled_png(original), prompt_for(style))
        except Exception as exc:
            await self._book(caller, started, "error", str(exc))
            raise ServiceError(
                "assistant", 502, "staging_failed", "the image model failed"
            ) from exc
        await self._book(caller, started, "ok", None)
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
