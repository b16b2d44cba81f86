"""The client's gallery: the photos' order, the title picture, and downloads by use.

The order and the title picture are the client's (dragged and picked on the gallery page); they
are stored per gallery and announced as `media.gallery.arranged.v1`, so export makes the title
picture the cover of its next version. Photos uploaded after the last arrangement follow the
arranged ones in upload order.

Downloads come in sizes named for their use:

- `web`: the anonymised web rendition media made at processing (longest side 2000 px);
- `portal`: ready for ImmoScout24 and immowelt, at most 1920 px and 5 MB, made on first request
  from the web rendition (so faces stay blurred) and kept beside the other renditions;
- `print`: the original as uploaded (gone once the retention deleted it).

A selection downloads as one ZIP, streamed as it is written: the photos are JPEGs already, so
they are stored, not compressed, and the first bytes leave before the last photo is read.
"""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal

from PIL import Image
from pix_contracts.galleries import GalleryArranged
from pix_runtime.db import Database
from pix_runtime.errors import Conflict, DomainError, Invalid, NotFound
from pix_runtime.identity import Identity
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue
from pix_runtime.storage import LocalStorage, ObjectNotFound, S3Storage
from pydantic import BaseModel, ConfigDict
from sqlalchemy import RowMapping, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_media.imaging import Rendition, _encode_jpeg, _fit, _resize
from pix_media.models import assets, galleries, gallery_arrangements, outbox
from pix_media.previews import gallery_unpaid
from pix_media.service import SOURCE, StoredAsset

log = get_logger(__name__)

DownloadSize = Literal["web", "portal", "print"]
SIZES: tuple[DownloadSize, ...] = ("web", "portal", "print")
# ImmoScout24 and immowelt take pictures up to 5 MB; beyond ~1920 px they scale them down anyway.
PORTAL_EDGE = 1920
PORTAL_MAX_BYTES = 5_000_000
PORTAL_QUALITIES = (88, 80, 70, 60, 50)
# Statuses of a photo the client sees: its renditions exist (captioning may have given up).
SHOWN = ("processed", "captioned", "failed")
MAX_SELECTION = 500
# The signed download links live as long as the gallery page's preview links.
LINK_SECONDS = 900
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/tiff": "tif",
    "image/heic": "heic",
    "image/heif": "heif",
}


class PaymentRequired(DomainError):
    """The gallery's order waits for payment: its photos are shown watermarked, not handed out."""

    status = 402

    def __init__(self) -> None:
        super().__init__(
            "payment_required", "the downloads are released once the order's invoice is paid"
        )


class Arrangement(BaseModel):
    """The gallery's photos in the client's order, and its title picture."""

    model_config = ConfigDict(frozen=True)

    gallery_id: uuid.UUID
    asset_ids: list[uuid.UUID]
    title_asset_id: uuid.UUID | None
    revision: int


@dataclass(frozen=True)
class ShownPhoto:
    """A photo of the client's gallery, with what downloads need to know of it."""

    asset: StoredAsset
    version: int
    content_type: str | None
    original_deleted: bool

    @property
    def id(self) -> uuid.UUID:
        return self.asset.id

    @property
    def name(self) -> str:
        return self.asset.pseudonym or str(self.asset.id)


@dataclass(frozen=True)
class PhotoDownload:
    """A short-lived link to one photo in one size, and the name to save it as."""

    asset_id: uuid.UUID
    size: DownloadSize
    url: str
    file_name: str


@dataclass(frozen=True)
class _PhotoFile:
    key: str
    file_name: str


