"""Media's event handlers with FastStream's TestKafkaBroker, on the real database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from pix_contracts import AssetUploaded, OrderPlaced
from pix_media.app import create_app
from pix_media.models import assets, galleries, outbox
from pix_media.service import MediaLibrary
from pix_media.settings import MediaSettings
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import func, select, update


@pytest.fixture
async def media(migrated: set[str]) -> AsyncIterator[tuple[ServiceRuntime, Any]]:
    _, runtime = create_app(MediaSettings(caption_timeout_seconds=60))
    dead = runtime.broker.subscriber(OrderPlaced.topic + ".dlq", group_id="test-dlq-watch")

    @dead
    async def watch(body: bytes) -> None:
        return None

    async with TestKafkaBroker(runtime.broker) as broker:
        yield runtime, (broker, watch)
    await runtime.db.dispose()


def order_placed() -> OrderPlaced:
    return OrderPlaced(
        order_id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        gallery_id=uuid.uuid4(),
        reference="PIX-009999",
        placed_by=uuid.uuid4(),
        contact_name="Erika Muster",
        contact_email="erika@makler-example.de",
        property_address="Lindenallee 5, Berlin",
    )


async def test_an_order_opens_its_gallery_once_however_often_it_arrives(
    media: tuple[ServiceRuntime, Any],
) -> None:
    runtime, (broker, _) = media
    event = order_placed()
    for _ in range(3):
        await broker.publish(event.model_dump_json().encode(), OrderPlaced.topic)
    async with runtime.db.sessions() as session:
        rows = (
            await session.execute(select(galleries).where(galleries.c.order_id == event.order_id))
        ).all()
    assert len(rows) == 1
    assert rows[0].id == event.gallery_id
    assert rows[0].reference == "PIX-009999"


async def test_a_malformed_order_event_is_dead_lettered(
    media: tuple[ServiceRuntime, Any],
) -> None:
    _, (broker, watch) = media
    await broker.publish(b'{"order_id": "not a uuid"}', OrderPlaced.topic)
    watch.mock.assert_called_once()


async def test_stuck_photos_are_announced_again(media: tuple[ServiceRuntime, Any]) -> None:
    runtime, (broker, _) = media
    event = order_placed()
    await broker.publish(event.model_dump_json().encode(), OrderPlaced.topic)
    asset_id = uuid.uuid4()
    async with runtime.db.transaction() as session:
        await session.execute(
            assets.insert().values(
                id=asset_id,
                gallery_id=event.gallery_id,
                org_id=event.org_id,
                uploaded_by=event.placed_by,
                label="Küche.jpg",
                status="processed",
                declared_bytes=100,
                byte_size=100,
                sha256="0" * 64,
                content_type="image/jpeg",
                original_key=f"originals/{event.gallery_id}/{asset_id}",
                web_key=f"renditions/{event.gallery_id}/{asset_id}/web.jpg",
                thumb_key=f"renditions/{event.gallery_id}/{asset_id}/thumb.jpg",
                width=4000,
                height=3000,
                room_type="kitchen",
                sequence=1,
                pseudonym="Kitchen_01",
            )
        )
    library = MediaLibrary(runtime.db, runtime.storage, MediaSettings(caption_timeout_seconds=60))

    # Other tests' photos share the schema and may be stuck too: count this one's events.
    async def announced() -> list[bytes]:
        async with runtime.db.sessions() as session:
            found = await session.execute(
                select(outbox.c.payload).where(
                    outbox.c.topic == AssetUploaded.topic,
                    func.encode(outbox.c.payload, "escape").contains(str(asset_id)),
                )
            )
            return list(found.scalars())

    await library.requeue_stuck()
    assert await announced() == []  # fresh: not stuck yet

    async with runtime.db.transaction() as session:
        await session.execute(
            update(assets)
            .where(assets.c.id == asset_id)
            .values(updated_at=datetime.now(UTC) - timedelta(minutes=5))
        )
    assert await library.requeue_stuck() >= 1
    await library.requeue_stuck()  # touched: not again until the timeout passes
    payloads = await announced()
    assert len(payloads) == 1
    again = AssetUploaded.model_validate_json(payloads[0])
    assert again.pseudonym == "Kitchen_01"
    assert again.room_type == "kitchen"
