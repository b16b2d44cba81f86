"""Processing, a job: uploaded original → anonymised renditions → `media.asset.uploaded.v1`.

`complete` marks a photo `queued` and enqueues its `media.process` job (key: the asset) in the
same transaction; the job queue (`pix_runtime.jobs`) is woken by that commit and runs it at once
in this process, or in any media process after a crash. The handler hashes, decodes, orients,
converts to sRGB, strips metadata, blurs faces and renders in a thread pool, stores the
renditions, and commits `processed` with the event in the outbox and the job's completion in one
transaction. The photo's row fences late results: only a `queued` photo is finished or refused,
so a worker presumed dead whose job was taken over cannot overwrite the newer result.

A failure that is not the photo's fault (storage, the database) is retried by the job layer;
after the last attempt, or when an attempt itself died (the job taken over after its lease)
that often, the photo is refused with `processing_failed`, so it cannot loop for ever and its
gallery's photo set can complete.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from pix_contracts.rooms import pseudonym_stem, room_from_filename
from pix_runtime.db import Database
from pix_runtime.jobs import JobContext, RetryPolicy, enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.outages import is_outage
from pix_runtime.outbox import enqueue
from pix_runtime.storage import LocalStorage, ObjectNotFound, S3Storage
from pydantic import BaseModel
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pix_media.delivery import PhotoSet
from pix_media.faces import FaceScan, warm_up_detector
from pix_media.imaging import ImageRejected, ProcessedImage, process_image
from pix_media.models import assets, jobs, outbox
from pix_media.numbering import NUMBERED
from pix_media.previews import Previews
from pix_media.service import SOURCE, uploaded_event
from pix_media.settings import MediaSettings

log = get_logger(__name__)
_T = TypeVar("_T")

PROCESS = "media.process"


class ProcessPhoto(BaseModel):
    """What the handler needs of the photo, so it starts without reading the row."""

    asset_id: uuid.UUID
    gallery_id: uuid.UUID
    label: str
    original_key: str


async def enqueue_processing(session: AsyncSession, row: Any) -> None:
    """In the transaction that marks the photo `queued`."""
    photo = ProcessPhoto(
        asset_id=row["id"],
        gallery_id=row["gallery_id"],
        label=row["label"],
        original_key=row["original_key"],
    )
    await enqueue_job(session, jobs, PROCESS, photo, key=str(photo.asset_id))


# Storing a result is one statement: take the room's next number (the upsert locks the counter
# row, so concurrent photos of one room get distinct numbers) and finish the photo with it —
# only while it is still `queued` (deleted, refused or finished by a job taken over: nothing).
_FINISH = (
    update(assets)
    .where(assets.c.id == bindparam("asset"), assets.c.status == "queued")
    .values(
        status="processed",
        sha256=bindparam("new_sha256"),
        content_type=bindparam("new_content_type"),
        web_key=bindparam("new_web_key"),
        thumb_key=bindparam("new_thumb_key"),
        width=bindparam("new_width"),
        height=bindparam("new_height"),
        room_type=bindparam("new_room_type"),
        **NUMBERED,
        faces_blurred=bindparam("new_faces_blurred"),
        error_code=None,
        error_message=None,
    )
    .returning(*assets.c)
)


class _Superseded(Exception):
    """The photo was deleted, refused or finished meanwhile: roll back the number taken."""


def _hash_and_render(
    path: Path, *, max_pixels: int, web_edge: int, thumb_edge: int, face_scan: FaceScan
) -> tuple[str, ProcessedImage]:
    """Both CPU steps in one hop to the thread pool. Pillow and the hash each read the file:
    reading it into memory once instead costs more (page faults on a fresh buffer)."""
    rendered = process_image(
        path,
        max_pixels=max_pixels,
        web_edge=web_edge,
        thumb_edge=thumb_edge,
        face_scan=face_scan,
    )
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest(), rendered


def _violated(exc: IntegrityError) -> str | None:
    """The constraint asyncpg named (SQLAlchemy wraps its exception)."""
    return getattr(exc.orig.__cause__, "constraint_name", None) if exc.orig else None


class PhotoProcessing:
    """The `media.process` job's handler and the thread pool it renders in."""

    def __init__(
        self,
        db: Database,
        storage: LocalStorage | S3Storage,
        settings: MediaSettings,
        photo_set: PhotoSet,
        previews: Previews | None = None,
    ) -> None:
        self._db = db
        self._storage = storage
        self._settings = settings
        self._photo_set = photo_set
        self._previews = previews
        self._pool: ThreadPoolExecutor | None = None
        # A failed attempt is usually storage or the database away a moment: soon again.
        self.policy = RetryPolicy(
            max_attempts=settings.max_attempts, base_seconds=2.0, max_seconds=60.0
        )
        self.timeout = timedelta(seconds=settings.processing_timeout_seconds)

    async def start(self) -> None:
        # Each thread loads its face detector before the first photo, not during it.
        self._pool = ThreadPoolExecutor(
            max(1, self._settings.workers),
            thread_name_prefix="media-cpu",
            initializer=warm_up_detector,
        )

    async def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def _cpu(self, fn: functools.partial[_T]) -> _T:
        if self._pool is None:  # used without start() (tests): a private pool
            return await asyncio.to_thread(fn)
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def process(self, photo: ProcessPhoto, ctx: JobContext) -> None:
        if ctx.attempt > self.policy.max_attempts:
            # Every attempt died under it (taken over after its lease): never again.
            await self._reject(photo, "processing_failed", "the photo could not be processed")
            return
        try:
            await self._attempt(photo, ctx)
        except Exception as exc:
            if ctx.attempt < self.policy.max_attempts or is_outage(exc):
                raise  # the job layer tries again after its backoff
            log.warning("asset.processing_failed", asset_id=str(photo.asset_id), exc_info=True)
            await self._reject(photo, "processing_failed", "the photo could not be processed")

    async def _attempt(self, photo: ProcessPhoto, ctx: JobContext) -> None:
        settings = self._settings
        try:
            async with self._storage.local_file(photo.original_key) as path:
                # A photo uploaded twice is found by the unique index when it is stored:
                # asking first would cost every photo a database round trip to save
                # rendering the rare duplicate.
                sha256, processed = await self._cpu(
                    functools.partial(
                        _hash_and_render,
                        path,
                        max_pixels=settings.max_pixels,
                        web_edge=settings.web_edge,
                        thumb_edge=settings.thumb_edge,
                        face_scan=settings.face_scan,
                    )
                )
        except ImageRejected as exc:
            await self._reject(photo, exc.code, exc.message)
            return
        except ObjectNotFound:
            await self._reject(photo, "not_uploaded", "the uploaded file is gone")
            return
        base = f"renditions/{photo.gallery_id}/{photo.asset_id}"
        web_key, thumb_key = f"{base}/web.jpg", f"{base}/thumb.jpg"
        await self._storage.put_bytes(web_key, processed.web.data, "image/jpeg")
        await self._storage.put_bytes(thumb_key, processed.thumb.data, "image/jpeg")
        room = room_from_filename(photo.label)
        try:
            async with self._db.transaction() as session:
                done = (
                    (
                        await session.execute(
                            _FINISH,
                            {
                                "gallery": photo.gallery_id,
                                "room": room.value if room else "",
                                "stem": pseudonym_stem(room),
                                "asset": photo.asset_id,
                                "new_sha256": sha256,
                                "new_content_type": processed.content_type,
                                "new_web_key": web_key,
                                "new_thumb_key": thumb_key,
                                "new_width": processed.original_width,
                                "new_height": processed.original_height,
                                "new_room_type": room.value if room else None,
                                "new_faces_blurred": processed.faces_blurred,
                            },
                        )
                    )
                    .mappings()
                    .first()
                )
                if done is None:
                    raise _Superseded
                await enqueue(session, outbox, uploaded_event(done), source=SOURCE)
                await ctx.finish(session)
        except _Superseded:
            await self._drop_renditions(photo, [web_key, thumb_key])
            return
        except IntegrityError as exc:
            if _violated(exc) != "assets_gallery_sha256":
                raise
            # The same bytes finished first in a concurrent upload: the unique index decided.
            duplicate = await self._duplicate_of(photo, sha256)
            await self._reject(
                photo, "duplicate", f"this photo is already in the gallery (asset {duplicate})"
            )
            await self._drop_renditions(photo, [web_key, thumb_key])
            return
        log.info(
            "asset.processed",
            asset_id=str(photo.asset_id),
            pseudonym=done["pseudonym"],
            faces=processed.faces_blurred,
        )
        if self._previews is not None:
            await self._previews.photo_processed(photo.gallery_id, photo.asset_id)

    async def _drop_renditions(self, photo: ProcessPhoto, keys: list[str]) -> None:
        """Remove renditions only if the asset is gone (deleted meanwhile) or rejected; another
        attempt of the same asset writes the very same keys and must keep them."""
        async with self._db.sessions() as session:
            status = await session.scalar(
                select(assets.c.status).where(assets.c.id == photo.asset_id)
            )
        if status in (None, "rejected"):
            for key in keys:
                await self._storage.delete(key)

    async def _duplicate_of(self, photo: ProcessPhoto, sha256: str) -> object:
        async with self._db.sessions() as session:
            return await session.scalar(
                select(assets.c.id).where(
                    assets.c.gallery_id == photo.gallery_id,
                    assets.c.sha256 == sha256,
                    assets.c.id != photo.asset_id,
                )
            )

    async def _reject(self, photo: ProcessPhoto, code: str, message: str) -> None:
        async with self._db.transaction() as session:
            refused = await session.execute(
                update(assets)
                .where(assets.c.id == photo.asset_id, assets.c.status == "queued")
                .values(status="rejected", error_code=code, error_message=message[:500])
                .returning(assets.c.id)
            )
            if refused.first() is None:
                return
            await self._photo_set.changed(session, photo.gallery_id)
        # Nothing of a refused file is kept.
        await self._storage.delete(photo.original_key)
        log.info("asset.rejected", asset_id=str(photo.asset_id), code=code)
