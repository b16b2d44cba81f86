"""Watermarked previews while an order waits for payment: billing's events through media's
handlers (FastStream's TestKafkaBroker), real photos processed by the real pipeline, the links
the API hands out fetched through media's own signed storage route, on the real database."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from photos import jpeg_with_gps, room_photo
from PIL import Image, ImageChops, ImageStat
from pix_contracts.billing import OrderPaid, OrderPaymentRequired
from pix_contracts.envelope import Event
from pix_media.app import create_app
from pix_media.models import galleries, jobs, order_payments
from pix_media.previews import WATERMARK
from pix_media.settings import MediaSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import func, select


class Gallery:
    """One order's gallery in media, seen by a member of its organisation."""

    def __init__(self, runtime: ServiceRuntime, http: httpx.AsyncClient, broker: Any) -> None:
        self.runtime, self.http, self.broker = runtime, http, broker
        self.org, self.id, self.order = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def headers(self, *, org: uuid.UUID | None = None, role: str = "agent") -> dict[str, str]:
        who = Identity(
            user_id=uuid.uuid4(), org_id=org or self.org, role=role, email="a@b.de", name="A"
        )
        return {IDENTITY_HEADER: sign_identity(who, self.runtime.internal_key)}

    async def upload(self, name: str, colour: tuple[int, int, int]) -> str:
        data = jpeg_with_gps(room_photo(1600, 1100, colour=colour))
        started = await self.http.post(
            f"/galleries/{self.id}/uploads",
            headers=self.headers(),
            json={"file_name": name, "byte_size": len(data)},
        )
        assert started.status_code == 201, started.text
        ticket = started.json()
        put = await self.http.put(self.local(ticket["upload_url"]), content=data)
        assert put.status_code == 200
        done = await self.http.post(
            f"/assets/{ticket['asset_id']}/complete", headers=self.headers()
        )
        assert done.status_code == 202, done.text
        return str(ticket["asset_id"])

    async def run_jobs(self) -> int:
        """Every due job (processing, watermarking), until none is left, as the queue would."""
        total = 0
        while ran := await self.runtime.jobs.run_due():
            total += ran
        return total

    async def view(self, **who: Any) -> dict[str, Any]:
        response = await self.http.get(f"/galleries/{self.id}", headers=self.headers(**who))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    @staticmethod
    def local(url: str) -> str:
        # Signed URLs point at the gateway's /api/media prefix; this app is media itself.
        return url.replace("http://testserver/api/media", "")

    async def fetch(self, url: str) -> Image.Image:
        response = await self.http.get(self.local(url))
        assert response.status_code == 200
        return Image.open(io.BytesIO(response.content)).convert("RGB")

    async def publish(self, event: Event) -> None:
        await self.broker.publish(event.model_dump_json().encode(), event.topic)

    def payment_required(self) -> OrderPaymentRequired:
        return OrderPaymentRequired(
            order_id=self.order, org_id=self.org, gallery_id=self.id, gross_cents=19900
        )

    def paid(self, via: str = "stripe") -> OrderPaid:
        return OrderPaid(
            order_id=self.order,
            org_id=self.org,
            gallery_id=self.id,
            invoice_number="PIX-2026-000001",
            via=via,  # type: ignore[arg-type]
            paid_at=datetime.now(UTC),
        )