def render_portal(web_jpeg: bytes) -> Rendition:
    """The portal-ready JPEG of a web rendition: long side at most 1920 px, at most 5 MB (the
    quality steps down until it fits; a 1920 px photo is ~1 MB at the first step)."""
    with Image.open(io.BytesIO(web_jpeg), formats=["JPEG"]) as source:
        source.load()
        frame = source if source.mode == "RGB" else source.convert("RGB")
        fitted = _resize(frame, _fit(frame.size, PORTAL_EDGE))
    for quality in PORTAL_QUALITIES:
        data = _encode_jpeg(fitted, quality)
        if len(data) <= PORTAL_MAX_BYTES:
            break
    else:
        fitted = _resize(fitted, _fit(fitted.size, PORTAL_EDGE // 2))
        data = _encode_jpeg(fitted, PORTAL_QUALITIES[-1])
    return Rendition(data, fitted.width, fitted.height)


def arranged(photos: Sequence[ShownPhoto], order: Sequence[uuid.UUID]) -> list[ShownPhoto]:
    """The photos in the client's order; the rest after them, as they came."""
    place = {asset_id: i for i, asset_id in enumerate(order)}
    return sorted(photos, key=lambda p: place.get(p.id, len(place)))


class _ZipSink(io.RawIOBase):
    """Where zipfile writes: collects the bytes for the response to send (not seekable, so
    zipfile writes data descriptors instead of seeking back)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        chunk = bytes(data)  # type: ignore[call-overload]
        self._chunks.append(chunk)
        return len(chunk)

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


class GalleryArrangement:
    """Order, title picture and downloads of a gallery, for its organisation's members and, by
    `sharing.py`, for whoever holds a share link."""

    def __init__(self, db: Database, storage: LocalStorage | S3Storage) -> None:
        self._db = db
        self._storage = storage

    # --- reading ------------------------------------------------------------------------------

    async def member_gallery(
        self, session: AsyncSession, gallery_id: uuid.UUID, viewer: Identity
    ) -> RowMapping:
        """The gallery, for its organisation's members and admins; 404 for everyone else."""
        row = (
            (await session.execute(select(galleries).where(galleries.c.id == gallery_id)))
            .mappings()
            .first()
        )
        if row is None or not viewer.may_access(row["org_id"]):
            raise NotFound("gallery")
        return row

    async def photos(self, session: AsyncSession, gallery_id: uuid.UUID) -> list[ShownPhoto]:
        """The gallery's shown photos in the client's order (no access check: callers do)."""
        rows = (
            await session.execute(
                select(assets)
                .where(
                    assets.c.gallery_id == gallery_id,
                    assets.c.status.in_(SHOWN),
                    assets.c.web_key.is_not(None),
                )
                .order_by(assets.c.created_at, assets.c.id)
            )
        ).mappings()
        photos = [
            ShownPhoto(
                asset=StoredAsset.from_row(row),
                version=row["version"],
                content_type=row["content_type"],
                original_deleted=row["original_deleted_at"] is not None,
            )
            for row in rows
        ]
        order = await session.scalar(
            select(gallery_arrangements.c.photo_order).where(
                gallery_arrangements.c.gallery_id == gallery_id
            )
        )
        return arranged(photos, order or [])

    async def current(self, session: AsyncSession, gallery_id: uuid.UUID) -> Arrangement:
        photos = await self.photos(session, gallery_id)
        row = (
            (
                await session.execute(
                    select(gallery_arrangements).where(
                        gallery_arrangements.c.gallery_id == gallery_id
                    )
                )
            )
            .mappings()
            .first()
        )
        shown = {p.id for p in photos}
        title = row["title_asset_id"] if row is not None else None
        return Arrangement(
            gallery_id=gallery_id,
            asset_ids=[p.id for p in photos],
            # A deleted title picture is no title picture: export falls back to its default.
            title_asset_id=title if title in shown else None,
            revision=row["revision"] if row is not None else 0,
        )

    async def arrangement(self, gallery_id: uuid.UUID, viewer: Identity) -> Arrangement:
        async with self._db.sessions() as session:
            await self.member_gallery(session, gallery_id, viewer)
            return await self.current(session, gallery_id)

    # --- arranging ----------------------------------------------------------------------------

    async def reorder(
        self, gallery_id: uuid.UUID, asset_ids: list[uuid.UUID], viewer: Identity
    ) -> Arrangement:
        """The client's order: the given photos first, in this order (a partial list is fine;
        the rest follow as before)."""
        if len(set(asset_ids)) != len(asset_ids):
            raise Invalid("duplicate_photo", "a photo appears twice in the order", "asset_ids")
        async with self._db.transaction() as session:
            gallery = await self.member_gallery(session, gallery_id, viewer)
            before = await self.photos(session, gallery_id)
            known = {p.id for p in before}
            if any(a not in known for a in asset_ids):
                raise Invalid("unknown_photo", "not a photo of this gallery", "asset_ids")
            given = set(asset_ids)
            order = [*asset_ids, *(p.id for p in before if p.id not in given)]
            return await self._store(session, gallery, photo_order=order)

    async def choose_title(
        self, gallery_id: uuid.UUID, asset_id: uuid.UUID | None, viewer: Identity
    ) -> Arrangement:
        """The title picture (None: back to export's default choice)."""
        async with self._db.transaction() as session:
            gallery = await self.member_gallery(session, gallery_id, viewer)
            if asset_id is not None and asset_id not in {
                p.id for p in await self.photos(session, gallery_id)
            }:
                raise Invalid("unknown_photo", "not a photo of this gallery", "asset_id")
            return await self._store(session, gallery, title_asset_id=asset_id)

    async def _store(
        self, session: AsyncSession, gallery: RowMapping, **changes: object
    ) -> Arrangement:
        values = {**changes, "updated_at": func.now()}
        await session.execute(
            insert(gallery_arrangements)
            .values(gallery_id=gallery["id"], org_id=gallery["org_id"], revision=1, **values)
            .on_conflict_do_update(
                index_elements=[gallery_arrangements.c.gallery_id],
                set_={**values, "revision": gallery_arrangements.c.revision + 1},
            )
        )
        arrangement = await self.current(session, gallery["id"])
        await enqueue(
            session,
            outbox,
            GalleryArranged(
                gallery_id=gallery["id"],
                org_id=gallery["org_id"],
                asset_ids=arrangement.asset_ids,
                title_asset_id=arrangement.title_asset_id,
                revision=arrangement.revision,
            ),
            source=SOURCE,
        )
        log.info("gallery.arranged", gallery_id=str(gallery["id"]), revision=arrangement.revision)
        return arrangement

    # --- downloads ----------------------------------------------------------------------------

    async def _downloadable(
        self, session: AsyncSession, gallery_id: uuid.UUID, viewer: Identity | None
    ) -> list[ShownPhoto]:
        """The photos a download may hand out: none while the order waits for payment (platform
        staff excepted)."""
        if (viewer is None or not viewer.is_admin) and await gallery_unpaid(session, gallery_id):
            raise PaymentRequired()
        return await self.photos(session, gallery_id)

    async def download(
        self,
        gallery_id: uuid.UUID,
        asset_id: uuid.UUID,
        size: DownloadSize,
        viewer: Identity,
    ) -> PhotoDownload:
        async with self._db.sessions() as session:
            await self.member_gallery(session, gallery_id, viewer)
        return await self.download_of(gallery_id, asset_id, size, viewer)

    async def download_of(
        self,
        gallery_id: uuid.UUID,
        asset_id: uuid.UUID,
        size: DownloadSize,
        viewer: Identity | None = None,
    ) -> PhotoDownload:
        """One photo in one size, its access already checked (a member, or a share link)."""
        async with self._db.sessions() as session:
            photos = await self._downloadable(session, gallery_id, viewer)
        photo = next((p for p in photos if p.id == asset_id), None)
        if photo is None:
            raise NotFound("photo")
        file = await self._file(photo, size)
        url = await self._storage.signed_url(file.key, "GET", expires_in=LINK_SECONDS)
        return PhotoDownload(asset_id=asset_id, size=size, url=url, file_name=file.file_name)

    async def _file(self, photo: ShownPhoto, size: DownloadSize) -> _PhotoFile:
        web_key = photo.asset.web_key
        if web_key is None:  # not shown without one; for the type checker
            raise NotFound("photo")
        if size == "web":
            return _PhotoFile(web_key, f"{photo.name}-web.jpg")
        if size == "print":
            if photo.original_deleted:
                raise Conflict(
                    "original_deleted",
                    "the original was deleted after the retention period; "
                    "the web size is still there",
                )
            extension = _EXTENSIONS.get(photo.content_type or "", "jpg")
            return _PhotoFile(photo.asset.original_key, f"{photo.name}-print.{extension}")
        # The version in the key: a reprocessed photo gets a new portal copy, never a stale one.
        key = f"{web_key.rsplit('/', 1)[0]}/portal-v{photo.version}.jpg"
        if not await self._storage.exists(key):
            try:
                web = await self._storage.get_bytes(web_key)
            except ObjectNotFound as exc:
                raise NotFound("photo") from exc
            rendition = await asyncio.to_thread(render_portal, web)
            await self._storage.put_bytes(key, rendition.data, "image/jpeg")
            log.info(
                "photo.portal_rendered",
                asset_id=str(photo.id),
                width=rendition.width,
                height=rendition.height,
                bytes=len(rendition.data),
            )
        return _PhotoFile(key, f"{photo.name}-portal.jpg")

    async def selection(
        self,
        gallery_id: uuid.UUID,
        asset_ids: list[uuid.UUID],
        size: DownloadSize,
        viewer: Identity | None,
        *,
        checked: bool = False,
    ) -> list[ShownPhoto]:
        """The chosen photos (all when none chosen), in the client's order; checked here unless
        the caller did (a share link)."""
        if len(asset_ids) > MAX_SELECTION:
            raise Invalid("too_many_photos", f"at most {MAX_SELECTION} photos at once", "asset_id")
        async with self._db.sessions() as session:
            if not checked:
                if viewer is None:
                    raise NotFound("gallery")
                await self.member_gallery(session, gallery_id, viewer)
            photos = await self._downloadable(session, gallery_id, viewer)
        if not asset_ids:
            return photos
        chosen = set(asset_ids)
        picked = [p for p in photos if p.id in chosen]
        if len(picked) != len(chosen):
            raise NotFound("photo")
        return picked

    async def zip_of(self, photos: list[ShownPhoto], size: DownloadSize) -> AsyncIterator[bytes]:
        """The photos as one ZIP, written while it is sent."""
        sink = _ZipSink()
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
            for photo in photos:
                file = await self._file(photo, size)
                try:
                    data = await self._storage.get_bytes(file.key)
                except ObjectNotFound:
                    continue  # deleted while the ZIP was written
                archive.writestr(file.file_name, data)
                yield sink.take()
        yield sink.take()
