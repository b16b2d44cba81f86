"""An upload whose `complete` failed during a database outage completes when the client retries
it: 503 with Retry-After while PostgreSQL is away, then 202 — also when the interrupted
`complete` had already assembled the multipart upload (the parts are gone, the object is
there). PostgreSQL here is the test's own, stopped and started."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from photos import jpeg_with_gps, room_photo
from pix_media.app import create_app
from pix_media.models import assets, galleries
from pix_media.settings import MediaSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.migrations import upgrade_to_head
from pix_runtime.outages import OUTAGE_RETRY_AFTER_SECONDS
from postgres_outage import StoppablePostgres, own_postgres
from sqlalchemy import select

__all__ = ["own_postgres"]  # the fixture

MiB = 1024 * 1024


@pytest.fixture
async def media(
    own_postgres: StoppablePostgres, platform_env: dict[str, str]
) -> AsyncIterator[tuple[ServiceRuntime, httpx.AsyncClient, dict[str, str], uuid.UUID]]:
    await upgrade_to_head(own_postgres.url, "pix_media", "media")
    settings = MediaSettings(
        database_url=own_postgres.url, multipart_threshold_bytes=6 * MiB, part_bytes=5 * MiB
    )
    app, runtime = create_app(settings)
    org, gallery = uuid.uuid4(), uuid.uuid4()
    async with runtime.db.transaction() as session:
        await session.execute(
            galleries.insert().values(
                id=gallery, org_id=org, order_id=uuid.uuid4(), reference="PIX-7", title="Hof 7"
            )
        )
    who = Identity(user_id=uuid.uuid4(), org_id=org, role="client", email="a@b.de", name="A")
    headers = {IDENTITY_HEADER: sign_identity(who, runtime.internal_key, ttl=600)}
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield runtime, http, headers, gallery
    await own_postgres.start()
    await runtime.db.dispose()


async def test_complete_cut_short_by_an_outage_succeeds_when_retried(
    own_postgres: StoppablePostgres,
    media: tuple[ServiceRuntime, httpx.AsyncClient, dict[str, str], uuid.UUID],
) -> None:
    runtime, http, headers, gallery = media
    data = jpeg_with_gps(room_photo(800, 600)) + bytes(11 * MiB)  # three parts
    ticket: dict[str, Any] = (
        await http.post(
            f"/galleries/{gallery}/uploads",
            headers=headers,
            json={"file_name": "Bad.jpg", "byte_size": len(data)},
        )
    ).json()
    asset_id = ticket["asset_id"]
    plan = ticket["multipart"]
    size = plan["part_size"]
    for part in plan["missing"]:
        n = part["part_number"]
        url = part["url"].replace("http://testserver/api/media", "")
        assert (await http.put(url, content=data[(n - 1) * size : n * size])).status_code == 200

    await own_postgres.stop()
    try:
        during = await http.post(f"/assets/{asset_id}/complete", headers=headers)
        assert during.status_code == 503, during.text
        assert during.headers["retry-after"] == str(OUTAGE_RETRY_AFTER_SECONDS)
    finally:
        await own_postgres.start()

    # What a `complete` cut short between assembling the parts and its commit leaves behind.
    async with runtime.db.transaction() as session:
        row = (
            await session.execute(
                select(assets.c.original_key, assets.c.upload_id, assets.c.status).where(
                    assets.c.id == uuid.UUID(asset_id)
                )
            )
        ).one()
    assert row.status == "pending"
    parts = await runtime.storage.list_parts(row.original_key, row.upload_id)
    await runtime.storage.complete_multipart(row.original_key, row.upload_id, parts)

    retried = await http.post(f"/assets/{asset_id}/complete", headers=headers)
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "queued"
    again = await http.post(f"/assets/{asset_id}/complete", headers=headers)
    assert again.status_code == 202
    assert again.json()["status"] == "queued"
