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
    OrderPlaced,
)
from pix_export.app import create_app
from pix_export.models import exports
from pix_export.settings import ExportSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import select

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


@asynccontextmanager
async def export_service(**overrides: Any) -> AsyncIterator[Service]:
    fast: dict[str, Any] = {
        "debounce_quiet_seconds": 0.2,
        "debounce_max_seconds": 0.6,
        "allow_insecure_webhooks": True,
        "webhook_retry_base_seconds": 0.05,
        "webhook_timeout_seconds": 5,
    }
    settings = ExportSettings(**(fast | overrides))
    app, runtime = create_app(settings)
    async with TestKafkaBroker(runtime.broker) as broker:
        yield Service(runtime, broker, app)
    await runtime.db.dispose()


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


def order_placed(gallery_id: uuid.UUID, org_id: uuid.UUID, reference: str) -> OrderPlaced:
    return OrderPlaced(
        order_id=uuid.uuid4(),
        org_id=org_id,
        gallery_id=gallery_id,
        reference=reference,
        placed_by=uuid.uuid4(),
        contact_name="Anna Makler",
        contact_email="anna@makler.example",
        property_address="Lindenstraße 12a, 10969 Berlin",
    )
