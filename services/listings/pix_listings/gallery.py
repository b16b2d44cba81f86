"""A shoot's exported gallery becomes the listing's media.

`export.gallery.exported.v1` names `captions.json` (captions, room types, the cover) and the
web bundle (`images/<Name>.jpg`). The photos are copied into the listing's own keys, so the
listing keeps its media when the export's signed links expire or a later version drops a
photo the agent still wants. The agent's order and title picture survive re-exports; new
photos are appended, photos gone from the gallery are removed.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any

from pix_contracts import GalleryExported
from pix_contracts.rooms import RoomType
from pix_runtime.db import Database
from pix_runtime.inbox import first_delivery
from pix_runtime.logging import get_logger
from pix_runtime.storage import LocalStorage, ObjectNotFound, S3Storage
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from pix_listings.models import inbox, listings, media
from pix_listings.service import Listings

log = get_logger(__name__)
# Formats of GalleryExported's files that this service reads.
CAPTIONS_FORMAT = "captions-json"
BUNDLE_FORMAT = "bundle-web"
MAX_BUNDLE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class ExportedPhoto:
    asset_id: uuid.UUID
    name: str
    file: str
    room_type: str | None
    title_de: str
    title_en: str
    caption_de: str
    caption_en: str
    features: list[str]
    cover: bool


def parse_captions(document: dict[str, Any]) -> list[ExportedPhoto]:
    photos = []
    for image in document.get("images") or []:
        photos.append(
            ExportedPhoto(
                asset_id=uuid.UUID(str(image["asset_id"])),
                name=str(image.get("name") or image.get("file") or "photo")[:100],
                file=str(image.get("image") or image.get("file") or f"{image['name']}.jpg"),
                room_type=image.get("room_type"),
                title_de=str(image.get("title_de") or "")[:100],
                title_en=str(image.get("title_en") or "")[:100],
                caption_de=str(image.get("description_de") or ""),
                caption_en=str(image.get("description_en") or ""),
                features=[str(f)[:60] for f in image.get("features") or []][:40],
                cover=bool(image.get("cover")),
            )
        )
    return photos


class GalleryImport:
    def __init__(
        self, db: Database, storage: LocalStorage | S3Storage, listings_: Listings
    ) -> None:
        self._db = db
        self._storage = storage
        self._listings = listings_

    async def gallery_exported(self, event: GalleryExported) -> None:
        if event.delivery is None:
            # A preview for the gallery page: a listing takes only what was delivered.
            return
        by_format = {f.format: f for f in event.files}
        captions_file = by_format.get(CAPTIONS_FORMAT)
        if captions_file is None:
            log.warning("gallery.no_captions", gallery_id=str(event.gallery_id))
            return
        try:
            document = json.loads(await self._storage.get_bytes(captions_file.storage_key))
        except ObjectNotFound:
            # An export version already cleaned up: a later version will bring the photos.
            log.warning("gallery.captions_gone", key=captions_file.storage_key)
            return
        photos = parse_captions(document)
        images = await self._images(by_format.get(BUNDLE_FORMAT))

        async with self._db.transaction() as session:
            if not await first_delivery(
                session, inbox, consumer="listings.galleries", event_id=event.event_id
            ):
                return
            listing_id = await self._listings.listing_for_gallery(
                session, event.gallery_id, event.org_id, event.reference
            )
            existing = {
                r["asset_id"]: r
                for r in (
                    await session.execute(
                        # Staged photos are the agent's, not the gallery's: an export leaves
                        # them alone (they go only with their source photo).
                        select(media).where(media.c.listing_id == listing_id, ~media.c.staged)
                    )
                ).mappings()
            }
            newest = max((r["gallery_version"] for r in existing.values()), default=0)
            if event.version < newest:
                return  # an older version arriving late changes nothing
            last = await session.scalar(
                select(func.max(media.c.position)).where(media.c.listing_id == listing_id)
            )
            next_position = 0 if last is None else int(last) + 1
            has_title = bool(
                await session.scalar(
                    select(func.count()).where(media.c.listing_id == listing_id, media.c.is_title)
                )
            )
            for photo in photos:
                key = f"listings/{listing_id}/media/{photo.asset_id}.jpg"
                data = images.get(photo.file)
                if data is not None:
                    await self._storage.put_bytes(key, data, "image/jpeg")
                elif photo.asset_id not in existing:
                    continue  # no image for it in this export: leave it out
                row = existing.get(photo.asset_id)
                values = {
                    "name": photo.name,
                    "room_type": photo.room_type,
                    "title_de": photo.title_de,
                    "title_en": photo.title_en,
                    "caption_de": photo.caption_de,
                    "caption_en": photo.caption_en,
                    "features": photo.features,
                    "storage_key": key,
                    "gallery_version": event.version,
                }
                if row is None:
                    is_title = (
                        not has_title and photo.cover and photo.room_type != RoomType.FLOOR_PLAN
                    )
                    has_title = has_title or is_title
                    await session.execute(
                        insert(media)
                        .values(
                            id=uuid.uuid4(),
                            listing_id=listing_id,
                            org_id=event.org_id,
                            asset_id=photo.asset_id,
                            position=next_position,
                            is_title=is_title,
                            **values,
                        )
                        .on_conflict_do_nothing()
                    )
                    next_position += 1
                else:
                    await session.execute(
                        update(media).where(media.c.id == row["id"]).values(**values)
                    )
            kept = [p.asset_id for p in photos]
            await session.execute(
                delete(media).where(
                    media.c.listing_id == listing_id,
                    ~media.c.staged,
                    media.c.asset_id.not_in(kept),
                )
            )
            if not has_title:
                await self._first_photo_is_title(session, listing_id)
            await session.execute(
                update(listings).where(listings.c.id == listing_id).values(updated_at=func.now())
            )
            await self._listings.announce_change(session, listing_id)
        log.info(
            "gallery.imported",
            gallery_id=str(event.gallery_id),
            listing_id=str(listing_id),
            photos=len(photos),
            version=event.version,
        )

    async def _first_photo_is_title(self, session: Any, listing_id: uuid.UUID) -> None:
        first = await session.scalar(
            select(media.c.id)
            .where(
                media.c.listing_id == listing_id,
                media.c.room_type.is_distinct_from(RoomType.FLOOR_PLAN.value),
                ~media.c.staged,
            )
            .order_by(media.c.position)
            .limit(1)
        )
        if first is not None:
            await session.execute(update(media).where(media.c.id == first).values(is_title=True))

    async def _images(self, bundle: Any) -> dict[str, bytes]:
        """`images/<Name>.jpg` from the export's web bundle, by file name."""
        if bundle is None:
            return {}
        try:
            data = await self._storage.get_bytes(bundle.storage_key)
        except ObjectNotFound:
            return {}
        if len(data) > MAX_BUNDLE_BYTES:
            return {}
        found: dict[str, bytes] = {}
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if info.filename.startswith("images/") and not info.is_dir():
                    found[info.filename.removeprefix("images/")] = archive.read(info)
        return found
