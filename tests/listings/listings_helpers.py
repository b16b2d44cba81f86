"""Shared by the listings tests: identities, listings made over the API, events, photos."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from photos import room_photo
from pix_contracts import ExportFile, GalleryExported, OrderPlaced
from pix_contracts.envelope import Event
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import select


@dataclass
class Api:
    client: httpx.AsyncClient
    runtime: ServiceRuntime
    broker: Any
    app: FastAPI

    def headers(self, who: Identity) -> dict[str, str]:
        return {IDENTITY_HEADER: sign_identity(who, self.runtime.internal_key)}

    async def get(self, who: Identity, path: str, **kw: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.headers(who), **kw)

    async def post(self, who: Identity, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.headers(who), **kw)

    async def patch(self, who: Identity, path: str, body: Any) -> httpx.Response:
        return await self.client.patch(path, json=body, headers=self.headers(who))

    async def put(self, who: Identity, path: str, body: Any) -> httpx.Response:
        return await self.client.put(path, json=body, headers=self.headers(who))

    async def publish(self, event: Event) -> None:
        await self.broker.publish(event.model_dump_json().encode(), event.topic)

    async def run_jobs(self) -> int:
        ran = 0
        while True:
            done = await self.runtime.jobs.run_due()
            if not done:
                return ran
            ran += done

    async def create(self, who: Identity, **fields: Any) -> dict[str, Any]:
        response = await self.post(who, "/listings", {**complete_listing(), **fields})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def create_published(self, who: Identity, **fields: Any) -> dict[str, Any]:
        listing = await self.create(who, **fields)
        response = await self.post(who, f"/listings/{listing['id']}/publish")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def outbox(self, kind: type[Event]) -> list[Any]:
        from pix_listings.models import outbox

        async with self.runtime.db.sessions() as session:
            rows = await session.execute(
                select(outbox.c.payload).where(outbox.c.topic == kind.topic).order_by(outbox.c.id)
            )
            return [kind.model_validate_json(p) for p in rows.scalars()]


def person(role: str = "client", org_id: uuid.UUID | None = None, locale: str = "de") -> Identity:
    return Identity(
        user_id=uuid.uuid4(),
        org_id=org_id or uuid.uuid4(),
        role=role,  # type: ignore[arg-type]
        email=f"{role}-{uuid.uuid4().hex[:8]}@makler-example.de",
        name="Erika Muster",
        locale=locale,  # type: ignore[arg-type]
        email_verified=True,
    )


def unique_postcode() -> str:
    return f"{uuid.uuid4().int % 90000 + 10000:05d}"


def complete_listing(**changes: Any) -> dict[str, Any]:
    listing: dict[str, Any] = {
        "title": "Sonnige 3-Zimmer-Altbauwohnung mit Südbalkon",
        "property_type": "apartment",
        "marketing": "sale",
        "price_eur": 450_000,
        "rooms": 3,
        "living_area_m2": 84.5,
        "year_built": 1908,
        "energy_certificate_type": "verbrauch",
        "energy_value_kwh": 112.4,
        "energy_class": "D",
        "energy_carrier": "Fernwärme",
        "features": ["Balkon", "Einbauküche", "Dielenboden"],
        "description_de": "Helle Altbauwohnung mit Südbalkon, Stuck und Dielen in ruhiger Lage.",
        "street": "Lindenallee 5a",
        "postcode": "10115",
        "city": "Berlin",
        "video_url": "https://video.example.com/watch/abc",
        "tour_url": "https://tour.example.com/360/abc",
        "contact_name": "Erika Muster",
        "contact_email": "erika@makler-example.de",
    }
    listing.update(changes)
    return listing


def order_placed(org_id: uuid.UUID, **changes: Any) -> OrderPlaced:
    fields: dict[str, Any] = {
        "order_id": uuid.uuid4(),
        "org_id": org_id,
        "gallery_id": uuid.uuid4(),
        "reference": f"PIX-{uuid.uuid4().hex[:6].upper()}",
        "placed_by": uuid.uuid4(),
        "contact_name": "Erika Muster",
        "contact_email": "erika@makler-example.de",
        "contact_phone": "+49301234567",
        "property_address": "Lindenallee 5a, 10115 Berlin",
        "property_type": "apartment",
    }
    fields.update(changes)
    return OrderPlaced(**fields)


ROOMS = [
    ("Wohnzimmer_01", "living_room", "Helles Wohnzimmer", (200, 170, 130)),
    ("Kueche_01", "kitchen", "Offene Küche", (220, 220, 210)),
    ("Bad_01", "bathroom", "Tageslichtbad", (230, 235, 240)),
    ("Balkon_01", "balcony", "Sonniger Südbalkon", (150, 190, 150)),
    ("Grundriss_01", "floor_plan", "Grundriss", (250, 250, 250)),
]


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (1200, 800)) -> bytes:
    buffer = io.BytesIO()
    room_photo(*size, colour=colour).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


async def stage_export(
    runtime: ServiceRuntime,
    org_id: uuid.UUID,
    gallery_id: uuid.UUID,
    *,
    version: int = 1,
    rooms: list[tuple[str, str, str, tuple[int, int, int]]] | None = None,
    asset_ids: dict[str, uuid.UUID] | None = None,
    cover: str = "Wohnzimmer_01",
    delivered: bool = True,
) -> GalleryExported:
    """Write `captions.json` and the web bundle as the export service does, and its event
    (a delivered version unless `delivered` is false: a preview for the gallery page)."""
    rooms = rooms if rooms is not None else ROOMS
    asset_ids = asset_ids if asset_ids is not None else {}
    images = []
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as archive:
        for name, room_type, title, colour in rooms:
            asset_id = asset_ids.setdefault(name, uuid.uuid4())
            images.append(
                {
                    "file": f"{name}.jpg",
                    "image": f"{name}.jpg",
                    "name": name,
                    "asset_id": str(asset_id),
                    "cover": name == cover,
                    "room_type": room_type,
                    "title_de": title,
                    "title_en": title + " (en)",
                    "description_de": f"{title}: hell, ruhig und freundlich. Viel Platz.",
                    "description_en": f"{title}: bright, quiet and friendly.",
                    "alt_text_de": title,
                    "alt_text_en": title,
                    "features": ["hell"],
                }
            )
            archive.writestr(f"images/{name}.jpg", jpeg(colour))
    document = {"schema_version": 2, "gallery_id": str(gallery_id), "images": images}
    prefix = f"exports/{gallery_id}/v{version}"
    files = []
    for name, fmt, media_type, data in (
        ("captions.json", "captions-json", "application/json", json.dumps(document).encode()),
        ("bundle-web.zip", "bundle-web", "application/zip", bundle.getvalue()),
    ):
        await runtime.storage.put_bytes(f"{prefix}/{name}", data, media_type)
        files.append(
            ExportFile(
                name=name,
                format=fmt,
                media_type=media_type,
                storage_key=f"{prefix}/{name}",
                download_url=f"http://testserver/api/media/storage/{prefix}/{name}?sig=x",
                url_expires_at=datetime.now(UTC) + timedelta(days=7),
                sha256="0" * 64,
                byte_size=len(data),
            )
        )
    return GalleryExported(
        gallery_id=gallery_id,
        org_id=org_id,
        version=version,
        asset_count=len(rooms),
        files=files,
        complete=delivered,
        delivery=version if delivered else None,
    )
