"""Galleries and their photos: reads, the live status feed, deletion, caption results.

Uploads (signed URLs, multipart, completion) are in `uploads.py`; the asynchronous work from
an uploaded original to anonymised renditions and the upload event is in `processing.py`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pix_contracts import AssetUploaded, CaptionFailed, CaptionReady, OrderPlaced
from pix_contracts.events import AssetDeleted
from pix_runtime.clock import Clock
from pix_runtime.db import Database, NamedRow
from pix_runtime.errors import NotFound
from pix_runtime.identity import Identity
from pix_runtime.inbox import first_delivery
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue
from pix_runtime.storage import LocalStorage, S3Storage
from pydantic import BaseModel, ConfigDict
from sqlalchemy import RowMapping, func, select, update

from pix_media.assignments import AppointmentEvent, assigned, take_appointment
from pix_media.delivery import PhotoSet
from pix_media.models import assets, assignments, galleries, inbox, outbox
from pix_media.previews import CONSUMER, gallery_unpaid
from pix_media.settings import MediaSettings

SOURCE = "/pix/media"
log = get_logger(__name__)


def uploaded_event(row: NamedRow) -> AssetUploaded:
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
        faces_blurred=row["faces_blurred"] or 0,
    )


class Gallery(BaseModel):
    """An order's gallery."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    org_id: uuid.UUID
    order_id: uuid.UUID
    reference: str
    title: str
    created_at: datetime
    # The order's services (floorplan, video, …): which deliverables the gallery takes.
    ordered_services: list[str] | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> Gallery:
        return cls.model_validate({name: row[name] for name in cls.model_fields})


class Asset(BaseModel):
    """A photo as anyone who may see it may know it."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    gallery_id: uuid.UUID
    label: str
    status: str
    pseudonym: str | None
    room_type: str | None
    width: int | None
    height: int | None
    byte_size: int | None
    faces_blurred: int | None
    error_code: str | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    # photo, floor_plan or video (deliverables.py); the rest is only a deliverable's.
    kind: str = "photo"
    content_type: str | None = None
    file_size: int | None = None
    duration_ms: int | None = None
    page_count: int | None = None


class StoredAsset(Asset):
    """A photo with whose it is and where its files are: for media's own use."""

    org_id: uuid.UUID
    declared_bytes: int
    original_key: str
    # Multipart uploads in progress: storage's upload id and the part size we told the client.
    upload_id: str | None
    part_size: int | None
    web_key: str | None
    thumb_key: str | None
    preview_web_key: str | None
    preview_thumb_key: str | None
    file_key: str | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> StoredAsset:
        return cls.model_validate({name: row[name] for name in cls.model_fields})


@dataclass(frozen=True)
class StatusPage:
    """What changed in a gallery since a cursor; pass `cursor` back as `since` next time."""

    cursor: datetime
    assets: list[StoredAsset]
    counts: dict[str, int]


# Rows carry `updated_at = now()`, the start of their transaction, but become visible only at
# commit; a short transaction may commit after a poll that already moved past its timestamp.
# Handing out a cursor this far behind the poll's own clock means a page sees such a row on its
# next poll (rows may come twice; the page keys them by id). Our transactions last milliseconds.
CURSOR_OVERLAP = timedelta(seconds=5)


