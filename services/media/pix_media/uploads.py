"""Uploads: signed URLs straight to storage, multipart for large files, completion, clean-up.

Small files go up with one signed PUT. Files above `multipart_threshold_bytes` go up in parts
of `part_bytes` through signed part URLs (S3 multipart; the local adapter speaks the same
protocol); `parts` tells a client which parts arrived, so after a dropped connection it resends
only the missing ones. `complete` checks what is cheap (the object is there, its size, its magic
bytes), marks the photo `queued` and enqueues its processing job (`processing.py`) in the same
transaction; everything else happens there.
"""

from __future__ import annotations

import math
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pix_runtime.db import Database
from pix_runtime.errors import Invalid, TooLarge
from pix_runtime.identity import Identity
from pix_runtime.logging import get_logger
from pix_runtime.storage import (
    LocalStorage,
    MultipartError,
    ObjectNotFound,
    S3Storage,
    UploadedPart,
)
from sqlalchemy import select, update

from pix_media.deliverables import SNIFF_BYTES as DELIVERABLE_SNIFF_BYTES
from pix_media.deliverables import (
    AssetKind,
    accepted_deliverable,
    asset_kind,
    check_ordered,
    enqueue_deliverable,
    upload_limit,
)
from pix_media.files import FileRejected
from pix_media.imaging import SNIFF_BYTES, ImageRejected, accepted_type
from pix_media.models import assets
from pix_media.processing import enqueue_processing
from pix_media.service import MediaLibrary, StoredAsset
from pix_media.settings import MediaSettings

log = get_logger(__name__)
# Control, format (bidi overrides, zero-width), private-use, surrogate, unassigned, separators.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
# Not in a name anyone reads (and not in a Windows file name): markup and path punctuation.
REFUSED_IN_NAMES = frozenset('<>:"|?*')


def display_name(file_name: str) -> str:
    """The client's file name as a label people and CRMs can be shown: NFC, the last path
    part only, no control or bidi characters, no markup, at most 255 characters."""
    name = unicodedata.normalize("NFC", file_name).replace("\\", "/").rsplit("/", 1)[-1]
    name = " ".join(name.split())  # tabs and line breaks are spaces, not dropped
    name = "".join(
        c
        for c in name
        if unicodedata.category(c) not in HIDDEN_CATEGORIES and c not in REFUSED_IN_NAMES
    )
    name = " ".join(name.split()).strip(" .")
    return name[:255].rstrip(" .") or "photo"


@dataclass(frozen=True)
class PartUrl:
    part_number: int
    url: str


@dataclass(frozen=True)
class MultipartPlan:
    part_size: int
    part_count: int
    uploaded: list[UploadedPart]
    # Signed URLs for the parts still missing (all of them for a new upload).
    missing: list[PartUrl]


@dataclass(frozen=True)
class UploadTicket:
    asset_id: uuid.UUID
    upload_url: str | None  # the single PUT; None for a multipart upload
    method: str
    expires_at: datetime
    max_bytes: int
    multipart: MultipartPlan | None


