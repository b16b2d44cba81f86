"""Captioning's handler with TestKafkaBroker on the real database and storage."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from PIL import Image
from pix_captioning.app import create_app
from pix_captioning.models import captions, outbox
from pix_captioning.settings import CaptioningSettings
from pix_contracts import AssetUploaded, CaptionFailed, CaptionReady
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import func, select


@pytest.fixture
async def captioning(migrated: set[str]) -> AsyncIterator[tuple[ServiceRuntime, Any]]:
    _, runtime = create_app(CaptioningSettings())
    async with TestKafkaBroker(runtime.broker) as broker:
        yield runtime, broker
    await runtime.db.dispose()


async def uploaded(runtime: ServiceRuntime, *, room: str | None = "kitchen") -> AssetUploaded:
    gallery_id, asset_id = uuid.uuid4(), uuid.uuid4()
    web_key = f"renditions/{gallery_id}/{asset_id}/web.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (1600, 1200), (235, 230, 220)).save(buffer, "JPEG")
    await runtime.storage.put_bytes(web_key, buffer.getvalue(), "image/jpeg")
    return AssetUploaded(
        asset_id=asset_id,
        gallery_id=gallery_id,
        org_id=uuid.uuid4(),
        pseudonym="Kitchen_01" if room else "Photo_01",
        room_type=room,
        sequence=1,
        width=4000,
        height=3000,
        byte_size=123,
        sha256="a" * 64,
        web_key=web_key,
        thumb_key=web_key.replace("web", "thumb"),
    )


async def announced(runtime: ServiceRuntime, topic: str, asset_id: uuid.UUID) -> list[bytes]:
    async with runtime.db.sessions() as session:
        rows = await session.execute(
            select(outbox.c.payload).where(
                outbox.c.topic == topic,
                func.encode(outbox.c.payload, "escape").contains(str(asset_id)),
            )
        )
        return list(rows.scalars())


async def test_a_photo_is_captioned_once_and_its_files_are_written(
    captioning: tuple[ServiceRuntime, Any],
) -> None:
    runtime, broker = captioning
    event = await uploaded(runtime)
    body = event.model_dump_json().encode()
    await broker.publish(body, AssetUploaded.topic)
    await broker.publish(body, AssetUploaded.topic)  # redelivered

    async with runtime.db.sessions() as session:
        rows = (
            await session.execute(select(captions).where(captions.c.asset_id == event.asset_id))
        ).all()
    assert len(rows) == 1
    [payload] = await announced(runtime, CaptionReady.topic, event.asset_id)
    ready = CaptionReady.model_validate_json(payload)
    assert ready.caption.room_type == "kitchen"
    assert ready.model == "offline-template-v1"
    assert len(ready.caption.title_de) <= 30

    document = json.loads(await runtime.storage.get_bytes(ready.json_key))
    assert document["$schema"].endswith("/caption/v1")
    assert document["title_de"] == ready.caption.title_de
    assert document["edited"] is False
    text = (await runtime.storage.get_bytes(ready.txt_key)).decode()
    assert text.index(ready.caption.description_de) < text.index(ready.caption.description_en)


async def test_a_new_announcement_of_a_captioned_photo_reannounces_without_recaptioning(
    captioning: tuple[ServiceRuntime, Any],
) -> None:
    runtime, broker = captioning
    event = await uploaded(runtime)
    await broker.publish(event.model_dump_json().encode(), AssetUploaded.topic)
    again = event.model_copy(update={"event_id": uuid.uuid4()})  # media's reconciler
    await broker.publish(again.model_dump_json().encode(), AssetUploaded.topic)
    async with runtime.db.sessions() as session:
        count = await session.scalar(
            select(func.count()).where(captions.c.asset_id == event.asset_id)
        )
    assert count == 1
    assert len(await announced(runtime, CaptionReady.topic, event.asset_id)) == 2


async def test_a_missing_rendition_fails_the_caption_with_a_reason(
    captioning: tuple[ServiceRuntime, Any],
) -> None:
    runtime, broker = captioning
    event = await uploaded(runtime)
    await runtime.storage.delete(event.web_key)
    await broker.publish(event.model_dump_json().encode(), AssetUploaded.topic)
    [payload] = await announced(runtime, CaptionFailed.topic, event.asset_id)
    failed = CaptionFailed.model_validate_json(payload)
    assert "rendition unreadable" in failed.reason


async def test_unknown_room_gives_a_neutral_caption(captioning: tuple[ServiceRuntime, Any]) -> None:
    runtime, broker = captioning
    event = await uploaded(runtime, room=None)
    await broker.publish(event.model_dump_json().encode(), AssetUploaded.topic)
    [payload] = await announced(runtime, CaptionReady.topic, event.asset_id)
    caption = CaptionReady.model_validate_json(payload).caption
    assert caption.room_type is None
    assert "Küche" not in caption.description_de


async def test_a_deleted_photo_takes_its_captions_with_it(
    captioning: tuple[ServiceRuntime, Any],
) -> None:
    from pix_contracts import AssetDeleted

    runtime, broker = captioning
    event = await uploaded(runtime)
    await broker.publish(event.model_dump_json().encode(), AssetUploaded.topic)
    [payload] = await announced(runtime, CaptionReady.topic, event.asset_id)
    ready = CaptionReady.model_validate_json(payload)
    assert await runtime.storage.exists(ready.json_key)

    deleted = AssetDeleted(
        asset_id=event.asset_id,
        gallery_id=event.gallery_id,
        org_id=event.org_id,
        pseudonym=event.pseudonym,
        deleted_by=uuid.uuid4(),
    )
    for _ in range(2):  # redelivered
        await broker.publish(deleted.model_dump_json().encode(), AssetDeleted.topic)
    async with runtime.db.sessions() as session:
        left = await session.scalar(
            select(func.count()).where(captions.c.asset_id == event.asset_id)
        )
    assert left == 0
    assert not await runtime.storage.exists(ready.json_key)
    assert not await runtime.storage.exists(ready.txt_key)
