"""A gallery's photo set and its delivery.

Media owns the set: every photo uploaded into a gallery is in flight (uploading, queued or
being processed, waiting for its caption) until it is captioned, or refused (by media's checks
or by captioning). The set is complete when nothing is in flight and at least one photo made it.

Every change that can complete the set (a caption recorded, a photo refused or deleted, an
abandoned upload removed) bumps the gallery's `set_version` and schedules a check for that
version after a quiet period (a job keyed by gallery and version; the one of the previous
version is cancelled). Only the check of the latest version acts, so a burst of uploads is
judged once, after it. The check announces the set's state (`media.gallery.state-changed.v1`)
when it changed and, with auto-delivery on (or for a gallery delivered before, whose later
changes are updates), delivers.

Delivering (the check, or a person with one click) records the delivery and announces the set
as `media.gallery.delivered.v1` with its photos: export builds exactly that set, orders moves
the order to `delivered`, notify mails the client once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pix_contracts import DeliverableInSet, GalleryDelivered, GalleryStateChanged, PhotoInSet
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import Conflict, Forbidden, NotFound
from pix_runtime.identity import Identity
from pix_runtime.jobs import JobContext, cancel_jobs, enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue
from pydantic import BaseModel
from sqlalchemy import RowMapping, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pix_media.assignments import assigned
from pix_media.deliverables import DELIVERABLE_COLUMNS, deliverable_in_set
from pix_media.models import assets, galleries, jobs, outbox
from pix_media.settings import MediaSettings

SOURCE = "/pix/media"
CHECK = "media.delivery-check"
log = get_logger(__name__)

# Statuses of a photo that is done: in the set, or refused.
IN_SET = ("captioned", "failed")
IN_FLIGHT = ("pending", "queued", "processed")


class DeliveryCheck(BaseModel):
    gallery_id: uuid.UUID
    set_version: int


@dataclass(frozen=True)
class SetState:
    """What the photo set of a gallery looks like now."""

    set_version: int
    photos: list[PhotoInSet]
    rejected: int
    in_flight: int
    # Floor plans and videos ready to go with the photos (never captioned).
    deliverables: list[DeliverableInSet] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.in_flight == 0 and bool(self.photos)


@dataclass(frozen=True)
class DeliveryView:
    gallery_id: uuid.UUID
    state: str
    set_version: int
    photo_count: int
    in_flight: int
    delivery_count: int
    delivered_set_version: int | None
    delivered_at: datetime | None
    auto_deliver: bool

    @property
    def delivered(self) -> bool:
        return self.delivery_count > 0

    @property
    def up_to_date(self) -> bool:
        """Delivered, and nothing changed since."""
        return self.delivered and self.delivered_set_version == self.set_version


class PhotoSet:
    """The bookkeeping every writer of a photo's status calls in its own transaction."""

    def __init__(self, settings: MediaSettings, clock: Clock) -> None:
        self._quiet = timedelta(seconds=settings.delivery_quiet_seconds)
        self._clock = clock

    async def changed(self, session: AsyncSession, gallery_id: uuid.UUID) -> None:
        """The set of `gallery_id` changed in this transaction: check it after the quiet
        period (the row update also serialises concurrent changes of one gallery)."""
        version = await session.scalar(
            update(galleries)
            .where(galleries.c.id == gallery_id)
            .values(set_version=galleries.c.set_version + 1)
            .returning(galleries.c.set_version)
        )
        if version is None:
            return
        await cancel_jobs(session, jobs, CHECK, key_prefix=f"{gallery_id}:")
        await enqueue_job(
            session,
            jobs,
            CHECK,
            DeliveryCheck(gallery_id=gallery_id, set_version=version),
            run_at=self._clock.now() + self._quiet,
            key=f"{gallery_id}:{version}",
        )


