"""Floor plans and videos: what the order included may be delivered with its photos.

An upload names its kind (`photo`, the default; `floor_plan`; `video`): a PNG may be a photo or
a plan, so the content alone cannot decide; the content must then match the kind (a floor plan
is a PDF, PNG or SVG, a video an MP4, checked by bytes). Only the services the order included
(`OrderPlaced.services`: `floorplan`, `video`), kept on the gallery, allow the kind; anything
else is refused when the upload starts, before a byte is sent.

A deliverable runs through the same upload (single PUT or multipart) and completion as a photo,
then its own job (`media.process-deliverable`): floor_plans.py or video.py checks and cleans
it, the cleaned file and a JPEG preview (the plan's first page, the video's poster frame) are
stored beside the photos' renditions, and the asset becomes `ready` under a pseudonym
(`FloorPlan_01.pdf`, `Video_01.mp4`). It is never announced for captioning; it joins the
gallery's set as done and travels with the delivery (`GalleryDelivered.deliverables`).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, Protocol

from pix_contracts import DeliverableInSet
from pix_runtime.db import Database
from pix_runtime.errors import Invalid
from pix_runtime.jobs import JobContext, RetryPolicy, enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.outages import is_outage
from pix_runtime.storage import LocalStorage, ObjectNotFound, S3Storage
from pydantic import BaseModel
from sqlalchemy import RowMapping, bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pix_media.files import FileRejected
from pix_media.floor_plans import FloorPlan, accepted_floor_plan, process_floor_plan
from pix_media.imaging import Rendition
from pix_media.models import assets, jobs
from pix_media.numbering import NUMBERED
from pix_media.settings import MediaSettings
from pix_media.video import MEDIA_TYPE as VIDEO_TYPE
from pix_media.video import Video, accepted_video, process_video

if TYPE_CHECKING:
    from pix_media.previews import Previews


class GallerySet(Protocol):
    """The gallery's set for delivery (pix_media.delivery.PhotoSet, which reads deliverables
    from here): told when a floor plan or video joins it."""

    async def changed(self, session: AsyncSession, gallery_id: uuid.UUID) -> None: ...


log = get_logger(__name__)

AssetKind = Literal["photo", "floor_plan", "video"]
PROCESS_DELIVERABLE: Final = "media.process-deliverable"
# The order's service that allows each kind (pix_orders.catalogue keys).
SERVICE_OF_KIND: Final[dict[str, str]] = {"floor_plan": "floorplan", "video": "video"}
STEM_OF_KIND: Final[dict[str, str]] = {"floor_plan": "FloorPlan", "video": "Video"}
EXTENSIONS: Final[dict[str, str]] = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/svg+xml": "svg",
    VIDEO_TYPE: "mp4",
}
# Enough of the head to find an SVG's root element after an XML prolog and a comment.
SNIFF_BYTES: Final = 1024
KIND_NAMES: Final[dict[str, str]] = {"floor_plan": "floor plans", "video": "videos"}


def asset_kind(stored: str) -> AssetKind:
    if stored in ("floor_plan", "video"):
        return "floor_plan" if stored == "floor_plan" else "video"
    return "photo"


def check_ordered(kind: AssetKind, ordered_services: list[str] | None) -> None:
    """Refuse a kind the order did not include (photos are always welcome)."""
    if kind == "photo":
        return
    if SERVICE_OF_KIND[kind] not in (ordered_services or []):
        raise Invalid(
            "service_not_ordered",
            f"{KIND_NAMES[kind]} were not ordered for this order, so none can be delivered",
            "kind",
        )


def upload_limit(kind: AssetKind, settings: MediaSettings) -> int:
    if kind == "floor_plan":
        return settings.max_floor_plan_bytes
    if kind == "video":
        return settings.max_video_bytes
    return settings.max_upload_bytes


def accepted_deliverable(kind: str, head: bytes) -> str:
    """The media type by the file's first bytes, or FileRejected."""
    if kind == "floor_plan":
        return accepted_floor_plan(head)
    return accepted_video(head)


class ProcessDeliverable(BaseModel):
    asset_id: uuid.UUID
    gallery_id: uuid.UUID
    kind: Literal["floor_plan", "video"]
    original_key: str


