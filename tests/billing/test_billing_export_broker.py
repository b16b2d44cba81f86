"""Over the real broker: billing and export running as in production (lifespan: Tansu, the
outbox relays, the job loops, the consumers). An order billing wants paid locks its gallery's
downloads in export; a delivered version waits; the admin's "bank transfer received" unlocks
the downloads and announces the version."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from billing_helpers import billing_settings, person, until
from pix_billing.app import create_app as billing_app
from pix_contracts import (
    CaptionReady,
    CaptionText,
    Event,
    GalleryDelivered,
    GalleryExported,
    OrderPlaced,
    PhotoInSet,
)
from pix_contracts.events import OrderedService
from pix_export.app import create_app as export_app
from pix_export.models import exports, outbox
from pix_export.models import jobs as export_jobs
from pix_export.settings import ExportSettings
from pix_runtime.identity import IDENTITY_HEADER, sign_identity
from sqlalchemy import delete, select
from stripe_fake import FakeStripe


@pytest.fixture
async def running(billing_schema: str, tansu: Any, stripe_fake: FakeStripe) -> AsyncIterator[Any]:
    billing, billing_runtime = billing_app(billing_settings(stripe_fake))
    export, export_runtime = export_app(
        ExportSettings(debounce_quiet_seconds=30, debounce_max_seconds=60)
    )
    async with (
        billing.router.lifespan_context(billing),
        export.router.lifespan_context(export),
    ):
        yield billing, billing_runtime, export, export_runtime
    # The lifespan put export's periodic jobs (and what this test queued) in the session's
    # export schema: gone again, so the export tests' job counts see only their own.
    async with export_runtime.db.transaction() as session:
        await session.execute(delete(export_jobs))
    await billing_runtime.db.dispose()
    await export_runtime.db.dispose()


async def test_a_bank_transfer_unlocks_the_gallery_over_the_broker(running: Any) -> None:
    billing, billing_runtime, export, export_runtime = running
    agent, admin = person(), person("admin")
    gallery_id = uuid.uuid4()
    order = OrderPlaced(
        order_id=uuid.uuid4(),
        org_id=agent.org_id,
        gallery_id=gallery_id,
        reference="PIX-BANK01",
        placed_by=agent.user_id,
        contact_name="Erika Muster",
        contact_email="erika@makler-example.de",
        property_address="Lindenallee 5, 10115 Berlin",
        services=[OrderedService(key="photos", price_cents=22900)],
        total_cents=22900,
    )

    async def publish(event: Event) -> None:
        await billing_runtime.broker.publish(event.model_dump_json().encode(), event.topic)

    to_export = {IDENTITY_HEADER: sign_identity(agent, export_runtime.internal_key)}
    to_billing = {IDENTITY_HEADER: sign_identity(admin, billing_runtime.internal_key)}
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=billing), base_url="http://b") as b,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=export), base_url="http://e") as e,
    ):
        await publish(order)

        async def locked() -> bool:
            answer = await e.get(f"/galleries/{gallery_id}/exports", headers=to_export)
            return answer.status_code == 402

        await until(locked, timeout=120, what="export to hear that the order must be paid")

        web_key = f"renditions/{gallery_id}/Kitchen_01/web.jpg"
        await export_runtime.storage.put_bytes(web_key, b"\xff\xd8\xffkitchen", "image/jpeg")
        asset_id = uuid.uuid4()
        await publish(
            CaptionReady(
                asset_id=asset_id,
                gallery_id=gallery_id,
                org_id=agent.org_id,
                asset_version=1,
                caption_version=1,
                pseudonym="Kitchen_01",
                caption=CaptionText(
                    room_type="kitchen",
                    title_de="Helle Küche",
                    title_en="Bright kitchen",
                    description_de="Eine helle Küche.",
                    description_en="A bright kitchen.",
                    alt_text_de="Küche",
                    alt_text_en="Kitchen",
                    features=["hell"],
                ),
                model="offline-template-v1",
                provider="offline",
                prompt_version="offline-1",
                txt_key=f"captions/{gallery_id}/Kitchen_01.txt",
                json_key=f"captions/{gallery_id}/Kitchen_01.json",
                web_key=web_key,
            )
        )
        await publish(
            GalleryDelivered(
                gallery_id=gallery_id,
                org_id=agent.org_id,
                order_id=order.order_id,
                delivery=1,
                set_version=1,
                photos=[
                    PhotoInSet(asset_id=asset_id, version=1, outcome="captioned", caption_version=1)
                ],
            )
        )

        async def held() -> bool:
            async with export_runtime.db.sessions() as session:
                found = await session.scalar(
                    select(exports.c.held).where(exports.c.gallery_id == gallery_id)
                )
            return found is True

        await until(held, timeout=120, what="the delivered version, built and held")
        assert await announced(export_runtime, gallery_id) == []

        settled = await b.post(
            f"/admin/orders/{order.order_id}/settle",
            json={"via": "bank_transfer"},
            headers=to_billing,
        )
        assert settled.status_code == 200, settled.text

        async def unlocked() -> list[GalleryExported]:
            answer = await e.get(f"/galleries/{gallery_id}/exports", headers=to_export)
            return await announced(export_runtime, gallery_id) if answer.is_success else []

        [version] = await until(unlocked, timeout=120, what="the payment to unlock the gallery")
        assert (version.version, version.delivery) == (1, 1)
        listed = await e.get(f"/galleries/{gallery_id}/exports", headers=to_export)
        assert [v["version"] for v in listed.json()] == [1]


async def announced(runtime: Any, gallery_id: uuid.UUID) -> list[GalleryExported]:
    async with runtime.db.sessions() as session:
        payloads = (
            await session.execute(
                select(outbox.c.payload).where(outbox.c.topic == GalleryExported.topic)
            )
        ).scalars()
        found = [GalleryExported.model_validate_json(p) for p in payloads]
    return [f for f in found if f.gallery_id == gallery_id]