class Uploads:
    def __init__(
        self,
        db: Database,
        storage: LocalStorage | S3Storage,
        settings: MediaSettings,
        library: MediaLibrary,
    ) -> None:
        self._db = db
        self._storage = storage
        self._settings = settings
        self._library = library

    def _expires_at(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._settings.upload_url_seconds)

    async def start(
        self,
        gallery_id: uuid.UUID,
        *,
        file_name: str,
        byte_size: int,
        by: Identity,
        kind: AssetKind = "photo",
    ) -> UploadTicket:
        gallery = await self._library.gallery(gallery_id, by)
        check_ordered(kind, await self._library.ordered_services(gallery_id))
        limit = upload_limit(kind, self._settings)
        if byte_size > limit:
            raise TooLarge("too_large", f"files may be at most {limit} bytes", "byte_size")
        asset_id = uuid.uuid4()
        # The key is ours; the client's file name is only a label.
        key = f"originals/{gallery_id}/{asset_id}"
        multipart = byte_size > self._settings.multipart_threshold_bytes
        upload_id = (
            await self._storage.create_multipart(key, "application/octet-stream")
            if multipart
            else None
        )
        try:
            async with self._db.transaction() as session:
                await session.execute(
                    assets.insert().values(
                        id=asset_id,
                        gallery_id=gallery_id,
                        org_id=gallery.org_id,
                        uploaded_by=by.user_id,
                        label=display_name(file_name),
                        kind=kind,
                        declared_bytes=byte_size,
                        original_key=key,
                        upload_id=upload_id,
                        part_size=self._settings.part_bytes if multipart else None,
                    )
                )
        except BaseException:
            if upload_id:
                await self._storage.abort_multipart(key, upload_id)
            raise
        seconds = self._settings.upload_url_seconds
        if upload_id is None:
            return UploadTicket(
                asset_id=asset_id,
                upload_url=await self._storage.signed_url(key, "PUT", expires_in=seconds),
                method="PUT",
                expires_at=self._expires_at(),
                max_bytes=limit,
                multipart=None,
            )
        asset = await self._library.asset(asset_id, by)
        return UploadTicket(
            asset_id=asset_id,
            upload_url=None,
            method="PUT",
            expires_at=self._expires_at(),
            max_bytes=limit,
            multipart=await self._plan(asset, uploaded=[]),
        )

    async def _plan(self, asset: StoredAsset, *, uploaded: list[UploadedPart]) -> MultipartPlan:
        assert asset.upload_id is not None  # only multipart uploads come here
        assert asset.part_size is not None
        upload_id, part_size = asset.upload_id, asset.part_size
        count = max(1, math.ceil(asset.declared_bytes / part_size))
        have = {p.number for p in uploaded}
        seconds = self._settings.upload_url_seconds
        missing = [
            PartUrl(
                n,
                await self._storage.signed_part_url(
                    asset.original_key, upload_id, n, expires_in=seconds
                ),
            )
            for n in range(1, count + 1)
            if n not in have
        ]
        return MultipartPlan(part_size, count, uploaded, missing)

    async def parts(self, asset_id: uuid.UUID, by: Identity) -> MultipartPlan:
        """Which parts arrived, and fresh signed URLs for the rest (to resume an upload)."""
        asset = await self._pending_multipart(asset_id, by)
        assert asset.upload_id is not None
        try:
            uploaded = await self._storage.list_parts(asset.original_key, asset.upload_id)
        except MultipartError as exc:
            raise Invalid("upload_gone", "this upload no longer exists; start again") from exc
        return await self._plan(asset, uploaded=uploaded)

    async def _pending_multipart(self, asset_id: uuid.UUID, by: Identity) -> StoredAsset:
        asset = await self._library.asset(asset_id, by)
        if asset.status != "pending" or not asset.upload_id:
            raise Invalid("not_multipart", "this asset has no multipart upload in progress")
        return asset

    async def complete(
        self, asset_id: uuid.UUID, by: Identity, parts: list[UploadedPart] | None = None
    ) -> StoredAsset:
        """Queue an uploaded photo for processing. Idempotent: a finished one is returned."""
        asset = await self._library.asset(asset_id, by)
        if asset.status != "pending":
            return asset
        if asset.upload_id:
            try:
                await self._assemble(asset, parts)
            except MultipartError as exc:
                again = await self._library.asset(asset_id, by)
                if again.status != "pending":  # a concurrent complete won
                    return again
                # A complete cut short by a database outage assembled the parts already (the
                # upload is gone, the object is there): the client's retry finishes it.
                if not await self._assembled(asset.original_key):
                    raise Invalid("bad_parts", str(exc), "parts") from exc
        key = asset.original_key
        try:
            size = await self._storage.object_size(key)
            head = await self._storage.read_head(key, SNIFF_BYTES)
        except ObjectNotFound as exc:
            raise Invalid("not_uploaded", "the file has not been uploaded yet") from exc
        limit = upload_limit(asset_kind(asset.kind), self._settings)
        try:
            if size > limit:
                raise ImageRejected("too_large", f"files may be at most {limit} bytes")
            if asset.kind == "photo":
                content_type = accepted_type(head)
            else:
                head = await self._storage.read_head(key, DELIVERABLE_SNIFF_BYTES)
                content_type = accepted_deliverable(asset.kind, head)
        except (ImageRejected, FileRejected) as exc:
            await self._reject(asset, exc.code, exc.message)
            if exc.code == "too_large":
                raise TooLarge(exc.code, exc.message, "file") from exc
            raise Invalid(exc.code, exc.message, "file") from exc
        async with self._db.transaction() as session:
            row = (
                (
                    await session.execute(
                        update(assets)
                        .where(assets.c.id == asset_id, assets.c.status == "pending")
                        .values(
                            status="queued",
                            byte_size=size,
                            content_type=content_type,
                            upload_id=None,
                        )
                        .returning(*assets.c)
                    )
                )
                .mappings()
                .first()
            )
            if row is not None and row["kind"] != "photo":
                await enqueue_deliverable(session, row)
            elif row is not None:
                await enqueue_processing(session, row)
        if row is None:
            return await self._library.asset(asset_id, by)
        log.info("asset.queued", asset_id=str(asset_id), bytes=size)
        return StoredAsset.from_row(row)

    async def _assembled(self, key: str) -> bool:
        try:
            await self._storage.object_size(key)
        except ObjectNotFound:
            return False
        return True

    async def _assemble(self, asset: StoredAsset, parts: list[UploadedPart] | None) -> None:
        assert asset.upload_id is not None  # only multipart uploads come here
        assert asset.part_size is not None
        key, upload_id = asset.original_key, asset.upload_id
        uploaded = await self._storage.list_parts(key, upload_id)
        if parts is None:
            # The client need not keep ETags: every part the plan asked for must be there.
            expected = max(1, math.ceil(asset.declared_bytes / asset.part_size))
            have = {p.number for p in uploaded}
            missing = [n for n in range(1, expected + 1) if n not in have]
            if missing:
                shown = ", ".join(map(str, missing[:10]))
                raise Invalid("parts_missing", f"parts not uploaded yet: {shown}", "parts")
            parts = [p for p in uploaded if p.number <= expected]
        await self._storage.complete_multipart(key, upload_id, parts)

    async def _reject(self, asset: StoredAsset, code: str, message: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(assets)
                .where(assets.c.id == asset.id, assets.c.status == "pending")
                .values(status="rejected", error_code=code, error_message=message[:500])
            )
            await self._library.photo_set.changed(session, asset.gallery_id)
        await self._storage.delete(asset.original_key)

    async def clean_abandoned(self) -> int:
        """Remove uploads never completed within `abandon_upload_seconds`: the parts (S3:
        AbortMultipartUpload, so no storage is billed for them), any bytes, and the row."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self._settings.abandon_upload_seconds)
        async with self._db.sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(assets)
                        .where(assets.c.status == "pending", assets.c.created_at < cutoff)
                        .limit(500)
                    )
                )
                .mappings()
                .all()
            )
        for row in rows:
            if row["upload_id"]:
                await self._storage.abort_multipart(row["original_key"], row["upload_id"])
            await self._storage.delete(row["original_key"])
            async with self._db.transaction() as session:
                removed = await session.execute(
                    assets.delete()
                    .where(assets.c.id == row["id"], assets.c.status == "pending")
                    .returning(assets.c.gallery_id)
                )
                if removed.first() is not None:
                    await self._library.photo_set.changed(session, row["gallery_id"])
        if isinstance(self._storage, LocalStorage):
            # Part folders a crash left without a row (S3: a bucket lifecycle rule does this).
            await self._storage.sweep_multipart(self._settings.abandon_upload_seconds)
        if rows:
            log.info("uploads.abandoned", count=len(rows))
        return len(rows)