async def enqueue_deliverable(session: AsyncSession, row: RowMapping) -> None:
    """In the transaction that marks the floor plan or video `queued`."""
    get = row.__getitem__  # a RowMapping
    payload = ProcessDeliverable(
        asset_id=get("id"),
        gallery_id=get("gallery_id"),
        kind=get("kind"),
        original_key=get("original_key"),
    )
    await enqueue_job(session, jobs, PROCESS_DELIVERABLE, payload, key=str(payload.asset_id))


# As a photo's result (processing.py): the kind's next number and the finished row in one
# statement, only while the asset is still `queued`.
_FINISH = (
    update(assets)
    .where(assets.c.id == bindparam("asset"), assets.c.status == "queued")
    .values(
        status="ready",
        sha256=bindparam("new_sha256"),
        content_type=bindparam("new_content_type"),
        web_key=bindparam("new_web_key"),
        thumb_key=bindparam("new_thumb_key"),
        file_key=bindparam("new_file_key"),
        file_sha256=bindparam("new_file_sha256"),
        file_size=bindparam("new_file_size"),
        width=bindparam("new_width"),
        height=bindparam("new_height"),
        duration_ms=bindparam("new_duration_ms"),
        page_count=bindparam("new_page_count"),
        **NUMBERED,
        error_code=None,
        error_message=None,
    )
    .returning(assets.c.id, assets.c.pseudonym)
)


@dataclass(frozen=True)
class _Checked:
    media_type: str
    data: bytes
    width: int
    height: int
    page_count: int | None
    duration_ms: int | None
    web: bytes
    thumb: bytes


def _check(
    kind: str, path: Path, settings: MediaSettings
) -> tuple[str, _Checked]:  # runs in a thread
    with path.open("rb") as handle:
        original_sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
    web: Rendition
    if kind == "floor_plan":
        plan: FloorPlan = process_floor_plan(
            path.read_bytes(),
            max_pixels=settings.max_pixels,
            max_pages=settings.max_floor_plan_pages,
            web_edge=settings.web_edge,
            thumb_edge=settings.thumb_edge,
        )
        web = plan.web
        checked = _Checked(
            media_type=plan.media_type,
            data=plan.data,
            width=plan.width,
            height=plan.height,
            page_count=plan.page_count,
            duration_ms=None,
            web=web.data,
            thumb=plan.thumb.data,
        )
    else:
        video: Video = process_video(
            path,
            max_seconds=settings.max_video_seconds,
            web_edge=settings.web_edge,
            thumb_edge=settings.thumb_edge,
        )
        checked = _Checked(
            media_type=VIDEO_TYPE,
            data=video.data,
            width=video.width,
            height=video.height,
            page_count=None,
            duration_ms=round(video.duration_seconds * 1000),
            web=video.poster_web.data,
            thumb=video.poster_thumb.data,
        )
    return original_sha256, checked


