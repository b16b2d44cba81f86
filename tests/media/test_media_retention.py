"""Retention of originals: deleted 90 days after the gallery's latest delivery by a periodic
job (the clock moves); the renditions stay, photos of undelivered galleries and photos still
in flight keep theirs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from pix_media.app import create_app
from pix_media.models import assets, galleries, jobs
from pix_media.retention import ORIGINALS_RETENTION
from pix_media.settings import MediaSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import select, update


@pytest.fixture
async def media(migrated: set[str]) -> AsyncIterator[tuple[ServiceRuntime, httpx.AsyncClient]]:
    app, runtime = create_app(MediaSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://media") as client:
        yield runtime, client
    await runtime.db.dispose()


async def gallery(
    runtime: ServiceRuntime, *, delivered: bool, org_id: uuid.UUID | None = None
) -> uuid.UUID:
    gallery_id = uuid.uuid4()
    async with runtime.db.transaction() as session:
        await session.execute(
            galleries.insert().values(
                id=gallery_id,
                org_id=org_id or uuid.uuid4(),
                order_id=uuid.uuid4(),
                reference="PIX-RET",
                title="Lindenallee 5",
                delivered_at=runtime.clock.now() if delivered else None,
            )
        )
    return gallery_id


async def photo(runtime: ServiceRuntime, gallery_id: uuid.UUID, status: str) -> tuple[str, str]:
    asset_id = uuid.uuid4()
    original, web = f"originals/{gallery_id}/{asset_id}", f"web/{gallery_id}/{asset_id}.jpg"
    for key in (original, web):
        await runtime.storage.put_bytes(key, b"\xff\xd8 photo", "image/jpeg")
    async with runtime.db.transaction() as session:
        await session.execute(
            assets.insert().values(
                id=asset_id,
                gallery_id=gallery_id,
                org_id=uuid.uuid4(),
                uploaded_by=uuid.uuid4(),
                label="IMG_0001.jpg",
                status=status,
                declared_bytes=10,
                original_key=original,
                web_key=web,
            )
        )
    return original, web


async def test_originals_go_90_days_after_delivery_and_renditions_stay(
    media: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = media
    # An organisation that keeps originals 10 days only.
    owner = Identity(
        user_id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        role="owner",
        email="owner@makler.example.com",
        name="Olga Owner",
        email_verified=True,
    )
    signed = {IDENTITY_HEADER: sign_identity(owner, runtime.internal_key)}
    own = await client.put("/privacy/retention", json={"original_days": 10}, headers=signed)
    assert own.json() == {"original_days": 10, "own": {"original_days": 10}}
    brisk = await gallery(runtime, delivered=True, org_id=owner.org_id)
    brisk_original, _ = await photo(runtime, brisk, "captioned")
    delivered = await gallery(runtime, delivered=True)
    waiting = await gallery(runtime, delivered=False)
    done_original, done_web = await photo(runtime, delivered, "captioned")
    busy_original, _ = await photo(runtime, delivered, "queued")
    undelivered_original, _ = await photo(runtime, waiting, "captioned")
    await runtime.jobs._plant_periodic()
    async with runtime.db.transaction() as session:
        await session.execute(
            update(jobs)
            .where(jobs.c.kind == ORIGINALS_RETENTION, jobs.c.status == "queued")
            .values(run_at=runtime.clock.now())
        )

    runtime.clock.advance(timedelta(days=11))
    await runtime.jobs.run_due()
    assert not await runtime.storage.exists(brisk_original)
    assert await runtime.storage.exists(done_original)

    runtime.clock.advance(timedelta(days=78))
    await runtime.jobs.run_due()
    assert await runtime.storage.exists(done_original)

    runtime.clock.advance(timedelta(days=2))
    await runtime.jobs.run_due()
    assert not await runtime.storage.exists(done_original)
    assert await runtime.storage.exists(done_web)
    assert await runtime.storage.exists(busy_original)
    assert await runtime.storage.exists(undelivered_original)
    async with runtime.db.sessions() as session:
        marked = await session.scalar(
            select(assets.c.original_deleted_at).where(assets.c.original_key == done_original)
        )
    assert marked is not None
