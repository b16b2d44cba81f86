"""Export versions built from caption and delivery events (TestKafkaBroker, real database
and storage): each delivery of a changed caption set makes a new version, redeliveries do not.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from pix_contracts import CaptionReady, CaptionText, GalleryDelivered, GalleryExported, PhotoInSet
from pix_export.app import create_app
from pix_export.models import exports, outbox
from pix_export.settings import ExportSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import func, select


@pytest.fixture
async def export(migrated: set[str]) -> AsyncIterator[tuple[ServiceRuntime, Any, Any]]:
    app, runtime = create_app(ExportSettings())
    async with TestKafkaBroker(runtime.broker) as broker:
        yield runtime, broker, app
    await runtime.db.dispose()


def caption_ready(
    gallery_id: uuid.UUID,
    org_id: uuid.UUID,
    name: str,
    version: int = 1,
    title: str = "Helle Küche",
) -> CaptionReady:
    return CaptionReady(
        asset_id=uuid.uuid5(gallery_id, name),
        gallery_id=gallery_id,
        org_id=org_id,
        asset_version=1,
        caption_version=version,
        pseudonym=name,
        caption=CaptionText(
            room_type="kitchen",
            title_de=title,
            title_en="Bright kitchen",
            description_de="Die helle Küche wirkt freundlich.",
            description_en="The bright kitchen feels friendly.",
            alt_text_de="Küche",
            alt_text_en="Kitchen",
            features=["bright"],
        ),
        model="offline-template-v1",
        provider="offline",
        prompt_version="offline-1",
        txt_key=f"captions/{gallery_id}/{name}.txt",
        json_key=f"captions/{gallery_id}/{name}.json",
        web_key=f"renditions/{gallery_id}/{name}/web.jpg",
    )


def delivered(
    gallery_id: uuid.UUID, org_id: uuid.UUID, captions: dict[str, int], delivery: int
) -> bytes:
    """Media's delivery of the photos named with the caption version it saw."""
    return (
        GalleryDelivered(
            gallery_id=gallery_id,
            org_id=org_id,
            order_id=uuid.uuid4(),
            delivery=delivery,
            set_version=delivery,
            photos=[
                PhotoInSet(
                    asset_id=uuid.uuid5(gallery_id, name),
                    version=1,
                    outcome="captioned",
                    caption_version=caption_version,
                )
                for name, caption_version in captions.items()
            ],
        )
        .model_dump_json()
        .encode()
    )


async def versions(runtime: ServiceRuntime, gallery_id: uuid.UUID) -> list[int]:
    async with runtime.db.sessions() as session:
        rows = await session.execute(
            select(exports.c.version)
            .where(exports.c.gallery_id == gallery_id)
            .order_by(exports.c.version)
        )
        return list(rows.scalars())


async def test_each_caption_change_makes_a_new_version_and_redeliveries_do_not(
    export: tuple[ServiceRuntime, Any, Any],
) -> None:
    runtime, broker, app = export
    gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
    for name in ("Kitchen_01", "Bathroom_01"):
        await runtime.storage.put_bytes(
            f"renditions/{gallery_id}/{name}/web.jpg", b"\xff\xd8\xff" + name.encode(), "image/jpeg"
        )
    first = caption_ready(gallery_id, org_id, "Kitchen_01")
    await broker.publish(first.model_dump_json().encode(), CaptionReady.topic)
    await broker.publish(first.model_dump_json().encode(), CaptionReady.topic)
    await broker.publish(
        caption_ready(gallery_id, org_id, "Bathroom_01").model_dump_json().encode(),
        CaptionReady.topic,
    )
    first_delivery = delivered(gallery_id, org_id, {"Kitchen_01": 1, "Bathroom_01": 1}, 1)
    await broker.publish(first_delivery, GalleryDelivered.topic)
    await broker.publish(first_delivery, GalleryDelivered.topic)
    assert await versions(runtime, gallery_id) == [1]

    # An edit (caption version 2), then a late copy of version 1 that must not win.
    await broker.publish(
        caption_ready(gallery_id, org_id, "Kitchen_01", 2, "Küche mit Ausblick")
        .model_dump_json()
        .encode(),
        CaptionReady.topic,
    )
    late = caption_ready(gallery_id, org_id, "Kitchen_01", 1, "Alt")
    await broker.publish(late.model_dump_json().encode(), CaptionReady.topic)
    await broker.publish(
        delivered(gallery_id, org_id, {"Kitchen_01": 2, "Bathroom_01": 1}, 2),
        GalleryDelivered.topic,
    )
    assert await versions(runtime, gallery_id) == [1, 2]

    async with runtime.db.sessions() as session:
        payloads = (
            (
                await session.execute(
                    select(outbox.c.payload).where(
                        outbox.c.topic == GalleryExported.topic,
                        func.encode(outbox.c.payload, "escape").contains(str(gallery_id)),
                    )
                )
            )
            .scalars()
            .all()
        )
    latest = max(
        (GalleryExported.model_validate_json(p) for p in payloads), key=lambda e: e.version
    )
    assert latest.asset_count == 2
    files = {f.name: f for f in latest.files}
    data = await runtime.storage.get_bytes(files["captions.json"].storage_key)
    document = json.loads(data)
    assert [i["name"] for i in document["images"]] == ["Bathroom_01", "Kitchen_01"]
    kitchen = document["images"][1]
    assert kitchen["title_de"] == "Küche mit Ausblick"
    assert files["captions.json"].sha256 == hashlib.sha256(data).hexdigest()

    # The API lists the versions to the gallery's organisation only.
    key = runtime.internal_key
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        owner = Identity(
            user_id=uuid.uuid4(), org_id=org_id, role="client", email="a@b.de", name="A"
        )
        listed = await c.get(
            f"/galleries/{gallery_id}/exports", headers={IDENTITY_HEADER: sign_identity(owner, key)}
        )
        assert [v["version"] for v in listed.json()] == [2, 1]
        stranger = owner.model_copy(update={"org_id": uuid.uuid4()})
        refused = await c.get(
            f"/galleries/{gallery_id}/exports",
            headers={IDENTITY_HEADER: sign_identity(stranger, key)},
        )
        assert refused.status_code == 404