class DeliverableProcessing:
    """The `media.process-deliverable` job's handler."""

    def __init__(
        self,
        db: Database,
        storage: LocalStorage | S3Storage,
        settings: MediaSettings,
        photo_set: GallerySet,
        previews: Previews | None = None,
    ) -> None:
        self._db = db
        self._storage = storage
        self._settings = settings
        self._photo_set = photo_set
        self._previews = previews
        self.policy = RetryPolicy(
            max_attempts=settings.max_attempts, base_seconds=2.0, max_seconds=60.0
        )
        # A long video remuxes for a while; the lease must outlast it.
        self.timeout = timedelta(seconds=max(settings.processing_timeout_seconds, 600))

    async def process(self, job: ProcessDeliverable, ctx: JobContext) -> None:
        if ctx.attempt > self.policy.max_attempts:
            await self._reject(job, "processing_failed", "the file could not be processed")
            return
        try:
            await self._attempt(job, ctx)
        except Exception as exc:
            if ctx.attempt < self.policy.max_attempts or is_outage(exc):
                raise
            log.warning("deliverable.processing_failed", asset_id=str(job.asset_id), exc_info=True)
            await self._reject(job, "processing_failed", "the file could not be processed")

    async def _attempt(self, job: ProcessDeliverable, ctx: JobContext) -> None:
        try:
            async with self._storage.local_file(job.original_key) as path:
                sha256, checked = await asyncio.to_thread(
                    functools.partial(_check, job.kind, path, self._settings)
                )
        except FileRejected as exc:
            await self._reject(job, exc.code, exc.message)
            return
        except ObjectNotFound:
            await self._reject(job, "not_uploaded", "the uploaded file is gone")
            return
        base = f"renditions/{job.gallery_id}/{job.asset_id}"
        extension = EXTENSIONS[checked.media_type]
        web_key, thumb_key = f"{base}/web.jpg", f"{base}/thumb.jpg"
        file_key = f"{base}/file.{extension}"
        await self._storage.put_bytes(file_key, checked.data, checked.media_type)
        await self._storage.put_bytes(web_key, checked.web, "image/jpeg")
        await self._storage.put_bytes(thumb_key, checked.thumb, "image/jpeg")
        keys = [file_key, web_key, thumb_key]
        try:
            async with self._db.transaction() as session:
                done = (
                    (
                        await session.execute(
                            _FINISH,
                            {
                                "gallery": job.gallery_id,
                                "room": job.kind,
                                "stem": STEM_OF_KIND[job.kind],
                                "asset": job.asset_id,
                                "new_sha256": sha256,
                                "new_content_type": checked.media_type,
                                "new_web_key": web_key,
                                "new_thumb_key": thumb_key,
                                "new_file_key": file_key,
                                "new_file_sha256": hashlib.sha256(checked.data).hexdigest(),
                                "new_file_size": len(checked.data),
                                "new_width": checked.width,
                                "new_height": checked.height,
                                "new_duration_ms": checked.duration_ms,
                                "new_page_count": checked.page_count,
                            },
                        )
                    )
                    .mappings()
                    .first()
                )
                if done is None:  # deleted or refused meanwhile
                    await ctx.finish(session)
                else:
                    # Done, and so part of the gallery's set: the delivery check may act.
                    await self._photo_set.changed(session, job.gallery_id)
                    await ctx.finish(session)
        except IntegrityError as exc:
            if "assets_gallery_sha256" not in str(exc.orig):
                raise
            await self._reject(job, "duplicate", "this file is already in the gallery")
            await self._drop(keys)
            return
        if done is None:
            await self._drop(keys)
            return
        log.info("deliverable.ready", asset_id=str(job.asset_id), pseudonym=done["pseudonym"])
        if self._previews is not None:
            await self._previews.photo_processed(job.gallery_id, job.asset_id)

    async def _drop(self, keys: list[str]) -> None:
        for key in keys:
            await self._storage.delete(key)

    async def _reject(self, job: ProcessDeliverable, code: str, message: str) -> None:
        async with self._db.transaction() as session:
            refused = await session.execute(
                update(assets)
                .where(assets.c.id == job.asset_id, assets.c.status == "queued")
                .values(status="rejected", error_code=code, error_message=message[:500])
                .returning(assets.c.id)
            )
            if refused.first() is None:
                return
            await self._photo_set.changed(session, job.gallery_id)
        await self._storage.delete(job.original_key)
        log.info("deliverable.rejected", asset_id=str(job.asset_id), code=code)


# What the delivery's set needs of a floor plan or video (delivery.py selects these too).
DELIVERABLE_COLUMNS: Final = (
    assets.c.kind,
    assets.c.pseudonym,
    assets.c.content_type,
    assets.c.file_key,
    assets.c.file_size,
    assets.c.file_sha256,
    assets.c.web_key,
    assets.c.duration_ms,
)


def deliverable_in_set(row: RowMapping) -> DeliverableInSet:
    """A ready floor plan or video as the delivery announces it."""
    get = row.__getitem__
    extension = EXTENSIONS.get(get("content_type"), "bin")
    duration = get("duration_ms")
    return DeliverableInSet(
        asset_id=get("id"),
        kind=get("kind"),
        name=f"{get('pseudonym')}.{extension}",
        file_key=get("file_key"),
        media_type=get("content_type"),
        byte_size=get("file_size"),
        sha256=get("file_sha256"),
        preview_key=get("web_key"),
        duration_seconds=duration / 1000 if duration is not None else None,
    )
