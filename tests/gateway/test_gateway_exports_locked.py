"""A gallery whose order waits for payment: the downloads panel through the gateway says so,
links to /billing, keeps polling, and shows the downloads once export heard of the payment.
Real auth, media, captioning and export services (uvicorn on loopback ports), the session's
database; billing's events are handed to export's own handlers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

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
from pix_media.models import galleries
from pix_runtime.db import Database
from pix_runtime.settings import PlatformSettings
from sqlalchemy import func, update
from test_gateway_order_pages import PASSWORD, PUBLIC, Served

LOCKED_DE = "Die Downloads werden freigeschaltet, sobald die Rechnung bezahlt ist."
LOCKED_EN = "The downloads are unlocked as soon as the invoice is paid."


@pytest.fixture
async def signed_in(
    migrated: set[str],
) -> AsyncIterator[tuple[httpx.AsyncClient, object, uuid.UUID]]:
    auth, _ = auth_app()
    media, _ = media_app()
    captioning, _ = captioning_app()
    export, _ = export_app()
    # A second export app in the test's own event loop takes billing's events (the served one's
    # database pool belongs to its server thread's loop).
    handling, handling_runtime = export_app()
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
    async with browser:
        yield browser, handling.state.desk, org_id
    for s in served:
        s.stop()
    await handling_runtime.db.dispose()


async def test_a_locked_gallery_says_so_links_to_billing_and_unlocks_by_itself(
    signed_in: tuple[httpx.AsyncClient, object, uuid.UUID],
) -> None:
    browser, desk, org_id = signed_in
    gallery_id, order_id = uuid.uuid4(), uuid.uuid4()
    # The gallery as media made it from the order (media's own tests cover that step).
    media_db = Database(PlatformSettings().database_url, schema="media", application_name="test")
    async with media_db.transaction() as session:
        await session.execute(
            galleries.insert().values(
                id=gallery_id,
                org_id=org_id,
                order_id=order_id,
                reference="PIX-000021",
                title="Lindenallee 5",
            )
        )
    await media_db.dispose()

    await desk.take_payment_required(  # type: ignore[attr-defined]
        OrderPaymentRequired(
            order_id=order_id, org_id=org_id, gallery_id=gallery_id, gross_cents=37800
        )
    )
    panel = await browser.get(f"/galleries/{gallery_id}/exports")
    assert panel.status_code == 200, panel.text
    assert 'data-test="exports-locked"' in panel.text
    assert LOCKED_DE in panel.text
    assert 'href="/billing"' in panel.text
    assert 'data-busy="yes"' in panel.text  # keeps asking, so payment unlocks it by itself
    assert "every 5s" in panel.text
    page = await browser.get(f"/galleries/{gallery_id}")
    assert page.status_code == 200, page.text
    assert LOCKED_DE in page.text
    browser.cookies.set("lang", "en", domain="gateway.test")
    english = await browser.get(f"/galleries/{gallery_id}/exports")
    assert LOCKED_EN in english.text
    browser.cookies.delete("lang", domain="gateway.test")

    await desk.take_payment(  # type: ignore[attr-defined]
        OrderPaid(
            order_id=order_id,
            org_id=org_id,
            gallery_id=gallery_id,
            via="stripe",
            paid_at=datetime.now(UTC),
        )
    )
    panel = await browser.get(f"/galleries/{gallery_id}/exports")
    assert panel.status_code == 200, panel.text
    assert 'data-test="exports-locked"' not in panel.text
    assert 'data-busy="no"' in panel.text  # no photos yet: nothing to wait for
