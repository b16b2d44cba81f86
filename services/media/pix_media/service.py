"""Galleries and their photos: signed uploads, validation, anonymised renditions.

An upload is three steps: `issue_upload_url` (the browser then PUTs the bytes straight to
storage), `complete_upload` (decode, strip, render, announce), and the caption events that
move the photo to `captioned` or `failed`.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pix_contracts import AssetUploaded, CaptionFailed, CaptionReady, OrderPlaced
from pix_contracts.rooms import pseudonym_stem, room_from_filename
from pix_runtime.db import Database
from pix_runtime.errors import Conflict, Invalid, NotFound, TooLarge
from pix_runtime.identity import Identity
from pix_runtime.inbox import first_delivery
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue
from pix_runtime.storage import LocalStorage, ObjectNotFound, S3Storage
from sqlalchemy import RowMapping, func, select, update
from sqlalchemy.exc import IntegrityError

from pix_media.imaging import ImageRejected, ProcessedImage, process_image
from pix_media.models import assets, galleries, inbox, outbox
from pix_media.settings import MediaSettings

SOURCE = "/pix/media"
CONSUMER = "media"
log = get_logger(__name__)


@dataclass(frozen=True)
class UploadTicket:
    asset_id: uuid.UUID
    upload_url: str
    method: str
    expires_at: datetime
    max_bytes: int


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def uploaded_event(row: RowMapping) -> AssetUploaded:
    return AssetUploaded(
        asset_id=row["id"],
        gallery_id=row["gallery_id"],
        org_id=row["org_id"],
        version=row["version"],
        pseudonym=row["pseudonym"],
        room_type=row["room_type"],
        sequence=row["sequence"],
        width=row["width"],
        height=row["height"],
        byte_size=row["byte_size"],
        sha256=row["sha256"],
        web_key=row["web_key"],
        thumb_key=row["thumb_key"],
    )


class MediaLibrary:
    def __init__(
        self, db: Database, storage: LocalStorage | S3Storage, settings: MediaSettings
    ) -> None:
        self._db = db
        self._storage = storage
        self._settings = settings

    # --- galleries ----------------------------------------------------------------------------

    async def open_gallery(self, event: OrderPlaced) -> None:
        """Create the order's gallery (once, however often the event arrives)."""
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            await session.execute(
                galleries.insert().values(
                    id=event.gallery_id,
                    org_id=event.org_id,
                    order_id=event.order_id,
                    reference=event.reference,
                    title=event.property_address,
                )
            )
        log.info("gallery.opened", gallery_id=str(event.gallery_id))

    async def list_galleries(self, viewer: Identity) -> list[RowMapping]:
        query = select(galleries).order_by(galleries.c.created_at.desc()).limit(200)
        if not viewer.is_admin:
            query = query.where(galleries.c.org_id == viewer.org_id)
        async with self._db.sessions() as session:
            return list((await session.execute(query)).mappings().all())

    async def gallery(self, gallery_id: uuid.UUID, viewer: Identity) -> RowMapping:
        async with self._db.sessions() as session:
            row = (
                (await session.execute(select(galleries).where(galleries.c.id == gallery_id)))
                .mappings()
                .first()
            )
        if row is None or not viewer.may_access(row["org_id"]):
            raise NotFound("gallery")
        return row

    async def gallery_assets(self, gallery_id: uuid.UUID, viewer: Identity) -> list[RowMapping]:
        await self.gallery(gallery_id, viewer)
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(assets)
                .where(assets.c.gallery_id == gallery_id, assets.c.status != "pending")
                .order_by(assets.c.created_at)
            )
            return list(rows.mappings().all())

    async def asset(self, asset_id: uuid.UUID, viewer: Identity) -> RowMapping:
        async with self._db.sessions() as session:
            row = (
                (await session.execute(select(assets).where(assets.c.id == asset_id)))
                .mappings()
                .first()
            )
        if row is None or not viewer.may_access(row["org_id"]):
            raise NotFound("asset")
        return row

    # --- uploads ------------------------------------------------------------------------------

    async def issue_upload_url(
        self, gallery_id: uuid.UUID, *, file_name: str, byte_size: int, by: Identity
    ) -> UploadTicket:
        gallery = await self.gallery(gallery_id, by)
        limit = self._settings.max_upload_bytes
        if byte_size > limit:
            raise TooLarge("too_large", f"files may be at most {limit} bytes", "byte_size")
        asset_id = uuid.uuid4()
        # The key is ours; the client's file name is only a label.
        key = f"originals/{gallery_id}/{asset_id}"
        async with self._db.transaction() as session:
            await session.execute(
                assets.insert().values(
                    id=asset_id,
                    gallery_id=gallery_id,
                    org_id=gallery["org_id"],
                    uploaded_by=by.user_id,
                    label=file_name[:255],
                    declared_bytes=byte_size,
                    original_key=key,
                )
            )
        seconds = self._settings.upload_url_seconds
        return UploadTicket(
            asset_id=asset_id,
            upload_url=await self._storage.signed_url(key, "PUT", expires_in=seconds),
            method="PUT",
            expires_at=datetime.now(UTC) + timedelta(seconds=seconds),
            max_bytes=limit,
        )

    async def complete_upload(self, asset_id: uuid.UUID, by: Identity) -> RowMapping:
        """Validate and process an uploaded original, then announce it. Idempotent."""
        asset = await self.asset(asset_id, by)
        if asset["status"] != "pending":
            return asset
        try:
            async with self._storage.local_file(asset["original_key"]) as path:
                sha256, processed = await asyncio.to_thread(self._inspect, path)
                byte_size = path.stat().st_size
        except ObjectNotFound as exc:
            raise Invalid("not_uploaded", "the file has not been uploaded yet") from exc
        except ImageRejected as exc:
            await self._reject(asset, exc.code, exc.message)
            raise Invalid(exc.code, exc.message, "file") from exc

        web_key = f"renditions/{asset['gallery_id']}/{asset_id}/web.jpg"
        thumb_key = f"renditions/{asset['gallery_id']}/{asset_id}/thumb.jpg"
        await self._storage.put_bytes(web_key, processed.web.data, "image/jpeg")
        await self._storage.put_bytes(thumb_key, processed.thumb.data, "image/jpeg")
        room = room_from_filename(asset["label"])
        try:
            async with self._db.transaction() as session:
                # Serialise numbering within the gallery: Kitchen_01, Kitchen_02, …
                await session.execute(
                    select(galleries.c.id)
                    .where(galleries.c.id == asset["gallery_id"])
                    .with_for_update()
                )
                sequence = 1 + (
                    await session.scalar(
                        select(func.count()).where(
                            assets.c.gallery_id == asset["gallery_id"],
                            assets.c.sequence.is_not(None),
                            (assets.c.room_type == room.value)
                            if room
                            else assets.c.room_type.is_(None),
                        )
                    )
                    or 0
                )
                pseudonym = f"{pseudonym_stem(room)}_{sequence:02d}"
                row = (
                    (
                        await session.execute(
                            update(assets)
                            .where(assets.c.id == asset_id, assets.c.status == "pending")
                            .values(
                                status="processed",
                                byte_size=byte_size,
                                sha256=sha256,
                                content_type=processed.content_type,
                                web_key=web_key,
                                thumb_key=thumb_key,
                                width=processed.original_width,
                                height=processed.original_height,
                                room_type=room.value if room else None,
                                sequence=sequence,
                                pseudonym=pseudonym,
                            )
                            .returning(*assets.c)
                        )
                    )
                    .mappings()
                    .one()
                )
                await enqueue(session, outbox, uploaded_event(row), source=SOURCE)
        except IntegrityError as exc:
            duplicate = await self._duplicate_of(asset, sha256)
            await self._discard(asset, [web_key, thumb_key])
            raise Conflict(
                "duplicate",
                f"this photo is already in the gallery (asset {duplicate})",
                "file",
            ) from exc
        log.info("asset.processed", asset_id=str(asset_id), pseudonym=row["pseudonym"])
        return row

    def _inspect(self, path: Path) -> tuple[str, ProcessedImage]:
        settings = self._settings
        processed = process_image(
            path,
            max_pixels=settings.max_pixels,
            web_edge=settings.web_edge,
            thumb_edge=settings.thumb_edge,
        )
        return _sha256_file(path), processed

    async def _reject(self, asset: RowMapping, code: str, message: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(assets)
                .where(assets.c.id == asset["id"])
                .values(status="rejected", error_code=code, error_message=message[:500])
            )
        await self._storage.delete(asset["original_key"])

    async def _duplicate_of(self, asset: RowMapping, sha256: str) -> Any:
        async with self._db.sessions() as session:
            return await session.scalar(
                select(assets.c.id).where(
                    assets.c.gallery_id == asset["gallery_id"], assets.c.sha256 == sha256
                )
            )

    async def _discard(self, asset: RowMapping, keys: list[str]) -> None:
        async with self._db.transaction() as session:
            await session.execute(assets.delete().where(assets.c.id == asset["id"]))
        for key in [asset["original_key"], *keys]:
            await self._storage.delete(key)

    # --- self-healing -------------------------------------------------------------------------

    async def requeue_stuck(self) -> int:
        """Announce again every photo processed but not captioned within the timeout.

        The embedded broker keeps nothing across a restart, and any broker can lose a message
        to an operator's mistake; this turns such a loss into a delay. Captioning recognises an
        asset version it already captioned and only re-announces its caption.
        """
        cutoff = datetime.now(UTC) - timedelta(seconds=self._settings.caption_timeout_seconds)
        async with self._db.transaction() as session:
            rows = (
                (
                    await session.execute(
                        update(assets)
                        .where(assets.c.status == "processed", assets.c.updated_at < cutoff)
                        .values(updated_at=func.now())
                        .returning(*assets.c)
                    )
                )
                .mappings()
                .all()
            )
            for row in rows:
                await enqueue(session, outbox, uploaded_event(row), source=SOURCE)
        if rows:
            log.warning("assets.requeued", count=len(rows))
        return len(rows)

    # --- caption results ----------------------------------------------------------------------

    async def record_caption(self, event: CaptionReady | CaptionFailed) -> None:
        status = "captioned" if isinstance(event, CaptionReady) else "failed"
        error = event.reason[:500] if isinstance(event, CaptionFailed) else None
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            await session.execute(
                update(assets)
                .where(assets.c.id == event.asset_id, assets.c.version == event.asset_version)
                .values(status=status, error_message=error)
            )