class MediaLibrary:
    def __init__(
        self,
        db: Database,
        storage: LocalStorage | S3Storage,
        settings: MediaSettings,
        photo_set: PhotoSet | None = None,
    ) -> None:
        self._db = db
        self._storage = storage
        self._settings = settings
        self.photo_set = photo_set or PhotoSet(settings, Clock())

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
                    ordered_services=[s.key for s in event.services],
                )
            )
        log.info("gallery.opened", gallery_id=str(event.gallery_id))

    async def take_appointment(self, event: AppointmentEvent) -> bool:
        return await take_appointment(self._db, event)

    async def list_galleries(self, viewer: Identity) -> list[Gallery]:
        query = select(galleries).order_by(galleries.c.created_at.desc()).limit(200)
        if viewer.role == "photographer":
            query = query.where(
                galleries.c.id.in_(
                    select(assignments.c.gallery_id).where(
                        assignments.c.photographer_id == viewer.user_id
                    )
                )
            )
        elif not viewer.is_admin:
            query = query.where(galleries.c.org_id == viewer.org_id)
        async with self._db.sessions() as session:
            return [Gallery.from_row(row) for row in (await session.execute(query)).mappings()]

    async def gallery(self, gallery_id: uuid.UUID, viewer: Identity) -> Gallery:
        async with self._db.sessions() as session:
            row = (
                (await session.execute(select(galleries).where(galleries.c.id == gallery_id)))
                .mappings()
                .first()
            )
            allowed = row is not None and (
                viewer.may_access(row["org_id"]) or await assigned(session, gallery_id, viewer)
            )
        if row is None or not allowed:
            raise NotFound("gallery")
        return Gallery.from_row(row)

    async def ordered_services(self, gallery_id: uuid.UUID) -> list[str] | None:
        """The services the gallery's order included (None: opened before they were kept)."""
        async with self._db.sessions() as session:
            services: list[str] | None = await session.scalar(
                select(galleries.c.ordered_services).where(galleries.c.id == gallery_id)
            )
        return services

    async def accepts_upload(self, key: str) -> bool:
        """A signed PUT URL works only while its asset waits for its bytes."""
        async with self._db.sessions() as session:
            status = await session.scalar(
                select(assets.c.status).where(assets.c.original_key == key)
            )
        return status == "pending"

    async def watermarked(self, gallery_id: uuid.UUID, viewer: Identity) -> bool:
        """The viewer sees the gallery's watermarked copies: its order waits for payment
        (previews.py). Platform staff see the clean renditions."""
        if viewer.is_admin:
            return False
        async with self._db.sessions() as session:
            return await gallery_unpaid(session, gallery_id)

    async def preview_urls(
        self, asset: StoredAsset, *, watermarked: bool = False
    ) -> dict[str, str | None]:
        """Short-lived links to the anonymised renditions (never the original); while the
        order is unpaid to their watermarked copies, and none where no copy is made yet."""
        urls: dict[str, str | None] = {"thumb_url": None, "web_url": None}
        keys = (
            (("thumb_url", asset.preview_thumb_key), ("web_url", asset.preview_web_key))
            if watermarked
            else (("thumb_url", asset.thumb_key), ("web_url", asset.web_key))
        )
        for name, key in keys:
            if key:
                urls[name] = await self._storage.signed_url(key, "GET", expires_in=900)
        if asset.file_key and not watermarked:
            # A floor plan's or video's delivered file; an unpaid order shows its preview only.
            urls["file_url"] = await self._storage.signed_url(asset.file_key, "GET", expires_in=900)
        return urls

    async def gallery_assets(self, gallery_id: uuid.UUID, viewer: Identity) -> list[StoredAsset]:
        await self.gallery(gallery_id, viewer)
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(assets)
                .where(assets.c.gallery_id == gallery_id, assets.c.status != "pending")
                .order_by(assets.c.created_at)
            )
            return [StoredAsset.from_row(row) for row in rows.mappings()]

    async def asset(self, asset_id: uuid.UUID, viewer: Identity) -> StoredAsset:
        async with self._db.sessions() as session:
            row = (
                (await session.execute(select(assets).where(assets.c.id == asset_id)))
                .mappings()
                .first()
            )
            allowed = row is not None and (
                viewer.may_access(row["org_id"])
                or await assigned(session, row["gallery_id"], viewer)
            )
        if row is None or not allowed:
            raise NotFound("asset")
        return StoredAsset.from_row(row)

    async def gallery_status(
        self, gallery_id: uuid.UUID, viewer: Identity, since: datetime | None
    ) -> StatusPage:
        """Assets changed since `since` (all when None) plus counts per status: one cheap
        indexed query per poll, for the upload page."""
        await self.gallery(gallery_id, viewer)
        async with self._db.sessions() as session:
            clock = await session.scalar(select(func.clock_timestamp()))
            query = (
                select(assets)
                .where(assets.c.gallery_id == gallery_id, assets.c.status != "pending")
                .order_by(assets.c.updated_at)
            )
            if since is not None:
                query = query.where(assets.c.updated_at >= since)
            rows = [StoredAsset.from_row(row) for row in (await session.execute(query)).mappings()]
            counted = await session.execute(
                select(assets.c.status, func.count())
                .where(assets.c.gallery_id == gallery_id, assets.c.status != "pending")
                .group_by(assets.c.status)
            )
            counts: dict[str, int] = {status: n for status, n in counted.all()}
        assert clock is not None
        return StatusPage(cursor=clock - CURSOR_OVERLAP, assets=rows, counts=counts)

    async def delete_asset(self, asset_id: uuid.UUID, by: Identity) -> None:
        """Delete the row and announce it in one transaction, then the stored files.

        A worker still processing the photo finds the row gone when it finishes and removes
        what it stored. Files that fail to delete are only orphans, never a half-deleted photo.
        """
        asset = await self.asset(asset_id, by)
        async with self._db.transaction() as session:
            row = (
                (
                    await session.execute(
                        assets.delete().where(assets.c.id == asset_id).returning(*assets.c)
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                return
            await self.photo_set.changed(session, row["gallery_id"])
            await enqueue(
                session,
                outbox,
                AssetDeleted(
                    asset_id=row["id"],
                    gallery_id=row["gallery_id"],
                    org_id=row["org_id"],
                    version=row["version"],
                    pseudonym=row["pseudonym"],
                    deleted_by=by.user_id,
                ),
                source=SOURCE,
            )
        if asset.upload_id:
            await self._storage.abort_multipart(asset.original_key, asset.upload_id)
        for key in (
            row["original_key"],
            row["web_key"],
            row["thumb_key"],
            row["file_key"],
            row["preview_web_key"],
            row["preview_thumb_key"],
        ):
            if key:
                await self._storage.delete(key)
        if row["web_key"]:
            # What was made on request beside the renditions (arrangement.py's portal copies).
            await self._storage.delete_prefix(row["web_key"].rsplit("/", 1)[0] + "/")
        log.info("asset.deleted", asset_id=str(asset_id))

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
        """A caption (or captioning's refusal) completes the photo; an edit or a regenerated
        caption changes the set. Older news never overwrites newer: a caption version below
        the recorded one, or a failure after the photo was captioned, changes nothing."""
        current = assets.c.id == event.asset_id, assets.c.version == event.asset_version
        if isinstance(event, CaptionReady):
            statement = (
                update(assets)
                .where(
                    *current,
                    func.coalesce(assets.c.caption_version, 0) <= event.caption_version,
                )
                .values(
                    status="captioned", caption_version=event.caption_version, error_message=None
                )
            )
        else:
            statement = (
                update(assets)
                .where(*current, assets.c.status != "captioned")
                .values(status="failed", error_message=event.reason[:500])
            )
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            changed = await session.execute(statement.returning(assets.c.gallery_id))
            if changed.first() is not None:
                await self.photo_set.changed(session, event.gallery_id)
