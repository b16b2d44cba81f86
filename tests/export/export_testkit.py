"""Helpers for the export tests: an export service on the real database and storage."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from faststream.kafka import TestKafkaBroker
from pix_contracts import (
    AssetUploaded,
    CaptionFailed,
    CaptionReady,
    CaptionText,
    Event,
    GalleryDelivered,
    GalleryExported,
    OrderPlaced,
    PhotoInSet,
)
from pix_export.app import create_app
from pix_export.crm_push import PUSH_CRM
from pix_export.models import exports, jobs, outbox
from pix_export.service import BUILD_GALLERY
from pix_export.settings import ExportSettings
from pix_export.webhooks import DELIVER_WEBHOOK
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.jobs import cancel_jobs
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import func, select

TITLES = {
    "kitchen": ("Helle Küche mit Kochinsel und viel Licht", "Bright kitchen"),
    "bathroom": ("Bad mit Wanne", "Bathroom with tub"),
    "exterior": ("Gepflegte Fassade", "Well-kept facade"),
    "floor_plan": ("Grundriss Erdgeschoss", "Ground floor plan"),
}


class Service:
    def __init__(self, runtime: ServiceRuntime, broker: Any, app: Any) -> None:
        self.runtime, self.broker, self.app = runtime, broker, app
        self.desk = app.state.desk
        self.webhooks = app.state.webhooks

    async def publish(self, event: Event) -> None:
        await self.broker.publish(event.model_dump_json().encode(), event.topic)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://x")

    def headers(self, org_id: uuid.UUID, role: str = "client") -> dict[str, str]:
        who = Identity(user_id=uuid.uuid4(), org_id=org_id, role=role, email="a@b.de", name="A")  # type: ignore[arg-type]
        return {IDENTITY_HEADER: sign_identity(who, self.runtime.internal_key)}

    async def versions(self, gallery_id: uuid.UUID) -> list[int]:
        async with self.runtime.db.sessions() as session:
            rows = await session.execute(
                select(exports.c.version)
                .where(exports.c.gallery_id == gallery_id)
                .order_by(exports.c.version)
            )
            return list(rows.scalars())

    async def exported(self, gallery_id: uuid.UUID) -> list[GalleryExported]:
        """The export events announced for the gallery, oldest first."""
        async with self.runtime.db.sessions() as session:
            payloads = (
                await session.execute(
                    select(outbox.c.payload).where(
                        outbox.c.topic == GalleryExported.topic,
                        func.encode(outbox.c.payload, "escape").contains(str(gallery_id)),
                    )
                )
            ).scalars()
            events = [GalleryExported.model_validate_json(p) for p in payloads]
        return sorted(events, key=lambda e: e.version)

    async def deliver(
        self,
        gallery_id: uuid.UUID,
        org_id: uuid.UUID,
        names: list[str],
        *,
        delivery: int = 1,
        caption_versions: dict[str, int] | None = None,
        failed: tuple[str, ...] = (),
    ) -> GalleryDelivered:
        """Media delivers the gallery with these photos (what media.delivery announces)."""
        versions = caption_versions or {}
        event = GalleryDelivered(
            gallery_id=gallery_id,
            org_id=org_id,
            order_id=uuid.uuid4(),
            delivery=delivery,
            set_version=delivery * 10,
            photos=[
                PhotoInSet(
                    asset_id=asset_id(gallery_id, name),
                    version=1,
                    outcome="caption_failed" if name in failed else "captioned",
                    caption_version=None if name in failed else versions.get(name, 1),
                )
                for name in names
            ],
            automatic=True,
        )
        await self.publish(event)
        return event


@asynccontextmanager
async def export_service(**overrides: Any) -> AsyncIterator[Service]:
    # Previews wait for the service's clock, which tests move: real time never builds one.
    fast: dict[str, Any] = {
        "debounce_quiet_seconds": 30,
        "debounce_max_seconds": 60,
        "allow_insecure_webhooks": True,
        "webhook_retry_base_seconds": 0.05,
        "webhook_timeout_seconds": 5,
    }
    settings = ExportSettings(**(fast | overrides))
    app, runtime = create_app(settings)
    await _cancel_deliveries(runtime)
    async with TestKafkaBroker(runtime.broker) as broker:
        yield Service(runtime, broker, app)
    await _cancel_deliveries(runtime)
    await runtime.db.dispose()


async def _cancel_deliveries(runtime: ServiceRuntime) -> None:
    """Webhook, CRM and build jobs another test left queued must not run (or count) in this
    one."""
    async with runtime.db.transaction() as session:
        for kind in (DELIVER_WEBHOOK, PUSH_CRM, BUILD_GALLERY):
            await cancel_jobs(session, jobs, kind)


def asset_id(gallery_id: uuid.UUID, name: str) -> uuid.UUID:
    return uuid.uuid5(gallery_id, name)


def room_of(name: str) -> str:
    stem = name.rsplit("_", 1)[0].lower()
    return {"floorplan": "floor_plan"}.get(stem, stem)


async def uploaded(
    svc: Service, gallery_id: uuid.UUID, org_id: uuid.UUID, name: str
) -> AssetUploaded:
    web_key = f"renditions/{gallery_id}/{name}/web.jpg"
    await svc.runtime.storage.put_bytes(
        web_key, b"\xff\xd8\xff\xe0web-" + name.encode(), "image/jpeg"
    )
    original = b"\x89PNG\r\n\x1a\noriginal-" + name.encode()
    await svc.runtime.storage.put_bytes(
        f"originals/{gallery_id}/{asset_id(gallery_id, name)}", original, "image/png"
    )
    return AssetUploaded(
        asset_id=asset_id(gallery_id, name),
        gallery_id=gallery_id,
        org_id=org_id,
        pseudonym=name,
        room_type=room_of(name),
        sequence=1,
        width=2000,
        height=1500,
        byte_size=100,
        sha256=hashlib.sha256(original).hexdigest(),
        web_key=web_key,
        thumb_key=f"renditions/{gallery_id}/{name}/thumb.jpg",
    )


def caption_ready(
    gallery_id: uuid.UUID, org_id: uuid.UUID, name: str, version: int = 1
) -> CaptionReady:
    room = room_of(name)
    de, en = TITLES.get(room, (f"Raum {name}", f"Room {name}"))
    return CaptionReady(
        asset_id=asset_id(gallery_id, name),
        gallery_id=gallery_id,
        org_id=org_id,
        asset_version=1,
        caption_version=version,
        pseudonym=name,
        caption=CaptionText(
            room_type=room,
            title_de=de[:30],
            title_en=en[:30],
            description_de=f"Beschreibung {name}.",
            description_en=f"Description {name}.",
            alt_text_de=de[:30],
            alt_text_en=en[:30],
            features=["hell", room],
        ),
        model="offline-template-v1",
        provider="offline",
        prompt_version="offline-1",
        txt_key=f"captions/{gallery_id}/{name}.txt",
        json_key=f"captions/{gallery_id}/{name}.json",
        web_key=f"renditions/{gallery_id}/{name}/web.jpg",
    )


def caption_failed(gallery_id: uuid.UUID, org_id: uuid.UUID, name: str) -> CaptionFailed:
    return CaptionFailed(
        asset_id=asset_id(gallery_id, name),
        gallery_id=gallery_id,
        org_id=org_id,
        asset_version=1,
        pseudonym=name,
        reason="model refused",
        attempts=3,
    )


def order_placed(
    gallery_id: uuid.UUID, org_id: uuid.UUID, reference: str, **facts: Any
) -> OrderPlaced:
    """An order as older producers sent it (one-line address only), or with `facts`."""
    return OrderPlaced(
        **facts,
        order_id=uuid.uuid4(),
        org_id=org_id,
        gallery_id=gallery_id,
        reference=reference,
        placed_by=uuid.uuid4(),
        contact_name="Anna Makler",
        contact_email="anna@makler.example",
        property_address="Lindenstraße 12a, 10969 Berlin",
    )