@pytest.fixture
async def gallery(migrated: set[str]) -> AsyncIterator[Gallery]:
    app, runtime = create_app(MediaSettings(face_scan="off"))
    async with (
        TestKafkaBroker(runtime.broker) as broker,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http,
    ):
        gallery = Gallery(runtime, http, broker)
        async with runtime.db.transaction() as session:
            await session.execute(
                galleries.insert().values(
                    id=gallery.id,
                    org_id=gallery.org,
                    order_id=gallery.order,
                    reference="PIX-2",
                    title="Lindenallee 5",
                )
            )
        yield gallery
    await runtime.db.dispose()


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0..255."""
    assert a.size == b.size
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


async def watermark_jobs(gallery: Gallery) -> int:
    async with gallery.runtime.db.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(jobs)
            .where(jobs.c.kind == WATERMARK)
            .where(jobs.c.payload["gallery_id"].as_string() == str(gallery.id))
        )
    return int(count or 0)


async def test_unpaid_gallery_shows_watermarked_previews_and_payment_restores_them(
    gallery: Gallery,
) -> None:
    asset = await gallery.upload("Küche.jpg", (200, 170, 130))
    assert await gallery.run_jobs()
    clean = await gallery.view()
    assert clean["watermarked"] is False
    [photo] = clean["assets"]
    clean_web = await gallery.fetch(photo["web_url"])
    clean_thumb = await gallery.fetch(photo["thumb_url"])
    assert await watermark_jobs(gallery) == 0  # nothing to pay: no copies made

    # Payment required, delivered three times (a replay): one record, one job, one copy.
    for _ in range(3):
        await gallery.publish(gallery.payment_required())
    locked = await gallery.view()
    assert locked["watermarked"] is True
    assert [a["web_url"] for a in locked["assets"]] == [None]  # never the clean one meanwhile
    assert await gallery.run_jobs() == 1
    assert await watermark_jobs(gallery) == 1
    locked = await gallery.view()
    [marked] = locked["assets"]
    assert marked["id"] == asset
    assert "preview-web" in marked["web_url"]
    assert "preview-thumb" in marked["thumb_url"]
    marked_web = await gallery.fetch(marked["web_url"])
    marked_thumb = await gallery.fetch(marked["thumb_url"])
    # Visibly marked: the text rows change a good share of the picture, not JPEG noise.
    assert difference(marked_web, clean_web) > 2
    assert difference(marked_thumb, clean_thumb) > 2
    changed = (
        ImageChops.difference(marked_web, clean_web)
        .convert("L")
        .point(lambda v: 255 if v > 40 else 0)
    )
    share = ImageStat.Stat(changed).mean[0] / 255
    assert share > 0.03, share

    # Staff see the clean renditions.
    staff = await gallery.view(role="admin")
    assert staff["watermarked"] is False
    assert difference(await gallery.fetch(staff["assets"][0]["web_url"]), clean_web) < 1

    # The status feed a page polls hands out the same watermarked links.
    status = await gallery.http.get(f"/galleries/{gallery.id}/status", headers=gallery.headers())
    assert status.json()["watermarked"] is True
    assert "preview-web" in status.json()["assets"][0]["web_url"]
    cursor = status.json()["cursor"]

    # Paid (replayed too): clean again at once, without any image work.
    for _ in range(2):
        await gallery.publish(gallery.paid())
    assert await gallery.run_jobs() == 0
    paid = await gallery.view()
    assert paid["watermarked"] is False
    assert difference(await gallery.fetch(paid["assets"][0]["web_url"]), clean_web) < 1
    assert difference(await gallery.fetch(paid["assets"][0]["thumb_url"]), clean_thumb) < 1
    # … and a page polling since its last cursor learns of it.
    since = await gallery.http.get(
        f"/galleries/{gallery.id}/status",
        params={"since": cursor},
        headers=gallery.headers(),
    )
    assert since.json()["watermarked"] is False
    assert [a["id"] for a in since.json()["assets"]] == [asset]
    assert "preview" not in since.json()["assets"][0]["web_url"]
    async with gallery.runtime.db.sessions() as session:
        rows = (
            await session.execute(
                select(order_payments).where(order_payments.c.gallery_id == gallery.id)
            )
        ).all()
    assert len(rows) == 1
    assert rows[0].paid_via == "stripe"


async def test_a_photo_processed_while_unpaid_gets_its_copy(gallery: Gallery) -> None:
    await gallery.publish(gallery.payment_required())
    await gallery.run_jobs()  # the gallery's job: nothing to copy yet
    await gallery.upload("Bad.jpg", (90, 120, 160))
    assert await gallery.run_jobs() == 2  # processing, then the photo's copy
    [photo] = (await gallery.view())["assets"]
    assert "preview-web" in photo["web_url"]
    marked = await gallery.fetch(photo["web_url"])
    staff = (await gallery.view(role="admin"))["assets"][0]
    assert difference(marked, await gallery.fetch(staff["web_url"])) > 2

    # Waived by an admin: clean.
    await gallery.publish(gallery.paid(via="waived"))
    [photo] = (await gallery.view())["assets"]
    assert "preview" not in photo["web_url"]


async def test_a_payment_that_overtook_its_requirement_leaves_the_gallery_clean(
    gallery: Gallery,
) -> None:
    await gallery.upload("Wohnzimmer.jpg", (180, 180, 170))
    await gallery.run_jobs()
    await gallery.publish(gallery.paid())
    await gallery.publish(gallery.payment_required())
    assert await gallery.run_jobs() == 0
    view = await gallery.view()
    assert view["watermarked"] is False
    assert "preview" not in view["assets"][0]["web_url"]


async def test_another_organisation_sees_nothing(gallery: Gallery) -> None:
    asset = await gallery.upload("Küche.jpg", (200, 170, 130))
    await gallery.run_jobs()
    await gallery.publish(gallery.payment_required())
    await gallery.run_jobs()
    stranger = gallery.headers(org=uuid.uuid4())
    for path in (f"/galleries/{gallery.id}", f"/galleries/{gallery.id}/status", f"/assets/{asset}"):
        response = await gallery.http.get(path, headers=stranger)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    listed = await gallery.http.get("/galleries", headers=stranger)
    assert str(gallery.id) not in {g["id"] for g in listed.json()}
    # A member's link to the watermarked copy cannot be turned into one to the clean rendition.
    [photo] = (await gallery.view())["assets"]
    clean_key = gallery.local(photo["web_url"]).replace("preview-web.jpg", "web.jpg")
    assert (await gallery.http.get(clean_key)).status_code == 403
