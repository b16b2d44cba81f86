"""Captioning refuses anything but a photo: a floor plan or video announced by mistake (media
never announces them) gets no caption, no failure and no caption files."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from PIL import Image
from pix_captioning.app import create_app
from pix_captioning.models import captions, outbox
from pix_captioning.settings import CaptioningSettings
from pix_contracts import AssetUploaded
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import func, select


@pytest.fixture
async def captioning(migrated: set[str]) -> AsyncIterator[tuple[ServiceRuntime, Any]]:
    _, runtime = create_app(CaptioningSettings())
    async with TestKafkaBroker(runtime.broker) as broker:
        yield runtime, broker
    await runtime.db.dispose()


@pytest.mark.parametrize("kind", ["floor_plan", "video"])
async def test_a_floor_plan_or_video_is_never_captioned(
    captioning: tuple[ServiceRuntime, Any], kind: str
) -> None:
    runtime, broker = captioning
    gallery_id, asset_id = uuid.uuid4(), uuid.uuid4()
    web_key = f"renditions/{gallery_id}/{asset_id}/web.jpg"
    preview = io.BytesIO()
    Image.new("RGB", (800, 600), (255, 255, 255)).save(preview, "JPEG")
    await runtime.storage.put_bytes(web_key, preview.getvalue(), "image/jpeg")
    event = AssetUploaded(
        asset_id=asset_id,
        gallery_id=gallery_id,
        org_id=uuid.uuid4(),
        pseudonym="FloorPlan_01",
        room_type="floor_plan",
        sequence=1,
        width=800,
        height=600,
        byte_size=123,
        sha256="b" * 64,
        web_key=web_key,
        thumb_key=web_key.replace("web", "thumb"),
        kind=kind,  # type: ignore[arg-type]
    )
    await broker.publish(event.model_dump_json().encode(), AssetUploaded.topic)

    async with runtime.db.sessions() as session:
        stored = await session.scalar(select(func.count()).where(captions.c.asset_id == asset_id))
        announced = await session.scalar(
            select(func.count()).where(
                func.encode(outbox.c.payload, "escape").contains(str(asset_id))
            )
        )
    assert (stored, announced) == (0, 0)
