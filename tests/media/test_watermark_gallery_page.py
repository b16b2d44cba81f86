"""The gallery page of an order that waits for payment, through the gateway: a notice says the
previews are watermarked (and asks again every 5 s), and the photo grid links the watermarked
thumbnails; once paid, the notice goes, tells the grid to reload, and the clean ones are
linked. Real auth, media, captioning and export services (uvicorn on loopback ports), the
session's database; billing's events are handed to media's own handlers (media's tests cover
the broker path and the pictures themselves)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pix_auth.app import create_app as auth_app
from pix_auth.models import users
from pix_captioning.app import create_app as captioning_app
from pix_contracts.billing import OrderPaid, OrderPaymentRequired
from pix_export.app import create_app as export_app
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_media.app import create_app as media_app
from pix_media.models import assets, galleries
from pix_media.previews import Previews
from pix_runtime.db import Database
from pix_runtime.settings import PlatformSettings
from sqlalchemy import func, update

sys.path.insert(0, str(Path(__file__).parents[1] / "gateway"))
from test_gateway_order_pages import PASSWORD, PUBLIC, Served

NOTICE_DE = "Vorschau mit Wasserzeichen – die Originale werden nach Zahlung freigeschaltet"
NOTICE_EN = "Watermarked preview – the originals are unlocked once paid"


@pytest.fixture
async def signed_in(
    migrated: set[str],
) -> AsyncIterator[tuple[httpx.AsyncClient, Previews, uuid.UUID]]:
    auth, _ = auth_app()
    media, _ = media_app()
    captioning, _ = captioning_app()
    export, _ = export_app()
    # A second media app in the test's own event loop takes billing's events (the served one's
    # database pool belongs to its server thread's loop).
    handling, handling_runtime = media_app()
    served = [Served(auth), Served(media), Served(captioning), Served(export)]
    email = f"agent-{uuid.uuid4().hex[:8]}@makler-example.de"
    async with httpx.AsyncClient(base_url=served[0].url) as client:
        registered = await client.post(
            "/register",
            json={"name": "Erika Muster", "email": email, "password": PASSWORD, "company": "M"},
        )
        assert registered.status_code == 201, registered.text
        db = Database(PlatformSettings().database_url, schema="auth", application_name="test")
        async with db.transaction() as session:
            org_id = await session.scalar(
                update(users)
                .where(func.lower(users.c.email) == email)
                .values(email_verified_at=func.now())
                .returning(users.c.org_id)
            )
        await db.dispose()
        login = await client.post("/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
    platform = PlatformSettings(
        auth_url=served[0].url,
        media_url=served[1].url,
        captioning_url=served[2].url,
        export_url=served[3].url,
        public_url=PUBLIC,
    )
    browser = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway_app(GatewaySettings(platform=platform))),
        base_url=PUBLIC,
        headers={"sec-fetch-site": "same-origin"},
    )
    browser.cookies.set("__Host-session", login.json()["token"], domain="gateway.test")
    assert org_id is not None
    async with browser:
        yield browser, handling.state.previews, org_id
    for s in served:
        s.stop()
    await handling_runtime.db.dispose()


async def test_an_unpaid_gallery_page_shows_watermarked_previews_until_paid(
    signed_in: tuple[httpx.AsyncClient, Previews, uuid.UUID],
) -> None:
    browser, previews, org_id = signed_in
    gallery_id, order_id, asset_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    base = f"renditions/{gallery_id}/{asset_id}"
    # The gallery and a processed photo whose watermarked copies exist (media's tests make them).
    media_db = Database(PlatformSettings().database_url, schema="media", application_name="test")
    async with media_db.transaction() as session:
        await session.execute(
            galleries.insert().values(
                id=gallery_id,
                org_id=org_id,
                order_id=order_id,
                reference="PIX-000015",
                title="Lindenallee 5",
            )
        )
        await session.execute(
            assets.insert().values(
                id=asset_id,
                gallery_id=gallery_id,
                org_id=org_id,
                uploaded_by=uuid.uuid4(),
                label="Küche.jpg",
                status="captioned",
                declared_bytes=100,
                byte_size=100,
                sha256="1" * 64,
                content_type="image/jpeg",
                original_key=f"originals/{gallery_id}/{asset_id}",
                web_key=f"{base}/web.jpg",
                thumb_key=f"{base}/thumb.jpg",
                preview_web_key=f"{base}/preview-web.jpg",
                preview_thumb_key=f"{base}/preview-thumb.jpg",
                width=2000,
                height=1500,
                room_type="kitchen",
                sequence=1,
                pseudonym="Kitchen_01",
            )
        )
    await media_db.dispose()

    page = await browser.get(f"/galleries/{gallery_id}")
    assert page.status_code == 200, page.text
    assert 'data-test="previews-watermarked"' not in page.text  # billing never asked: free
    assert f"{asset_id}/thumb.jpg" in page.text

    await previews.take_payment_required(
        OrderPaymentRequired(
            order_id=order_id, org_id=org_id, gallery_id=gallery_id, gross_cents=22900
        )
    )
    page = await browser.get(f"/galleries/{gallery_id}")
    assert page.status_code == 200, page.text
    assert 'data-test="previews-watermarked"' in page.text
    assert NOTICE_DE in page.text
    assert f"{asset_id}/preview-thumb.jpg" in page.text
    assert f"{asset_id}/thumb.jpg" not in page.text
    # The notice asks every 5 s, so the page learns of the payment by itself.
    notice = await browser.get(f"/galleries/{gallery_id}/watermark")
    assert notice.status_code == 200
    assert NOTICE_DE in notice.text
    assert 'hx-trigger="every 5s"' in notice.text
    assert "pix:previews-unlocked from:body" in page.text  # the grid listens for the unlock
    browser.cookies.set("lang", "en", domain="gateway.test")
    assert NOTICE_EN in (await browser.get(f"/galleries/{gallery_id}")).text
    browser.cookies.delete("lang", domain="gateway.test")
    unknown = await browser.get(f"/galleries/{uuid.uuid4()}/watermark")
    assert unknown.status_code == 404

    await previews.take_payment(
        OrderPaid(
            order_id=order_id,
            org_id=org_id,
            gallery_id=gallery_id,
            via="bank_transfer",
            paid_at=datetime.now(UTC),
        )
    )
    notice = await browser.get(f"/galleries/{gallery_id}/watermark")
    assert notice.status_code == 200
    assert notice.text == ""  # the notice goes …
    assert notice.headers["hx-trigger"] == "pix:previews-unlocked"  # … and the grid reloads
    grid = await browser.get(f"/galleries/{gallery_id}/photos")
    assert f"{asset_id}/thumb.jpg" in grid.text
    assert "preview-thumb" not in grid.text
    page = await browser.get(f"/galleries/{gallery_id}")
    assert 'data-test="previews-watermarked"' not in page.text
    assert f"{asset_id}/thumb.jpg" in page.text
    assert "preview-thumb" not in page.text
