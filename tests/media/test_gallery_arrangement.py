"""The client's gallery in media: order, title picture (announced for export), downloads by use
with their real pixel sizes and byte limits, and a streamed ZIP of a selection. Real photos
through the real pipeline, on the real database, files fetched through media's signed route."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import pytest
from client_gallery import Gallery, opened_gallery
from photos import room_photo
from PIL import Image
from pix_contracts.billing import OrderPaymentRequired
from pix_media.arrangement import PORTAL_MAX_BYTES, render_portal
from pix_media.models import outbox
from sqlalchemy import select


@pytest.fixture
async def gallery(migrated: set[str]) -> AsyncIterator[Gallery]:
    async with opened_gallery() as opened:
        yield opened


async def arranged_events(gallery: Gallery) -> list[dict[str, Any]]:
    async with gallery.runtime.db.sessions() as session:
        rows = await session.execute(
            select(outbox.c.payload)
            .where(outbox.c.topic == "media.gallery.arranged.v1")
            .where(outbox.c.key == str(gallery.id).encode())
            .order_by(outbox.c.id)
        )
        return [json.loads(r) for r in rows.scalars()]


async def test_order_and_title_are_kept_and_announced(gallery: Gallery) -> None:
    a = await gallery.upload("Küche.jpg", room_photo(900, 600, colour=(200, 170, 130)))
    b = await gallery.upload("Bad.jpg", room_photo(900, 600, colour=(120, 170, 200)))
    c = await gallery.upload("Garten.jpg", room_photo(900, 600, colour=(90, 160, 80)))
    first = (await gallery.get("/arrangement")).json()
    assert first["asset_ids"] == [a, b, c]
    assert first["title_asset_id"] is None

    moved = await gallery.put("/arrangement/order", {"asset_ids": [c, a]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["asset_ids"] == [c, a, b]
    titled = await gallery.put("/arrangement/title", {"asset_id": b})
    assert titled.json()["title_asset_id"] == b
    again = (await gallery.get("/arrangement")).json()
    assert again["asset_ids"] == [c, a, b]
    assert again["title_asset_id"] == b
    assert again["revision"] == 2

    # A photo added later follows the arranged ones.
    d = await gallery.upload("Flur.jpg", room_photo(900, 600, colour=(180, 180, 180)))
    assert (await gallery.get("/arrangement")).json()["asset_ids"] == [c, a, b, d]

    events = await arranged_events(gallery)
    assert [e["revision"] for e in events] == [1, 2]
    assert events[-1]["title_asset_id"] == b
    assert events[-1]["asset_ids"] == [c, a, b]

    # Refusals: a photo twice, a photo of nowhere, another organisation's gallery.
    twice = await gallery.put("/arrangement/order", {"asset_ids": [a, a]})
    assert twice.status_code == 422
    assert twice.json()["error"]["code"] == "duplicate_photo"
    stranger = await gallery.put("/arrangement/title", {"asset_id": str(uuid.uuid4())})
    assert stranger.status_code == 422
    other = uuid.uuid4()
    assert (await gallery.get("/arrangement", org=other)).status_code == 404
    assert (
        await gallery.put("/arrangement/order", {"asset_ids": [a]}, org=other)
    ).status_code == 404
    assert (await gallery.get(f"/photos/{a}/download?size=web", org=other)).status_code == 404

    # Back to the default title picture.
    cleared = await gallery.put("/arrangement/title", {"asset_id": None})
    assert cleared.json()["title_asset_id"] is None


async def test_each_size_has_its_real_dimensions_and_byte_limit(gallery: Gallery) -> None:
    big = room_photo(4000, 3000, colour=(210, 180, 140))
    asset = await gallery.upload("Wohnzimmer.jpg", big, quality=95)

    web, web_bytes = await gallery.download(asset, "web")
    with Image.open(io.BytesIO(web_bytes)) as image:
        assert image.format == "JPEG"
        assert image.size == (2000, 1500)
    assert web["file_name"].endswith("-web.jpg")

    portal, portal_bytes = await gallery.download(asset, "portal")
    with Image.open(io.BytesIO(portal_bytes)) as image:
        assert image.format == "JPEG"
        assert image.size == (1920, 1440)
        assert not image.getexif()  # nothing of the camera's metadata
    assert len(portal_bytes) <= PORTAL_MAX_BYTES
    assert portal["file_name"].endswith("-portal.jpg")
    # Made once: the second request hands out the kept copy.
    _, again = await gallery.download(asset, "portal")
    assert again == portal_bytes

    printed, print_bytes = await gallery.download(asset, "print")
    with Image.open(io.BytesIO(print_bytes)) as image:
        assert image.size == (4000, 3000)
    assert printed["file_name"].endswith("-print.jpg")

    assert (await gallery.get(f"/photos/{asset}/download?size=huge")).status_code == 422

    # Deleting the photo takes its portal copy along.
    portal_key = f"renditions/{gallery.id}/{asset}/portal-v1.jpg"
    assert await gallery.runtime.storage.exists(portal_key)
    deleted = await gallery.http.delete(f"/assets/{asset}", headers=gallery.headers())
    assert deleted.status_code == 204
    assert not await gallery.runtime.storage.exists(portal_key)


def test_portal_rendition_of_a_heavy_photo_stays_under_five_megabytes() -> None:
    """Noise barely compresses: at the first quality a 1920 px frame of it is over 5 MB, so the
    quality steps down until it fits."""
    noise = Image.effect_noise((2000, 1500), 120).convert("RGB")
    noisy = Image.merge("RGB", [noise.getchannel(0)] * 3).point(lambda v: (v * 7) % 256)
    buffer = io.BytesIO()
    noisy.save(buffer, format="JPEG", quality=100, subsampling=0)
    rendition = render_portal(buffer.getvalue())
    assert max(rendition.width, rendition.height) <= 1920
    assert len(rendition.data) <= PORTAL_MAX_BYTES
    with Image.open(io.BytesIO(rendition.data)) as image:
        assert image.size == (rendition.width, rendition.height)


async def test_a_selection_downloads_as_one_streamed_zip(gallery: Gallery) -> None:
    a = await gallery.upload("Küche.jpg", room_photo(2600, 1700, colour=(200, 170, 130)))
    b = await gallery.upload("Bad.jpg", room_photo(1200, 800, colour=(120, 170, 200)))
    c = await gallery.upload("Garten.jpg", room_photo(1200, 800, colour=(90, 160, 80)))
    await gallery.put("/arrangement/order", {"asset_ids": [c, a, b]})

    answer = await gallery.get(f"/download.zip?size=portal&asset_id={a}&asset_id={c}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        names = archive.namelist()
        assert len(names) == 2
        assert all(n.endswith("-portal.jpg") for n in names)
        sizes = [Image.open(io.BytesIO(archive.read(n))).size for n in names]
    # In the client's order: the garden (c) first, then the kitchen (a) at portal size.
    assert sizes[0] == (1200, 800)
    assert max(sizes[1]) == 1920

    everything = await gallery.get("/download.zip?size=web")
    with zipfile.ZipFile(io.BytesIO(everything.content)) as archive:
        assert len(archive.namelist()) == 3
    stranger = await gallery.get(f"/download.zip?size=web&asset_id={uuid.uuid4()}")
    assert stranger.status_code == 404


async def test_downloads_wait_for_the_orders_payment(gallery: Gallery) -> None:
    asset = await gallery.upload("Küche.jpg", room_photo(900, 600))
    event = OrderPaymentRequired(
        order_id=gallery.order, org_id=gallery.org, gallery_id=gallery.id, gross_cents=19900
    )
    await gallery.broker.publish(event.model_dump_json().encode(), event.topic)
    refused = await gallery.get(f"/photos/{asset}/download?size=portal")
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "payment_required"
    # Platform staff still get them.
    staff = await gallery.get(f"/photos/{asset}/download?size=web", role="admin")
    assert staff.status_code == 200