class Deliveries:
    def __init__(self, db: Database, settings: MediaSettings, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock

    async def _set_state(self, session: AsyncSession, gallery: RowMapping) -> SetState:
        # An upload whose signed URL ran out long ago is abandoned, not in flight (the
        # cleanup removes it later); it must not hold the delivery for a day.
        stale = self._clock.now() - timedelta(seconds=self._settings.upload_url_seconds)
        rows = (
            await session.execute(
                select(
                    assets.c.id,
                    assets.c.status,
                    assets.c.version,
                    assets.c.caption_version,
                    *DELIVERABLE_COLUMNS,
                ).where(
                    assets.c.gallery_id == gallery["id"],
                    or_(
                        assets.c.status != "pending",
                        and_(assets.c.status == "pending", assets.c.created_at >= stale),
                    ),
                )
            )
        ).all()
        photos = [
            PhotoInSet(
                asset_id=r.id,
                version=r.version,
                outcome="captioned" if r.status == "captioned" else "caption_failed",
                caption_version=r.caption_version if r.status == "captioned" else None,
            )
            for r in sorted(rows, key=lambda r: str(r.id))
            if r.status in IN_SET and r.kind == "photo"
        ]
        return SetState(
            set_version=gallery["set_version"],
            photos=photos,
            rejected=sum(1 for r in rows if r.status == "rejected"),
            in_flight=sum(1 for r in rows if r.status in IN_FLIGHT),
            deliverables=[
                deliverable_in_set(r._mapping)
                for r in sorted(rows, key=lambda r: (r.kind, r.pseudonym or ""))
                if r.kind != "photo" and r.status == "ready"
            ],
        )

    async def _locked(self, session: AsyncSession, gallery_id: uuid.UUID) -> RowMapping | None:
        return (
            (
                await session.execute(
                    select(galleries).where(galleries.c.id == gallery_id).with_for_update()
                )
            )
            .mappings()
            .first()
        )

    async def check(self, payload: DeliveryCheck, ctx: JobContext) -> None:
        """The job after the quiet period: announce the set's state, deliver if due."""
        async with self._db.transaction() as session:
            gallery = await self._locked(session, payload.gallery_id)
            if gallery is not None and gallery["set_version"] == payload.set_version:
                state = await self._set_state(session, gallery)
                await self._announce(session, gallery, state)
                automatic = self._settings.auto_deliver or gallery["delivery_count"] > 0
                if (
                    automatic
                    and state.complete
                    and gallery["delivered_set_version"] != state.set_version
                ):
                    await self._deliver(session, gallery, state, by=None)
            # A newer version has its own check queued: this one only finishes.
            await ctx.finish(session)

    async def _announce(self, session: AsyncSession, gallery: RowMapping, state: SetState) -> None:
        name = "complete" if state.complete else "in_progress"
        # News: the state flipped, or a different set is complete. A set still in progress
        # after one more change is not.
        unchanged = gallery["announced_set_version"] == state.set_version or not state.complete
        if gallery["announced_set_version"] is not None and gallery["state"] == name and unchanged:
            return
        await session.execute(
            update(galleries)
            .where(galleries.c.id == gallery["id"])
            .values(state=name, announced_set_version=state.set_version)
        )
        await enqueue(
            session,
            outbox,
            GalleryStateChanged(
                gallery_id=gallery["id"],
                org_id=gallery["org_id"],
                order_id=gallery["order_id"],
                state=name,
                set_version=state.set_version,
                photo_count=len(state.photos),
                rejected_count=state.rejected,
                in_flight=state.in_flight,
                delivered=gallery["delivery_count"] > 0,
            ),
            source=SOURCE,
        )

    async def _deliver(
        self, session: AsyncSession, gallery: RowMapping, state: SetState, *, by: uuid.UUID | None
    ) -> int:
        delivery = int(gallery["delivery_count"]) + 1
        await session.execute(
            update(galleries)
            .where(galleries.c.id == gallery["id"])
            .values(
                delivery_count=delivery,
                delivered_set_version=state.set_version,
                delivered_at=self._clock.now(),
                delivered_by=by,
            )
        )
        await enqueue(
            session,
            outbox,
            GalleryDelivered(
                gallery_id=gallery["id"],
                org_id=gallery["org_id"],
                order_id=gallery["order_id"],
                delivery=delivery,
                set_version=state.set_version,
                photos=state.photos,
                delivered_by=by,
                automatic=by is None,
                deliverables=state.deliverables,
            ),
            source=SOURCE,
        )
        log.info(
            "gallery.delivered",
            gallery_id=str(gallery["id"]),
            delivery=delivery,
            photos=len(state.photos),
            automatic=by is None,
        )
        return delivery

    async def deliver(self, gallery_id: uuid.UUID, by: Identity) -> DeliveryView:
        """A person delivers the gallery now: an administrator, or the photographer who shot
        its order."""
        if not (by.is_admin or by.role == "photographer"):
            raise Forbidden("only administrators and photographers may deliver a gallery")
        async with self._db.transaction() as session:
            gallery = await self._locked(session, gallery_id)
            if gallery is None or not (by.is_admin or await assigned(session, gallery_id, by)):
                raise NotFound("gallery")
            state = await self._set_state(session, gallery)
            if not state.photos:
                raise Conflict("gallery_empty", "the gallery has no captioned photo yet")
            if state.in_flight:
                raise Conflict(
                    "gallery_incomplete",
                    f"{state.in_flight} photo(s) are still being uploaded, processed or captioned",
                )
            if gallery["delivered_set_version"] == state.set_version:
                raise Conflict("already_delivered", "the gallery is delivered and unchanged")
            await self._announce(session, gallery, state)
            await self._deliver(session, gallery, state, by=by.user_id)
            # The delivery decided what the quiet check would have decided.
            await cancel_jobs(session, jobs, CHECK, key_prefix=f"{gallery_id}:")
        return await self.view(gallery_id, by)

    async def view(self, gallery_id: uuid.UUID, viewer: Identity) -> DeliveryView:
        async with self._db.sessions() as session:
            gallery = (
                (await session.execute(select(galleries).where(galleries.c.id == gallery_id)))
                .mappings()
                .first()
            )
            if gallery is None or not (
                viewer.may_access(gallery["org_id"]) or await assigned(session, gallery_id, viewer)
            ):
                raise NotFound("gallery")
            state = await self._set_state(session, gallery)
        return DeliveryView(
            gallery_id=gallery_id,
            state="complete" if state.complete else "in_progress",
            set_version=state.set_version,
            photo_count=len(state.photos),
            in_flight=state.in_flight,
            delivery_count=gallery["delivery_count"],
            delivered_set_version=gallery["delivered_set_version"],
            delivered_at=gallery["delivered_at"],
            auto_deliver=self._settings.auto_deliver,
        )
