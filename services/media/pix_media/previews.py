"""Watermarked previews while an order waits for payment.

Billing's `billing.order.payment-required.v1` marks the order's gallery as unpaid and
`billing.order.paid.v1` (online, bank transfer or waived) as paid; either may come first (a
payment that overtook its payment-required leaves the gallery clean), and an order billing
never asked payment for (billing off, a free order) is never watermarked. While some order of a
gallery is unpaid, its members are handed links to watermarked copies of the web rendition and
the thumbnail (`watermark.py`), never to the clean ones; platform staff still see the clean
renditions. The clean renditions stay what captioning and export read.

The copies are made once, by a `media.watermark` job, and kept: for the whole gallery when the
payment is required, and for each photo processed while it is unpaid. So paying costs no image
work at all: the next request after the paid event gets the clean links. A photo whose copy is
not made yet has no link while unpaid (the page shows it without an image for a moment).

Why the photo's job is enqueued after processing committed, not in its transaction: the
gallery's job is enqueued with the payment and reads the photos after that commit, and a
processed photo looks for the payment after its own commit, so of the two at least one sees
the other (each writes, commits, then reads).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from pix_contracts.billing import OrderPaid, OrderPaymentRequired
from pix_runtime.db import Database
from pix_runtime.inbox import first_delivery
from pix_runtime.jobs import JobContext, RetryPolicy, enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.storage import LocalStorage, ObjectNotFound, S3Storage
from pydantic import BaseModel
from sqlalchemy import Exists, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_media.models import assets, inbox, jobs, order_payments
from pix_media.watermark import watermark_jpeg

log = get_logger(__name__)

WATERMARK = "media.watermark"
# The inbox consumer of every media handler.
CONSUMER = "media"
POLICY = RetryPolicy(max_attempts=8, base_seconds=2.0, max_seconds=120.0)
TIMEOUT = timedelta(minutes=5)


class WatermarkPhotos(BaseModel):
    """Make the missing watermarked copies of a gallery's photos (or of one photo)."""

    gallery_id: uuid.UUID
    asset_id: uuid.UUID | None = None


def _unpaid(gallery_id: uuid.UUID) -> Exists:
    p = order_payments
    return exists().where(
        p.c.gallery_id == gallery_id, p.c.required_at.is_not(None), p.c.paid_at.is_(None)
    )


async def gallery_unpaid(session: AsyncSession, gallery_id: uuid.UUID) -> bool:
    """Some order of the gallery must be paid and is not: its members see watermarked copies."""
    return bool(await session.scalar(select(_unpaid(gallery_id))))


def preview_keys(web_key: str) -> tuple[str, str]:
    """Beside the renditions: deleting or replacing a photo's folder takes them along."""
    base = web_key.rsplit("/", 1)[0]
    return f"{base}/preview-web.jpg", f"{base}/preview-thumb.jpg"


class Previews:
    """The payment state per order, and the job that makes the watermarked copies."""

    def __init__(self, db: Database, storage: LocalStorage | S3Storage) -> None:
        self._db = db
        self._storage = storage

    async def take_payment_required(self, event: OrderPaymentRequired) -> None:
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            await self._record(
                session,
                event.order_id,
                event.gallery_id,
                event.org_id,
                required_at=event.occurred_at,
            )
            unpaid = await gallery_unpaid(session, event.gallery_id)
            if unpaid:
                await enqueue_job(
                    session,
                    jobs,
                    WATERMARK,
                    WatermarkPhotos(gallery_id=event.gallery_id),
                    key=str(event.gallery_id),
                )
                await self._touch(session, event.gallery_id)
        log.info(
            "media.payment_required",
            gallery_id=str(event.gallery_id),
            order_id=str(event.order_id),
            paid_before=not unpaid,
        )

    async def take_payment(self, event: OrderPaid) -> None:
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            await self._record(
                session,
                event.order_id,
                event.gallery_id,
                event.org_id,
                paid_at=event.paid_at,
                paid_via=event.via,
            )
            unpaid = await gallery_unpaid(session, event.gallery_id)
            if not unpaid:
                await self._touch(session, event.gallery_id)
        log.info(
            "media.payment_received",
            gallery_id=str(event.gallery_id),
            order_id=str(event.order_id),
            via=event.via,
            still_unpaid=unpaid,
        )

    async def _record(
        self,
        session: AsyncSession,
        order_id: uuid.UUID,
        gallery_id: uuid.UUID,
        org_id: uuid.UUID,
        **values: object,
    ) -> None:
        changes = {**values, "updated_at": func.now()}
        await session.execute(
            insert(order_payments)
            .values(order_id=order_id, gallery_id=gallery_id, org_id=org_id, **changes)
            .on_conflict_do_update(index_elements=[order_payments.c.order_id], set_=changes)
        )

    async def _touch(self, session: AsyncSession, gallery_id: uuid.UUID) -> None:
        """The status feed (changes since a cursor) hands out the other links from now on."""
        await session.execute(
            update(assets)
            .where(assets.c.gallery_id == gallery_id, assets.c.web_key.is_not(None))
            .values(updated_at=func.now())
        )

    async def photo_processed(self, gallery_id: uuid.UUID, asset_id: uuid.UUID) -> None:
        """After the photo's processing committed: its copy, if its gallery is unpaid."""
        async with self._db.transaction() as session:
            if await gallery_unpaid(session, gallery_id):
                await enqueue_job(
                    session,
                    jobs,
                    WATERMARK,
                    WatermarkPhotos(gallery_id=gallery_id, asset_id=asset_id),
                    key=str(asset_id),
                )

    async def render(self, job: WatermarkPhotos, ctx: JobContext) -> None:
        """The `media.watermark` job: copy every rendition still without its watermarked one."""
        query = select(assets.c.id, assets.c.web_key, assets.c.thumb_key).where(
            assets.c.gallery_id == job.gallery_id,
            assets.c.web_key.is_not(None),
            assets.c.thumb_key.is_not(None),
            assets.c.preview_web_key.is_(None),
        )
        if job.asset_id is not None:
            query = query.where(assets.c.id == job.asset_id)
        async with self._db.sessions() as session:
            if not await gallery_unpaid(session, job.gallery_id):
                return  # paid meanwhile: nothing to hide
            photos = (await session.execute(query)).all()
        made = 0
        for asset_id, web_key, thumb_key in photos:
            made += await self._copy(asset_id, web_key, thumb_key)
        if made:
            log.info("media.previews_watermarked", gallery_id=str(job.gallery_id), photos=made)

    async def _copy(self, asset_id: uuid.UUID, web_key: str, thumb_key: str) -> int:
        try:
            web = await self._storage.get_bytes(web_key)
            thumb = await self._storage.get_bytes(thumb_key)
        except ObjectNotFound:
            return 0  # deleted meanwhile
        marked_web, marked_thumb = await asyncio.to_thread(
            lambda: (watermark_jpeg(web), watermark_jpeg(thumb))
        )
        preview_web, preview_thumb = preview_keys(web_key)
        await self._storage.put_bytes(preview_web, marked_web, "image/jpeg")
        await self._storage.put_bytes(preview_thumb, marked_thumb, "image/jpeg")
        async with self._db.transaction() as session:
            stored = await session.execute(
                update(assets)
                .where(assets.c.id == asset_id, assets.c.web_key == web_key)
                .values(preview_web_key=preview_web, preview_thumb_key=preview_thumb)
                .returning(assets.c.id)
            )
            if stored.first() is not None:
                return 1
        # The photo went meanwhile: so do its copies.
        await self._storage.delete(preview_web)
        await self._storage.delete(preview_thumb)
        return 0
