"""Floor plans and videos through media's HTTP API on the real database and local storage.

Real files made in the tests (a PDF written by hand, a PNG by Pillow, SVGs, an H.264 MP4 by
PyAV): upload (single PUT and multipart), checks by content, previews and poster frames,
metadata removed, never announced for captioning, part of the delivery, refused when the
order did not include them, and invisible to another organisation.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import av
import httpx
import pypdf
import pytest
from deliverable_files import (
    SVG_PLAN,
    SVG_WITH_ANIMATED_LINK,
    SVG_WITH_ENTITY,
    SVG_WITH_EXTERNAL_IMAGE,
    SVG_WITH_SCRIPT,
    SVG_WITH_SCRIPT_LINK,
    make_mp4,
    make_pdf,
    make_png,
)
from faststream.kafka import TestKafkaBroker
from photos import jpeg_with_gps, room_photo
from PIL import Image
from pix_contracts import AssetUploaded, CaptionReady, CaptionText, GalleryDelivered, OrderPlaced
from pix_contracts.events import OrderedService
from pix_media.app import create_app
from pix_media.models import assets, outbox
from pix_media.settings import MediaSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import func, select

MiB = 1024 * 1024


def padded(mp4: bytes, size: int) -> bytes:
    """The MP4 followed by a `free` box (ISO BMFF's padding, ignored by every reader) so it
    is large enough to go up in parts."""
    pad = size - len(mp4)
    return mp4 + pad.to_bytes(4, "big") + b"free" + bytes(pad - 8)


class Media:
    def __init__(self, runtime: ServiceRuntime, broker: Any, http: httpx.AsyncClient) -> None:
        self.runtime, self.broker, self.http = runtime, broker, http
        self.org = uuid.uuid4()

    def order(self, *services: str) -> OrderPlaced:
        return OrderPlaced(
            order_id=uuid.uuid4(),
            org_id=self.org,
            gallery_id=uuid.uuid4(),
            reference="PIX-7",
            placed_by=uuid.uuid4(),
            contact_name="Erika Muster",
            contact_email="erika@makler-example.de",
            property_address="Lindenallee 5, 10115 Berlin",
            services=[OrderedService(key=key, price_cents=100) for key in services],
        )

    async def open(self, *services: str) -> uuid.UUID:
        order = self.order(*services)
        await self.broker.publish(order.model_dump_json().encode(), order.topic)
        return order.gallery_id

    def headers(self, org: uuid.UUID | None = None, role: str = "agent") -> dict[str, str]:
        who = Identity(
            user_id=uuid.uuid4(),
            org_id=org or self.org,
            role=role,  # type: ignore[arg-type]
            email="a@b.de",
            name="A",
        )
        return {IDENTITY_HEADER: sign_identity(who, self.runtime.internal_key)}

    async def start(self, gallery: uuid.UUID, name: str, size: int, kind: str) -> httpx.Response:
        return await self.http.post(
            f"/galleries/{gallery}/uploads",
            headers=self.headers(),
            json={"file_name": name, "byte_size": size, "kind": kind},
        )

    async def put(self, url: str, data: bytes) -> httpx.Response:
        return await self.http.put(url.replace("http://testserver/api/media", ""), content=data)

    async def upload(
        self, gallery: uuid.UUID, name: str, data: bytes, kind: str
    ) -> tuple[str, httpx.Response]:
        """Start, send (one PUT or every part) and complete; the completion's answer."""
        started = await self.start(gallery, name, len(data), kind)
        assert started.status_code == 201, started.text
        ticket = started.json()
        if ticket["multipart"] is None:
            assert (await self.put(ticket["upload_url"], data)).status_code == 200
        else:
            size = ticket["multipart"]["part_size"]
            for part in ticket["multipart"]["missing"]:
                n = part["part_number"]
                chunk = data[(n - 1) * size : n * size]
                assert (await self.put(part["url"], chunk)).status_code == 200
        completed = await self.http.post(
            f"/assets/{ticket['asset_id']}/complete", headers=self.headers()
        )
        return str(ticket["asset_id"]), completed

    async def asset(self, asset_id: str, org: uuid.UUID | None = None) -> httpx.Response:
        return await self.http.get(f"/assets/{asset_id}", headers=self.headers(org))

    async def fetch(self, url: str) -> bytes:
        response = await self.http.get(url.replace("http://testserver/api/media", ""))
        assert response.status_code == 200, response.text
        return response.content

    async def announced(self, topic: str, gallery: uuid.UUID) -> list[bytes]:
        async with self.runtime.db.sessions() as session:
            return list(
                (
                    await session.execute(
                        select(outbox.c.payload)
                        .where(
                            outbox.c.topic == topic,
                            func.encode(outbox.c.payload, "escape").contains(str(gallery)),
                        )
                        .order_by(outbox.c.id)
                    )
                ).scalars()
            )


@pytest.fixture
async def media(migrated: set[str]) -> AsyncIterator[Media]:
    settings = MediaSettings(
        multipart_threshold_bytes=6 * MiB, part_bytes=5 * MiB, delivery_quiet_seconds=60
    )
    app, runtime = create_app(settings)
    async with TestKafkaBroker(runtime.broker) as broker:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Media(runtime, broker, http)
    await runtime.db.dispose()


async def test_floor_plans_are_checked_cleaned_previewed_and_never_captioned(
    media: Media,
) -> None:
    gallery = await media.open("photos", "floorplan")
    pdf_id, done = await media.upload(gallery, "Grundriss EG.pdf", make_pdf(pages=2), "floor_plan")
    assert done.status_code == 202, done.text
    png_id, _ = await media.upload(gallery, "plan.png", make_png(), "floor_plan")
    svg_id, _ = await media.upload(gallery, "plan.svg", SVG_PLAN, "floor_plan")
    assert await media.runtime.jobs.run_due() == 3

    pdf = (await media.asset(pdf_id)).json()
    assert (pdf["status"], pdf["kind"], pdf["pseudonym"]) == ("ready", "floor_plan", "FloorPlan_01")
    assert (pdf["content_type"], pdf["page_count"]) == ("application/pdf", 2)
    # The delivered PDF: both pages, without the author's name.
    delivered = pypdf.PdfReader(io.BytesIO(await media.fetch(pdf["file_url"])))
    assert len(delivered.pages) == 2
    assert not delivered.metadata or "/Author" not in delivered.metadata
    # Its first page rendered as the preview.
    preview = Image.open(io.BytesIO(await media.fetch(pdf["thumb_url"])))
    assert preview.format == "JPEG"
    assert preview.size == (400, 267)

    png = (await media.asset(png_id)).json()
    assert (png["status"], png["pseudonym"], png["width"]) == ("ready", "FloorPlan_02", 320)
    cleaned = Image.open(io.BytesIO(await media.fetch(png["file_url"])))
    assert cleaned.format == "PNG"
    assert "Author" not in cleaned.info
    svg = (await media.asset(svg_id)).json()
    assert (svg["status"], svg["content_type"]) == ("ready", "image/svg+xml")
    assert await media.fetch(svg["file_url"]) == SVG_PLAN
    assert Image.open(io.BytesIO(await media.fetch(svg["web_url"]))).format == "JPEG"

    # Nothing of them went to captioning.
    assert await media.announced(AssetUploaded.topic, gallery) == []


async def test_bad_floor_plans_are_refused_with_clear_errors(media: Media) -> None:
    gallery = await media.open("floorplan")
    # Refused by the first bytes when the upload completes: not a plan's type at all.
    _, done = await media.upload(gallery, "plan.pdf", b"GIF89a not a plan", "floor_plan")
    assert done.status_code == 422
    assert done.json()["error"]["code"] == "unsupported_type"
    # Refused by the processing job: each with its reason on the asset.
    cases = {
        "script.svg": (SVG_WITH_SCRIPT, "unsafe_file", "<script>"),
        "tracker.svg": (SVG_WITH_EXTERNAL_IMAGE, "unsafe_file", "another document"),
        "xxe.svg": (SVG_WITH_ENTITY, "unsafe_file", "DTD"),
        "animated.svg": (SVG_WITH_ANIMATED_LINK, "unsafe_file", "animates a link"),
        "link.svg": (SVG_WITH_SCRIPT_LINK, "unsafe_file", "script address"),
        "js.pdf": (make_pdf(javascript=True), "unsafe_file", "scripts"),
        "cut.pdf": (make_pdf()[:200], "corrupt_file", "could not be read"),
    }
    ids = {}
    for name, (data, _, _) in cases.items():
        ids[name], completed = await media.upload(gallery, name, data, "floor_plan")
        assert completed.status_code == 202, (name, completed.text)
    await media.runtime.jobs.run_due()
    for name, (_, code, words) in cases.items():
        asset = (await media.asset(ids[name])).json()
        assert (asset["status"], asset["error_code"]) == ("rejected", code), name
        assert words in asset["error_message"], name


async def test_a_kind_the_order_did_not_include_is_refused(media: Media) -> None:
    gallery = await media.open("photos")
    plan = await media.start(gallery, "plan.pdf", 1000, "floor_plan")
    assert plan.status_code == 422
    assert plan.json()["error"] == {
        "code": "service_not_ordered",
        "message": "floor plans were not ordered for this order, so none can be delivered",
        "field": "kind",
    }
    film = await media.start(gallery, "tour.mp4", 1000, "video")
    assert film.json()["error"]["code"] == "service_not_ordered"
    # Photos are always welcome.
    assert (await media.start(gallery, "Küche.jpg", 1000, "photo")).status_code == 201


async def test_a_video_goes_up_in_parts_gets_a_poster_and_loses_its_metadata(
    media: Media,
) -> None:
    gallery = await media.open("photos", "video")
    film = padded(make_mp4(frames=30), 11 * MiB)
    started = await media.start(gallery, "Rundgang.mp4", len(film), "video")
    assert started.json()["multipart"]["part_count"] == 3
    # That plan only shows the parts; deleting it aborts its multipart upload.
    dropped = await media.http.delete(
        f"/assets/{started.json()['asset_id']}", headers=media.headers()
    )
    assert dropped.status_code == 204
    video_id, done = await media.upload(gallery, "Rundgang.mp4", film, "video")
    assert done.status_code == 202, done.text
    assert await media.runtime.jobs.run_due() == 1
    video = (await media.asset(video_id)).json()
    assert (video["status"], video["kind"], video["pseudonym"]) == ("ready", "video", "Video_01")
    assert (video["width"], video["height"], video["duration_ms"]) == (64, 48, 3000)
    poster = Image.open(io.BytesIO(await media.fetch(video["thumb_url"])))
    assert (poster.format, poster.size) == ("JPEG", (64, 48))
    delivered = await media.fetch(video["file_url"])
    assert len(delivered) < 100_000  # the padding is not part of the film
    assert b"+52.5200" not in delivered
    with av.open(io.BytesIO(delivered)) as container:
        assert "location" not in container.metadata
        assert "creation_time" not in container.metadata
        assert sum(1 for _ in container.decode(video=0)) == 30
    assert await media.announced(AssetUploaded.topic, gallery) == []

    # Another organisation knows nothing of it, nor may it upload into the gallery.
    stranger = uuid.uuid4()
    assert (await media.asset(video_id, org=stranger)).status_code == 404
    foreign = await media.http.post(
        f"/galleries/{gallery}/uploads",
        headers=media.headers(stranger),
        json={"file_name": "tour.mp4", "byte_size": 1000, "kind": "video"},
    )
    assert foreign.status_code == 404
    completed = await media.http.post(
        f"/assets/{video_id}/complete", headers=media.headers(stranger)
    )
    assert completed.status_code == 404


async def test_bad_videos_are_refused(media: Media) -> None:
    gallery = await media.open("video")
    _, done = await media.upload(gallery, "clip.mp4", jpeg_with_gps(), "video")
    assert done.status_code == 422
    assert done.json()["error"]["code"] == "unsupported_type"
    cut, done = await media.upload(gallery, "cut.mp4", make_mp4()[:700], "video")
    assert done.status_code == 202
    await media.runtime.jobs.run_due()
    asset = (await media.asset(cut)).json()
    assert (asset["status"], asset["error_code"]) == ("rejected", "corrupt_file")


async def test_floor_plans_and_videos_are_delivered_with_the_photos(media: Media) -> None:
    gallery = await media.open("photos", "floorplan", "video")
    photo, _ = await media.upload(
        gallery, "Küche.jpg", jpeg_with_gps(room_photo(640, 480)), "photo"
    )
    plan, _ = await media.upload(gallery, "plan.pdf", make_pdf(), "floor_plan")
    film, _ = await media.upload(gallery, "tour.mp4", make_mp4(), "video")
    await media.runtime.jobs.run_due()
    [uploaded] = await media.announced(AssetUploaded.topic, gallery)
    assert AssetUploaded.model_validate_json(uploaded).asset_id == uuid.UUID(photo)
    caption = CaptionReady(
        asset_id=uuid.UUID(photo),
        gallery_id=gallery,
        org_id=media.org,
        asset_version=1,
        caption_version=1,
        pseudonym="Kitchen_01",
        caption=CaptionText(
            room_type="kitchen",
            title_de="Küche",
            title_en="Kitchen",
            description_de="Hell.",
            description_en="Bright.",
            alt_text_de="Küche",
            alt_text_en="Kitchen",
            features=[],
        ),
        model="offline-template-v1",
        provider="offline",
        prompt_version="offline-1",
        txt_key="t",
        json_key="j",
        web_key="w",
    )
    await media.broker.publish(caption.model_dump_json().encode(), caption.topic)
    media.runtime.clock.advance(timedelta(seconds=61))
    await media.runtime.jobs.run_due()
    [payload] = await media.announced(GalleryDelivered.topic, gallery)
    delivered = GalleryDelivered.model_validate_json(payload)
    assert [p.asset_id for p in delivered.photos] == [uuid.UUID(photo)]
    by_kind = {d.kind: d for d in delivered.deliverables}
    assert by_kind["floor_plan"].asset_id == uuid.UUID(plan)
    assert by_kind["floor_plan"].name == "FloorPlan_01.pdf"
    assert by_kind["floor_plan"].media_type == "application/pdf"
    assert by_kind["video"].name == "Video_01.mp4"
    assert by_kind["video"].duration_seconds == pytest.approx(2.0)
    async with media.runtime.db.sessions() as session:
        stored = await session.scalar(select(assets.c.file_key).where(assets.c.id == film))
    assert stored == by_kind["video"].file_key
    assert await media.runtime.storage.exists(by_kind["video"].file_key)
