"""Captioning: turn an anonymised web rendition into bilingual marketing captions.

The caption is stored twice in storage — `<Pseudonym>.txt` for people, `<Pseudonym>.json` for
machines — and once in the database with its history, then announced as `CaptionReady`.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from PIL import Image, UnidentifiedImageError
from pix_contracts import AssetUploaded, CaptionFailed, CaptionReady, CaptionText
from pix_contracts.rooms import RoomType
from pix_runtime.db import Database
from pix_runtime.inbox import first_delivery
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue
from pix_runtime.storage import LocalStorage, ObjectNotFound, S3Storage
from sqlalchemy import RowMapping, select

from pix_captioning import offline
from pix_captioning.models import captions, inbox, outbox

SOURCE = "/pix/captioning"
CONSUMER = "captioning"
CAPTION_SCHEMA = "https://pix.immo/schemas/caption/v1"
PROMPT_VERSION = "offline-1"
log = get_logger(__name__)


class ImageUnreadable(Exception):
    """The rendition is missing or not decodable: retrying will not help."""


def caption_document(
    event: AssetUploaded, caption: CaptionText, *, model: str, provider: str, version: int
) -> dict[str, Any]:
    """The `.json` file: versioned schema, everything a CRM import needs."""
    return {
        "$schema": CAPTION_SCHEMA,
        "asset": event.pseudonym,
        "caption_version": version,
        **caption.model_dump(),
        "model": model,
        "provider": provider,
        "prompt_version": PROMPT_VERSION,
        "created_at": datetime.now(UTC).isoformat(),
        "edited": False,
    }


def caption_text_file(pseudonym: str, caption: CaptionText) -> str:
    """The `.txt` file: German first, then English."""
    features = ", ".join(caption.features)
    return (
        f"{pseudonym}\n\n"
        f"[DE] {caption.title_de}\n{caption.description_de}\nAlt-Text: {caption.alt_text_de}\n\n"
        f"[EN] {caption.title_en}\n{caption.description_en}\nAlt text: {caption.alt_text_en}\n\n"
        f"Features: {features}\n"
    )


def offline_caption(image_bytes: bytes, room_type: str | None, seed: str) -> CaptionText:
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            image.load()
            facts = offline.measure_image(image)
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageUnreadable(str(exc)) from exc
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


class CaptionDesk:
    def __init__(self, db: Database, storage: LocalStorage | S3Storage) -> None:
        self._db = db
        self._storage = storage

    async def caption_asset(self, event: AssetUploaded) -> None:
        """Caption one uploaded photo; the provider runs once per asset version.

        A redelivered event is a no-op; a new announcement of an asset version that already has
        a caption (media's reconciler) re-announces that caption without captioning again.
        """
        existing = await self._caption_of(event.asset_id, event.version)
        if existing is not None:
            await self._announce_again(event, existing)
            return
        try:
            image_bytes = await self._storage.get_bytes(event.web_key)
            caption = await asyncio.to_thread(
                offline_caption, image_bytes, event.room_type, str(event.asset_id)
            )
        except (ObjectNotFound, ImageUnreadable) as exc:
            await self._give_up(event, f"rendition unreadable: {exc}")
            return

        version = 1
        document = caption_document(
            event, caption, model=offline.MODEL_NAME, provider="offline", version=version
        )
        base = f"captions/{event.gallery_id}/{event.pseudonym}"
        txt_key, json_key = f"{base}.txt", f"{base}.json"
        await self._storage.put_bytes(
            json_key,
            json.dumps(document, ensure_ascii=False, indent=2).encode(),
            "application/json",
        )
        await self._storage.put_bytes(
            txt_key, caption_text_file(event.pseudonym, caption).encode(), "text/plain"
        )
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            await session.execute(
                captions.insert().values(
                    id=uuid.uuid4(),
                    asset_id=event.asset_id,
                    asset_version=event.version,
                    caption_version=version,
                    gallery_id=event.gallery_id,
                    org_id=event.org_id,
                    pseudonym=event.pseudonym,
                    content=document,
                    model=offline.MODEL_NAME,
                    provider="offline",
                    prompt_version=PROMPT_VERSION,
                    txt_key=txt_key,
                    json_key=json_key,
                )
            )
            await enqueue(
                session,
                outbox,
                CaptionReady(
                    asset_id=event.asset_id,
                    gallery_id=event.gallery_id,
                    org_id=event.org_id,
                    asset_version=event.version,
                    caption_version=version,
                    pseudonym=event.pseudonym,
                    caption=caption,
                    model=offline.MODEL_NAME,
                    provider="offline",
                    prompt_version=PROMPT_VERSION,
                    txt_key=txt_key,
                    json_key=json_key,
                    web_key=event.web_key,
                ),
                source=SOURCE,
            )
        log.info("caption.ready", asset_id=str(event.asset_id), pseudonym=event.pseudonym)

    async def _caption_of(self, asset_id: uuid.UUID, asset_version: int) -> RowMapping | None:
        async with self._db.sessions() as session:
            return (
                (
                    await session.execute(
                        select(captions)
                        .where(
                            captions.c.asset_id == asset_id,
                            captions.c.asset_version == asset_version,
                        )
                        .order_by(captions.c.caption_version.desc())
                        .limit(1)
                    )
                )
                .mappings()
                .first()
            )

    async def _announce_again(self, event: AssetUploaded, row: RowMapping) -> None:
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                log.info("caption.redelivery_ignored", asset_id=str(event.asset_id))
                return
            await enqueue(
                session,
                outbox,
                CaptionReady(
                    asset_id=row["asset_id"],
                    gallery_id=row["gallery_id"],
                    org_id=row["org_id"],
                    asset_version=row["asset_version"],
                    caption_version=row["caption_version"],
                    pseudonym=row["pseudonym"],
                    caption=CaptionText.model_validate(row["content"]),
                    model=row["model"],
                    provider=row["provider"],
                    prompt_version=row["prompt_version"],
                    edited=row["edited"],
                    txt_key=row["txt_key"],
                    json_key=row["json_key"],
                    web_key=event.web_key,
                ),
                source=SOURCE,
            )
        log.info("caption.announced_again", asset_id=str(event.asset_id))

    async def _give_up(self, event: AssetUploaded, reason: str) -> None:
        log.warning("caption.failed", asset_id=str(event.asset_id), reason=reason)
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            await enqueue(
                session,
                outbox,
                CaptionFailed(
                    asset_id=event.asset_id,
                    gallery_id=event.gallery_id,
                    org_id=event.org_id,
                    asset_version=event.version,
                    pseudonym=event.pseudonym,
                    reason=reason[:500],
                    attempts=1,
                ),
                source=SOURCE,
            )
