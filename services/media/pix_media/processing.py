"""The processing worker: uploaded original → anonymised renditions → `media.asset.uploaded.v1`.

The database is the queue: `complete` marks a photo `queued`; a worker claims the oldest one
(`FOR UPDATE SKIP LOCKED`, so several workers and several media processes never take the same
photo), decodes, orients, converts to sRGB, strips metadata, blurs faces and renders in a thread
pool, stores the renditions, and only then commits `processed` with the event in the outbox.
Claims bump `attempts`; the final update requires the same value, so a worker that was presumed
dead and re-queued by the reconciler cannot overwrite the newer attempt's result.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from asyncpg import Record, UniqueViolationError
from pix_contracts.rooms import pseudonym_stem, room_from_filename
from pix_runtime.clock import Clock
from pix_runtime.db import Database, DriverStatement
from pix_runtime.logging import get_logger
from pix_runtime.outbox import driver_enqueue, outbox_values
from pix_runtime.storage import LocalStorage, ObjectNotFound, S3Storage
from sqlalchemy import String, bindparam, case, cast, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from pix_media.delivery import PhotoSet
from pix_media.faces import FaceScan, warm_up_detector
from pix_media.imaging import ImageRejected, ProcessedImage, process_image
from pix_media.models import assets, outbox, room_sequences
from pix_media.service import SOURCE, uploaded_event
from pix_media.settings import MediaSettings

log = get_logger(__name__)
_T = TypeVar("_T")

# Fallback poll when idle: photos queued by another media process, or re-queued by the
# reconciler, are picked up within this time even without an in-process wake-up.
IDLE_POLL_SECONDS = 1.0


# The statements every photo runs go straight to asyncpg (`DriverStatement`): through
# SQLAlchemy they cost ~3 ms of the worker's CPU per photo, a third of its overhead over the
# bare codec pipeline.

# The oldest queued photo, marked `processing`.
_CLAIM = DriverStatement(
    update(assets)
    .where(
        assets.c.id
        == select(assets.c.id)
        .where(assets.c.status == "queued")
        .order_by(assets.c.updated_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    .values(status="processing", attempts=assets.c.attempts + 1)
    .returning(
        assets.c.id,
        assets.c.gallery_id,
        assets.c.label,
        assets.c.original_key,
        assets.c.attempts,
    )
)


# Storing a result is one statement: take the room's next number (the upsert
# locks the counter row, so concurrent photos of one room get distinct numbers) and finish the
# photo with it — only the attempt that claimed it (a re-queued photo has a newer attempt).
_NEXT_NUMBER = (
    pg_insert(room_sequences)
    .values(gallery_id=bindparam("gallery"), room=bindparam("room"), last=1)
    .on_conflict_do_update(
        index_elements=[room_sequences.c.gallery_id, room_sequences.c.room],
        set_={"last": room_sequences.c.last + 1},
    )
    .returning(room_sequences.c.last)
    .cte("next_number")
)
_NUMBER = select(_NEXT_NUMBER.c.last).scalar_subquery()
_FINISH = DriverStatement(
    update(assets)
    .where(
        assets.c.id == bindparam("asset"),
        assets.c.status == "processing",
        assets.c.attempts == bindparam("claimed_attempt"),
    )
    .values(
        status="processed",
        sha256=bindparam("new_sha256"),
        content_type=bindparam("new_content_type"),
        web_key=bindparam("new_web_key"),
        thumb_key=bindparam("new_thumb_key"),
        width=bindparam("new_width"),
        height=bindparam("new_height"),
        room_type=bindparam("new_room_type"),
        sequence=_NUMBER,
        # Kitchen_01 … Kitchen_99, Kitchen_100: at least two digits.
        pseudonym=bindparam("stem", type_=String)
        + case((_NUMBER < 10, "_0"), else_="_")
        + cast(_NUMBER, String),
        faces_blurred=bindparam("new_faces_blurred"),
        error_code=None,
        error_message=None,
    )
    .returning(*assets.c)
)
_ENQUEUE = driver_enqueue(outbox)


class _Superseded(Exception):
    """The photo was re-queued or deleted meanwhile: roll back the number taken."""


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


class Processor:
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
        self._photo_set = photo_set or PhotoSet(settings, Clock())
        self._wake = asyncio.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        threads = max(1, self._settings.workers)
        # Each thread loads its face detector before the first photo, not during it.
        self._pool = ThreadPoolExecutor(
            threads, thread_name_prefix="media-cpu", initializer=warm_up_detector
        )
        # One photo more in flight than CPU threads: while one waits on storage or the
        # database, the next one's decoding keeps the threads busy.
        self._tasks = [asyncio.create_task(self._loop()) for _ in range(threads + 1)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def _loop(self) -> None:
        while True:
            try:
                worked = await self.process_next()
            except Exception:
                log.warning("processing.loop_failed", exc_info=True)
                worked = False
                await asyncio.sleep(IDLE_POLL_SECONDS)
            if worked:
                # More may be waiting: let an idle sibling look too.
                self._wake.set()
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_POLL_SECONDS)

    async def _claim(self) -> Record | None:
        # One statement is atomic on its own: no BEGIN/COMMIT round trips for the hottest query.
        async with self._db.driver_connection() as driver:
            row: Record | None = await _CLAIM.fetchrow(driver)
            return row

    async def process_next(self) -> bool:
        """Claim and process one queued photo; False when there was none."""
        row = await self._claim()
        if row is None:
            return False
        await self._process(row)
        return True

    async def _cpu(self, fn: functools.partial[_T]) -> _T:
        if self._pool is None:  # used without start() (tests): a private pool
            return await asyncio.to_thread(fn)
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def _process(self, row: Record) -> None:
        settings = self._settings
        try:
            async with self._storage.local_file(row["original_key"]) as path:
                # A photo uploaded twice is found by the unique index when it is stored (see
                # `_store`): asking first would cost every photo a database round trip to
                # save rendering the rare duplicate.
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
            await self._reject(row, exc.code, exc.message)
            return
        except ObjectNotFound:
            await self._reject(row, "not_uploaded", "the uploaded file is gone")
            return
        except Exception:
            log.warning("asset.processing_failed", asset_id=str(row["id"]), exc_info=True)
            await self._retry_later(row)
            return
        await self._store(row, sha256, processed)

    async def _store(self, row: Record, sha256: str, processed: ProcessedImage) -> None:
        base = f"renditions/{row['gallery_id']}/{row['id']}"
        web_key, thumb_key = f"{base}/web.jpg", f"{base}/thumb.jpg"
        try:
            await self._storage.put_bytes(web_key, processed.web.data, "image/jpeg")
            await self._storage.put_bytes(thumb_key, processed.thumb.data, "image/jpeg")
        except Exception:
            log.warning("asset.store_failed", asset_id=str(row["id"]), exc_info=True)
            await self._retry_later(row)
            return
        room = room_from_filename(row["label"])
        try:
            async with self._db.driver_transaction(wake_after_commit=True) as driver:
                done = await _FINISH.fetchrow(
                    driver,
                    gallery=row["gallery_id"],
                    room=room.value if room else "",
                    stem=pseudonym_stem(room),
                    asset=row["id"],
                    claimed_attempt=row["attempts"],
                    new_sha256=sha256,
                    new_content_type=processed.content_type,
                    new_web_key=web_key,
                    new_thumb_key=thumb_key,
                    new_width=processed.original_width,
                    new_height=processed.original_height,
                    new_room_type=room.value if room else None,
                    new_faces_blurred=processed.faces_blurred,
                )
                if done is None:
                    raise _Superseded
                event = uploaded_event(done)
                await _ENQUEUE.execute(driver, **outbox_values(event, source=SOURCE))
        except _Superseded:
            await self._drop_renditions(row, [web_key, thumb_key])
            return
        except UniqueViolationError as exc:
            if exc.constraint_name != "assets_gallery_sha256":
                raise
            # The same bytes finished first in a concurrent upload: the unique index decided.
            duplicate = await self._duplicate_of(row, sha256)
            await self._reject(
                row, "duplicate", f"this photo is already in the gallery (asset {duplicate})"
            )
            await self._drop_renditions(row, [web_key, thumb_key])
            return
        log.info(
            "asset.processed",
            asset_id=str(row["id"]),
            pseudonym=done["pseudonym"],
            faces=processed.faces_blurred,
        )

    async def _drop_renditions(self, row: Record, keys: list[str]) -> None:
        """Remove renditions only if the asset is gone (deleted meanwhile) or rejected; a newer
        attempt of the same asset writes the very same keys and must keep them."""
        async with self._db.sessions() as session:
            status = await session.scalar(select(assets.c.status).where(assets.c.id == row["id"]))
        if status in (None, "rejected"):
            for key in keys:
                await self._storage.delete(key)

    async def _duplicate_of(self, row: Record, sha256: str) -> object:
        async with self._db.sessions() as session:
            return await session.scalar(
                select(assets.c.id).where(
                    assets.c.gallery_id == row["gallery_id"],
                    assets.c.sha256 == sha256,
                    assets.c.id != row["id"],
                )
            )

    async def _reject(self, row: Record, code: str, message: str) -> None:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(assets)
                .where(
                    assets.c.id == row["id"],
                    assets.c.status == "processing",
                    assets.c.attempts == row["attempts"],
                )
                .values(status="rejected", error_code=code, error_message=message[:500])
            )
            if result.rowcount:  # type: ignore[attr-defined]
                await self._photo_set.changed(session, row["gallery_id"])
        if result.rowcount:  # type: ignore[attr-defined]
            # Nothing of a refused file is kept.
            await self._storage.delete(row["original_key"])
            log.info("asset.rejected", asset_id=str(row["id"]), code=code)

    async def _retry_later(self, row: Record) -> None:
        """A failure that is not the photo's fault (storage, database): queue it again, until
        `max_attempts`, then reject it so it cannot loop for ever."""
        if row["attempts"] >= self._settings.max_attempts:
            await self._reject(row, "processing_failed", "the photo could not be processed")
            return
        async with self._db.transaction() as session:
            await session.execute(
                update(assets)
                .where(
                    assets.c.id == row["id"],
                    assets.c.status == "processing",
                    assets.c.attempts == row["attempts"],
                )
                .values(status="queued")
            )

    async def requeue_stalled(self) -> int:
        """Reconciler: photos `processing` past the timeout (their worker died) are queued
        again, or rejected after `max_attempts`; queued ones get a worker woken for them."""
        cutoff = func.now() - func.make_interval(
            0, 0, 0, 0, 0, 0, self._settings.processing_timeout_seconds
        )
        stalled = (assets.c.status == "processing") & (assets.c.updated_at < cutoff)
        async with self._db.transaction() as session:
            requeued = await session.execute(
                update(assets)
                .where(stalled, assets.c.attempts < self._settings.max_attempts)
                .values(status="queued")
            )
            given_up = await session.execute(
                update(assets)
                .where(stalled, assets.c.attempts >= self._settings.max_attempts)
                .values(
                    status="rejected",
                    error_code="processing_failed",
                    error_message="the photo could not be processed",
                )
                .returning(assets.c.gallery_id)
            )
            refused_in = {gallery_id for (gallery_id,) in given_up.all()}
            for gallery_id in refused_in:
                await self._photo_set.changed(session, gallery_id)
        count = int(requeued.rowcount) + len(refused_in)  # type: ignore[attr-defined]
        if count:
            log.warning("assets.requeued_processing", count=count)
        self.wake()
        return count
