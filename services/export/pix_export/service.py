"""Exports: each gallery's captions become versioned, CRM-ready files.

Two kinds of version:
- **Delivered** versions: media decides when a gallery is delivered and announces the photo
  set it delivers (`media.gallery.delivered.v1`). Once every photo of that set has reached this
  service with at least the caption media saw (events of different topics arrive in any order,
  and may come again), exactly that set is built as a version with `delivery` and
  `complete: true`. Only these go to webhooks, CRMs and (through the event) the client's inbox.
- **Interim** previews: every caption event (ready, failed), upload, deletion, cover choice or
  the order's reference marks the gallery dirty; the periodic `flush_due` builds a preview once
  the gallery was quiet `debounce_quiet_seconds`, or at the latest `debounce_max_seconds` after
  its first unexported change. Previews serve the gallery page; nothing outside sees them but
  the event (`complete: false`, no `delivery`).

Times come from the service's clock (tests move it). Files go under
`exports/<gallery>/v<version>/` and are announced (outbox) with signed download URLs and
checksums.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import uuid
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pix_contracts import (
    AssetDeleted,
    AssetUploaded,
    CaptionFailed,
    CaptionReady,
    DeliverableInSet,
    ExportFile,
    GalleryDelivered,
    GalleryExported,
    OrderPlaced,
    PhotoInSet,
)
from pix_contracts.billing import OrderPaid, OrderPaymentRequired
from pix_contracts.rooms import cover_rank
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import Invalid, NotFound
from pix_runtime.identity import Identity
from pix_runtime.inbox import first_delivery
from pix_runtime.jobs import JobContext, JobQueue, RetryPolicy, cancel_jobs, enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue
from pix_runtime.storage import LocalStorage, ObjectNotFound, S3Storage
from pydantic import BaseModel
from sqlalchemy import RowMapping, and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_export.bundle import build_zip, image_extension
from pix_export.crm_push import CrmDesk
from pix_export.formats import all_formats
from pix_export.formats.base import (
    Deliverable,
    ExportFormat,
    FailedPhoto,
    Photo,
    PropertyFacts,
    RenderedFile,
    Snapshot,
)
from pix_export.models import (
    deleted_assets,
    entries,
    exports,
    galleries,
    inbox,
    jobs,
    order_payments,
    outbox,
)
from pix_export.payments import PaymentRequired, gallery_locked
from pix_export.settings import ExportSettings
from pix_export.webhooks import WebhookDesk

SOURCE = "/pix/export"
CONSUMER = "export"
BUNDLE_WEB = "bundle-web.zip"
BUNDLE_ORIGINAL = "bundle-original.zip"
log = get_logger(__name__)


class ExportDownload(BaseModel):
    """One file of an export version, with a freshly signed download link."""

    name: str
    format: str
    media_type: str
    download_url: str
    sha256: str
    byte_size: int

    @classmethod
    def of(cls, file: ExportFile) -> ExportDownload:
        return cls.model_validate(file, from_attributes=True)


class ExportVersion(BaseModel):
    version: int
    asset_count: int
    failed_count: int = 0
    complete: bool = False
    delivery: int | None = None
    created_at: datetime
    files: list[ExportDownload]


class GalleryPhoto(BaseModel):
    asset_id: uuid.UUID
    name: str
    status: Literal["pending", "ready", "failed"]
    room_type: str | None
    failure_reason: str | None
    cover: bool


class GalleryPhotos(BaseModel):
    """A gallery's photos as export knows them, and which one is its cover."""

    gallery_id: uuid.UUID
    reference: str | None
    cover_asset_id: uuid.UUID | None
    cover_chosen: bool
    photos: list[GalleryPhoto]


@dataclass(frozen=True)
class GalleryRecord:
    """What export knows of a gallery: its order's facts, its cover, when it changed and the
    delivery it waits to build."""

    gallery_id: uuid.UUID
    org_id: uuid.UUID
    order_id: uuid.UUID | None
    reference: str | None
    property_address: str | None
    property_type: str | None
    marketing: str | None
    living_area_m2: float | None
    rooms: float | None
    street: str | None
    house_number: str | None
    postcode: str | None
    city: str | None
    country: str | None
    contact_name: str | None
    contact_email: str | None
    locale: str
    cover_asset_id: uuid.UUID | None
    dirty_since: datetime | None
    changed_at: datetime | None
    delivery: int | None
    # The photo set of that delivery: `PhotoInSet`s as JSON.
    delivery_set: list[dict[str, Any]] | None
    built_delivery: int | None

    @classmethod
    def from_row(cls, row: RowMapping) -> GalleryRecord:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class Entry:
    """A photo of a gallery as export has it: waiting for its caption, captioned, or failed."""

    gallery_id: uuid.UUID
    asset_id: uuid.UUID
    org_id: uuid.UUID
    pseudonym: str
    status: str
    asset_version: int
    room_type: str | None
    caption_version: int
    caption: dict[str, Any] | None  # the caption's JSON as captioning sent it
    failure_reason: str | None
    web_key: str | None
    original_sha256: str | None

    @classmethod
    def from_row(cls, row: RowMapping) -> Entry:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def photo(self) -> Photo:
        """A ready photo as the formats render it."""
        # A caption event sets both (`take_caption`): a ready entry has them.
        assert self.caption is not None
        assert self.web_key is not None
        return Photo(self.asset_id, self.pseudonym, self.room_type, self.caption, self.web_key)


BUILD_GALLERY = "export.build-gallery"


class GalleryDue(BaseModel):
    """A gallery whose next version may be due (its debounce runs out)."""

    gallery_id: uuid.UUID


class ExportDesk:
    def __init__(
        self,
        db: Database,
        storage: LocalStorage | S3Storage,
        settings: ExportSettings,
        webhooks: WebhookDesk,
        formats: list[ExportFormat] | None = None,
        crm: CrmDesk | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or Clock()
        self._db = db
        self._storage = storage
        self._settings = settings
        self._webhooks = webhooks
        self._crm = crm
        self._formats = formats if formats is not None else all_formats()

    # --- events -------------------------------------------------------------------------------

    async def take_order(self, event: OrderPlaced) -> None:
        """Remember the order's reference (OpenImmo objektnr_extern) and address."""
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            values = {
                "order_id": event.order_id,
                "reference": event.reference,
                "property_address": event.property_address,
                "property_type": event.property_type,
                "marketing": event.marketing,
                "living_area_m2": event.living_area_m2,
                "rooms": event.rooms,
                "street": event.street,
                "house_number": event.house_number,
                "postcode": event.postcode,
                "city": event.city,
                "country": event.country,
                "contact_name": event.contact_name,
                "contact_email": str(event.contact_email),
                "locale": event.locale,
            }
            await session.execute(
                insert(galleries)
                .values(gallery_id=event.gallery_id, org_id=event.org_id, **values)
                .on_conflict_do_update(index_elements=[galleries.c.gallery_id], set_=values)
            )
            # Captions may have been exported before the order arrived: re-export with it.
            has_photos = await session.scalar(
                select(func.count()).where(
                    entries.c.gallery_id == event.gallery_id, entries.c.status != "pending"
                )
            )
            if has_photos:
                await self._mark_dirty(session, event.gallery_id)

    async def take_upload(self, event: AssetUploaded) -> None:
        """A photo (or a new version of it) is on its way to captioning: hold the final build."""
        if event.kind != "photo":
            return  # floor plans and videos come with the delivery, never through captioning
        async with self._db.transaction() as session:
            if not await self._admit(session, event):
                return
            upsert = insert(entries).values(
                gallery_id=event.gallery_id,
                asset_id=event.asset_id,
                org_id=event.org_id,
                pseudonym=event.pseudonym,
                status="pending",
                asset_version=event.version,
                room_type=event.room_type,
                caption_version=0,
                web_key=event.web_key,
                original_sha256=event.sha256,
            )
            await session.execute(
                upsert.on_conflict_do_update(
                    index_elements=[entries.c.gallery_id, entries.c.asset_id],
                    set_={
                        "status": "pending",
                        "asset_version": upsert.excluded.asset_version,
                        "pseudonym": upsert.excluded.pseudonym,
                        "room_type": upsert.excluded.room_type,
                        "web_key": upsert.excluded.web_key,
                        "original_sha256": upsert.excluded.original_sha256,
                        "updated_at": func.now(),
                    },
                    # Only a newer version of the photo waits again; a late copy of the
                    # upload of an already captioned version changes nothing.
                    where=entries.c.asset_version < upsert.excluded.asset_version,
                )
            )

    async def take_caption(self, event: CaptionReady) -> None:
        async with self._db.transaction() as session:
            if not await self._admit(session, event):
                return
            upsert = insert(entries).values(
                gallery_id=event.gallery_id,
                asset_id=event.asset_id,
                org_id=event.org_id,
                pseudonym=event.pseudonym,
                status="ready",
                asset_version=event.asset_version,
                room_type=event.caption.room_type,
                caption_version=event.caption_version,
                caption=event.caption.model_dump(),
                failure_reason=None,
                txt_key=event.txt_key,
                json_key=event.json_key,
                web_key=event.web_key,
            )
            new = upsert.excluded
            changed = await session.execute(
                upsert.on_conflict_do_update(
                    index_elements=[entries.c.gallery_id, entries.c.asset_id],
                    set_={
                        "status": "ready",
                        "asset_version": new.asset_version,
                        "pseudonym": new.pseudonym,
                        "room_type": new.room_type,
                        "caption_version": new.caption_version,
                        "caption": new.caption,
                        "failure_reason": None,
                        "txt_key": new.txt_key,
                        "json_key": new.json_key,
                        "web_key": new.web_key,
                        "updated_at": func.now(),
                    },
                    # Never let a caption of an older photo version, or an older caption of
                    # the same one, overwrite what is newer.
                    where=and_(
                        entries.c.asset_version <= new.asset_version,
                        or_(
                            entries.c.status != "ready",
                            entries.c.caption_version < new.caption_version,
                        ),
                    ),
                )
            )
            if changed.rowcount == 0:  # type: ignore[attr-defined]
                log.info("export.unchanged", gallery_id=str(event.gallery_id))
                return
            await self._changed(session, event.gallery_id)

    async def take_failure(self, event: CaptionFailed) -> None:
        """Captioning gave up on a photo: it leaves the CRM formats, listed as failed."""
        async with self._db.transaction() as session:
            if not await self._admit(session, event):
                return
            upsert = insert(entries).values(
                gallery_id=event.gallery_id,
                asset_id=event.asset_id,
                org_id=event.org_id,
                pseudonym=event.pseudonym,
                status="failed",
                asset_version=event.asset_version,
                caption_version=0,
                failure_reason=event.reason[:2000],
            )
            new = upsert.excluded
            changed = await session.execute(
                upsert.on_conflict_do_update(
                    index_elements=[entries.c.gallery_id, entries.c.asset_id],
                    set_={
                        "status": "failed",
                        "asset_version": new.asset_version,
                        "failure_reason": new.failure_reason,
                        "updated_at": func.now(),
                    },
                    where=or_(
                        entries.c.asset_version < new.asset_version,
                        and_(
                            entries.c.asset_version == new.asset_version,
                            entries.c.status == "pending",
                        ),
                    ),
                )
            )
            if changed.rowcount == 0:  # type: ignore[attr-defined]
                return
            await self._changed(session, event.gallery_id)

    async def take_deletion(self, event: AssetDeleted) -> None:
        """A photo was deleted: the next version leaves it out, and it never comes back."""
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            await session.execute(
                insert(deleted_assets)
                .values(asset_id=event.asset_id, gallery_id=event.gallery_id)
                .on_conflict_do_nothing()
            )
            removed = await session.execute(
                delete(entries).where(
                    entries.c.gallery_id == event.gallery_id, entries.c.asset_id == event.asset_id
                )
            )
            if removed.rowcount:  # type: ignore[attr-defined]
                await self._changed(session, event.gallery_id)
            else:
                # Never seen here, but perhaps part of a delivery that waits for it.
                await self._deliver_if_ready(session, event.gallery_id)

    async def take_delivery(self, event: GalleryDelivered) -> None:
        """Media delivered the gallery: build exactly its photo set, now or once the set's
        captions have arrived here. A later delivery supersedes one not yet built."""
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            await self._ensure_gallery(session, event.gallery_id, event.org_id)
            taken = await session.execute(
                update(galleries)
                .where(
                    galleries.c.gallery_id == event.gallery_id,
                    func.coalesce(galleries.c.delivery, 0) < event.delivery,
                )
                .values(
                    delivery=event.delivery,
                    # Floor plans and videos ride along, told apart by their `kind`.
                    delivery_set=[p.model_dump(mode="json") for p in event.photos]
                    + [d.model_dump(mode="json") for d in event.deliverables],
                )
            )
            if taken.rowcount == 0:  # type: ignore[attr-defined]
                log.info("export.delivery_superseded", gallery_id=str(event.gallery_id))
                return
            await self._try_delivery(session, event.gallery_id)

    async def take_payment_required(self, event: OrderPaymentRequired) -> None:
        """Billing wants the order paid: its gallery's downloads wait (unless paid already)."""
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            await self._ensure_gallery(session, event.gallery_id, event.org_id)
            # Taken in the order builds take it: a build sees the state before or after this.
            await self._locked_gallery(session, event.gallery_id)
            values = {
                "required_at": event.occurred_at,
                "gross_cents": event.gross_cents,
                "currency": event.currency,
                "updated_at": func.now(),
            }
            await session.execute(
                insert(order_payments)
                .values(
                    order_id=event.order_id,
                    gallery_id=event.gallery_id,
                    org_id=event.org_id,
                    **values,
                )
                .on_conflict_do_update(index_elements=[order_payments.c.order_id], set_=values)
            )
            log.info(
                "export.payment_required",
                gallery_id=str(event.gallery_id),
                order_id=str(event.order_id),
                paid_before=not await gallery_locked(session, event.gallery_id),
            )

    async def take_payment(self, event: OrderPaid) -> None:
        """The order is paid (or waived): release what its gallery held, in version order."""
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            await self._ensure_gallery(session, event.gallery_id, event.org_id)
            gallery = await self._locked_gallery(session, event.gallery_id)
            values = {
                "paid_at": event.paid_at,
                "paid_via": event.via,
                "invoice_number": event.invoice_number,
                "updated_at": func.now(),
            }
            await session.execute(
                insert(order_payments)
                .values(
                    order_id=event.order_id,
                    gallery_id=event.gallery_id,
                    org_id=event.org_id,
                    **values,
                )
                .on_conflict_do_update(index_elements=[order_payments.c.order_id], set_=values)
            )
            if gallery is None or await gallery_locked(session, event.gallery_id):
                return  # another order of the gallery still waits for its payment
            released = await self._release_held(session, gallery)
            log.info(
                "export.payment_received",
                gallery_id=str(event.gallery_id),
                order_id=str(event.order_id),
                via=event.via,
                released=released,
            )

    async def _release_held(self, session: AsyncSession, gallery: GalleryRecord) -> list[int]:
        """Announce, send and push every held version (their links signed afresh now)."""
        gallery_id = gallery.gallery_id
        held = (
            (
                await session.execute(
                    select(exports)
                    .where(exports.c.gallery_id == gallery_id, exports.c.held.is_(True))
                    .order_by(exports.c.version)
                )
            )
            .mappings()
            .all()
        )
        for row in held:
            files = [
                await self._export_file(
                    f["storage_key"],
                    **{k: f[k] for k in ("name", "format", "media_type", "sha256", "byte_size")},
                )
                for f in row["files"]
            ]
            exported = GalleryExported(
                gallery_id=gallery_id,
                org_id=row["org_id"],
                version=row["version"],
                asset_count=row["asset_count"],
                files=files,
                reference=gallery.reference,
                complete=row["complete"],
                failed_count=row["failed_count"],
                delivery=row["delivery"],
            )
            await session.execute(
                update(exports)
                .where(exports.c.gallery_id == gallery_id, exports.c.version == row["version"])
                .values(held=False, event_id=exported.event_id)
            )
            await self._send_out(session, exported)
        return [row["version"] for row in held]

    async def _send_out(self, session: AsyncSession, exported: GalleryExported) -> None:
        """Announce a version; a delivered one also goes to webhooks and CRMs (as jobs)."""
        await enqueue(session, outbox, exported, source=SOURCE)
        if exported.delivery is not None:
            # Only delivered versions leave the platform: a half-captioned gallery would land
            # in a CRM as photos without their later siblings.
            await self._webhooks.enqueue_deliveries(session, exported)
            if self._crm is not None:
                await self._crm.enqueue_for_export(
                    session, exported.gallery_id, exported.org_id, exported.version
                )

    async def _admit(
        self, session: AsyncSession, event: AssetUploaded | CaptionReady | CaptionFailed
    ) -> bool:
        """First delivery of an event about a photo that still exists; its gallery is known."""
        if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
            return False
        if await self._deleted(session, event.asset_id):
            return False
        await self._ensure_gallery(session, event.gallery_id, event.org_id)
        return True

    async def _deleted(self, session: AsyncSession, asset_id: uuid.UUID) -> bool:
        found = await session.scalar(
            select(deleted_assets.c.asset_id).where(deleted_assets.c.asset_id == asset_id)
        )
        return found is not None

    # --- debounce -----------------------------------------------------------------------------

    async def _ensure_gallery(
        self, session: AsyncSession, gallery_id: uuid.UUID, org_id: uuid.UUID
    ) -> None:
        await session.execute(
            insert(galleries).values(gallery_id=gallery_id, org_id=org_id).on_conflict_do_nothing()
        )

    async def _mark_dirty(self, session: AsyncSession, gallery_id: uuid.UUID) -> None:
        now = self._clock.now()
        await session.execute(
            update(galleries)
            .where(galleries.c.gallery_id == gallery_id)
            .values(
                dirty_since=func.coalesce(galleries.c.dirty_since, now),
                changed_at=now,
            )
        )
        await self.schedule_build(session, gallery_id, now)

    async def schedule_build(
        self, session: AsyncSession, gallery_id: uuid.UUID, changed_at: datetime
    ) -> None:
        """A build job for when the gallery will have been quiet long enough after a change at
        `changed_at`. Changes within one step share one job (its key is the due time), so a
        shoot of 40 captions makes a handful of jobs, and the last change always has one due
        after it: the job finds the gallery quiet, or a later job exists. No loop polls."""
        quiet = self._settings.debounce_quiet_seconds
        step = max(quiet / 5, 0.2)
        due = math.ceil((changed_at.timestamp() + quiet) / step) * step
        await enqueue_job(
            session,
            jobs,
            BUILD_GALLERY,
            GalleryDue(gallery_id=gallery_id),
            run_at=datetime.fromtimestamp(due, UTC),
            key=f"{gallery_id}:{due:.3f}",
        )

    async def _changed(self, session: AsyncSession, gallery_id: uuid.UUID) -> None:
        await self._mark_dirty(session, gallery_id)
        await self._deliver_if_ready(session, gallery_id)

    async def _deliver_if_ready(self, session: AsyncSession, gallery_id: uuid.UUID) -> None:
        try:
            # A savepoint: if storage is away, the event's own effect still commits and the
            # delivery stays open, so the periodic job builds it later.
            async with session.begin_nested():
                await self._try_delivery(session, gallery_id)
        except Exception:
            log.warning("export.build_deferred", gallery_id=str(gallery_id), exc_info=True)
            await self.schedule_build(session, gallery_id, self._clock.now())

    async def flush_due(self) -> int:
        """The periodic safety net (builds are jobs planted by `schedule_build`): deliveries
        whose captions have arrived and previews whose debounce ran out, whatever planted no
        job; returns how many were built."""
        async with self._db.sessions() as session:
            candidates = list(
                (
                    await session.execute(
                        select(galleries.c.gallery_id).where(
                            or_(
                                galleries.c.dirty_since.is_not(None),
                                func.coalesce(galleries.c.built_delivery, 0)
                                < func.coalesce(galleries.c.delivery, 0),
                            )
                        )
                    )
                ).scalars()
            )
        built = 0
        for gallery_id in candidates:
            try:
                built += await self._build(gallery_id)
            except Exception:
                # One gallery that cannot be built must not hold up all the others.
                log.warning("export.build_failed", gallery_id=str(gallery_id), exc_info=True)
        return built

    async def _build(self, gallery_id: uuid.UUID) -> int:
        """The delivery if its captions have arrived, and the preview if its debounce ran out;
        how many of the two were built."""
        built = 0
        async with self._db.transaction() as session:
            if await self._try_delivery(session, gallery_id):
                built += 1
        async with self._db.transaction() as session:
            if await self._build_preview(session, gallery_id):
                built += 1
        return built

    async def _cleaned(self, session: AsyncSession, gallery_id: uuid.UUID) -> None:
        """The gallery's changes are all in a version: the builds planted for them are moot."""
        await session.execute(
            update(galleries)
            .where(galleries.c.gallery_id == gallery_id)
            .values(dirty_since=None, changed_at=None)
        )
        await cancel_jobs(session, jobs, BUILD_GALLERY, key_prefix=f"{gallery_id}:")

    async def build_due_gallery(self, payload: GalleryDue, ctx: JobContext) -> None:
        """The job `schedule_build` planted; a failure (storage away) is retried."""
        await self._build(payload.gallery_id)

    def register_jobs(self, queue: JobQueue) -> None:
        queue.register(
            BUILD_GALLERY,
            GalleryDue,
            self.build_due_gallery,
            policy=RetryPolicy(max_attempts=8, base_seconds=5, max_seconds=600),
        )

    # --- building -----------------------------------------------------------------------------

    async def _locked_gallery(
        self, session: AsyncSession, gallery_id: uuid.UUID
    ) -> GalleryRecord | None:
        # The row lock makes builds of one gallery take turns: versions stay gapless.
        row = (
            (
                await session.execute(
                    select(galleries)
                    .where(galleries.c.gallery_id == gallery_id)
                    .with_for_update(of=galleries)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else GalleryRecord.from_row(row)

    async def _entries(self, session: AsyncSession, gallery_id: uuid.UUID) -> list[Entry]:
        rows = (
            await session.execute(
                select(entries)
                .where(entries.c.gallery_id == gallery_id)
                .order_by(entries.c.pseudonym, entries.c.asset_id)
            )
        ).mappings()
        return [Entry.from_row(row) for row in rows]

    async def _try_delivery(self, session: AsyncSession, gallery_id: uuid.UUID) -> bool:
        """Build the open delivery if every photo of its set has arrived with at least the
        caption media delivered; True if a version was built."""
        gallery = await self._locked_gallery(session, gallery_id)
        if (
            gallery is None
            or gallery.delivery is None
            or (gallery.built_delivery or 0) >= gallery.delivery
        ):
            return False
        wanted = [
            PhotoInSet.model_validate(p) for p in gallery.delivery_set or [] if "kind" not in p
        ]
        extras = [
            DeliverableInSet.model_validate(p) for p in gallery.delivery_set or [] if "kind" in p
        ]
        rows = await self._entries(session, gallery_id)
        by_id = {r.asset_id: r for r in rows}
        deleted = set(
            (
                await session.execute(
                    select(deleted_assets.c.asset_id).where(
                        deleted_assets.c.gallery_id == gallery_id
                    )
                )
            ).scalars()
        )
        chosen: list[Entry] = []
        for photo in wanted:
            if photo.asset_id in deleted:
                # Deleted after the delivery: the next delivery (media saw the deletion) has it.
                continue
            entry = by_id.get(photo.asset_id)
            if entry is None or not _caught_up(entry, photo):
                log.info(
                    "export.delivery_waiting",
                    gallery_id=str(gallery_id),
                    delivery=gallery.delivery,
                    asset_id=str(photo.asset_id),
                )
                return False
            chosen.append(entry)
        delivered = {r.asset_id for r in chosen}
        chosen = [r for r in rows if r.asset_id in delivered]  # in the export's order
        await session.execute(
            update(galleries)
            .where(galleries.c.gallery_id == gallery_id)
            .values(built_delivery=gallery.delivery)
        )
        if {r.asset_id for r in rows} == delivered:
            # The delivered version shows everything known: no preview of the same to follow.
            await self._cleaned(session, gallery_id)
        return await self._publish(
            session,
            gallery,
            chosen,
            delivery=gallery.delivery,
            deliverables=[d for d in extras if d.asset_id not in deleted],
        )

    async def _build_preview(self, session: AsyncSession, gallery_id: uuid.UUID) -> bool:
        gallery = await self._locked_gallery(session, gallery_id)
        # `_mark_dirty` sets both times, and a build clears both.
        if gallery is None or gallery.dirty_since is None or gallery.changed_at is None:
            return False
        now = self._clock.now()
        quiet = timedelta(seconds=self._settings.debounce_quiet_seconds)
        longest = timedelta(seconds=self._settings.debounce_max_seconds)
        if not (gallery.changed_at <= now - quiet or gallery.dirty_since <= now - longest):
            return False
        rows = await self._entries(session, gallery_id)
        await self._cleaned(session, gallery_id)
        return await self._publish(session, gallery, rows, delivery=None)

    async def _publish(
        self,
        session: AsyncSession,
        gallery: GalleryRecord,
        rows: list[Entry],
        *,
        delivery: int | None,
        deliverables: list[DeliverableInSet] | None = None,
    ) -> bool:
        gallery_id = gallery.gallery_id
        ready = [r for r in rows if r.status == "ready"]
        failed = [r for r in rows if r.status == "failed"]
        if not ready and not failed:
            return False
        version = 1 + int(
            await session.scalar(
                select(func.coalesce(func.max(exports.c.version), 0)).where(
                    exports.c.gallery_id == gallery_id
                )
            )
            or 0
        )
        snapshot = self._snapshot(gallery, version, ready, failed, complete=delivery is not None)
        if deliverables:
            snapshot = replace(snapshot, deliverables=await self._deliverables(deliverables))
        files = await self._write_version(snapshot)
        exported = GalleryExported(
            gallery_id=gallery_id,
            org_id=gallery.org_id,
            version=version,
            asset_count=len(ready),
            files=files,
            reference=gallery.reference,
            complete=snapshot.complete,
            failed_count=len(failed),
            delivery=delivery,
        )
        originals = {r.asset_id: r.original_sha256 for r in ready}
        # The caller holds the gallery's row lock, which the payment events take too.
        held = delivery is not None and await gallery_locked(session, gallery_id)
        await session.execute(
            exports.insert().values(
                gallery_id=gallery_id,
                version=version,
                org_id=gallery.org_id,
                asset_count=len(ready),
                failed_count=len(failed),
                complete=snapshot.complete,
                delivery=delivery,
                event_id=None if held else exported.event_id,
                held=held,
                files=[f.model_dump(mode="json") for f in files],
                photos=[
                    {
                        "asset_id": str(p.asset_id),
                        "pseudonym": p.pseudonym,
                        "web_key": p.web_key,
                        "original_sha256": originals.get(p.asset_id),
                    }
                    for p in snapshot.photos
                ]
                + [
                    # What CRM pushes and the originals' bundle take of a floor plan or video:
                    # its delivered file, never its original (a video's carries GPS).
                    {
                        "asset_id": str(d.asset_id),
                        "pseudonym": d.name.rsplit(".", 1)[0],
                        "web_key": d.file_key,
                        "original_sha256": None,
                        "kind": d.kind,
                        "file_name": d.name,
                    }
                    for d in snapshot.deliverables
                ],
            )
        )
        if not held:
            await self._send_out(session, exported)
        log.info(
            "export.published",
            gallery_id=str(gallery_id),
            version=version,
            photos=len(ready),
            delivery=delivery,
            held=held,
        )
        return True

    def _snapshot(
        self,
        gallery: GalleryRecord,
        version: int,
        ready: list[Entry],
        failed: list[Entry],
        *,
        complete: bool,
    ) -> Snapshot:
        return Snapshot(
            gallery_id=gallery.gallery_id,
            org_id=gallery.org_id,
            version=version,
            generated_at=self._clock.now(),
            photos=[r.photo() for r in ready],
            cover_asset_id=gallery.cover_asset_id,
            failed=[FailedPhoto(r.asset_id, r.pseudonym, r.failure_reason or "") for r in failed],
            reference=gallery.reference,
            property_address=gallery.property_address,
            property_facts=PropertyFacts(
                property_type=gallery.property_type,
                marketing=gallery.marketing,
                living_area_m2=gallery.living_area_m2,
                rooms=gallery.rooms,
                street=gallery.street,
                house_number=gallery.house_number,
                postcode=gallery.postcode,
                city=gallery.city,
                country=gallery.country,
            ),
            contact_name=gallery.contact_name,
            contact_email=gallery.contact_email,
            locale=gallery.locale,
            complete=complete,
            provider_firma=self._settings.openimmo_firma,
            provider_anid=self._settings.openimmo_anid,
        )

    async def _write_version(self, snapshot: Snapshot) -> list[ExportFile]:
        cache: dict[str, bytes] = {}

        async def image(photo: Photo | Deliverable) -> bytes:
            key = photo.file_key if isinstance(photo, Deliverable) else photo.web_key
            if key not in cache:
                cache[key] = await self._storage.get_bytes(key)
            return cache[key]

        rendered: list[RenderedFile] = []
        for fmt in self._formats:
            rendered += await fmt.render(snapshot, image)
        packed = [(f.path, f.data) for f in rendered]
        packed += [(f"images/{p.image_name}", await image(p)) for p in snapshot.photos]
        packed += [(f"files/{d.name}", await image(d)) for d in snapshot.deliverables]
        rendered.append(
            RenderedFile(BUNDLE_WEB, "bundle-web", "application/zip", build_zip(packed))
        )
        prefix = f"exports/{snapshot.gallery_id}/v{snapshot.version}"
        return [await self._store(f"{prefix}/{f.path}", f) for f in rendered]

    async def _deliverables(self, delivered: list[DeliverableInSet]) -> list[Deliverable]:
        """Floor plans and videos as the formats see them; films with a signed link."""
        seconds = self._settings.download_url_seconds
        return [
            Deliverable(
                asset_id=d.asset_id,
                kind=d.kind,
                name=d.name,
                media_type=d.media_type,
                file_key=d.file_key,
                byte_size=d.byte_size,
                sha256=d.sha256,
                link=(
                    await self._storage.signed_url(d.file_key, "GET", expires_in=seconds)
                    if d.kind == "video"
                    else None
                ),
            )
            for d in sorted(delivered, key=lambda d: (d.kind, d.name))
        ]

    async def _store(self, key: str, file: RenderedFile) -> ExportFile:
        await self._storage.put_bytes(key, file.data, file.media_type)
        return await self._export_file(
            key,
            name=file.name,
            format=file.format,
            media_type=file.media_type,
            sha256=hashlib.sha256(file.data).hexdigest(),
            byte_size=len(file.data),
        )

    async def _export_file(self, key: str, **fields: Any) -> ExportFile:
        seconds = self._settings.download_url_seconds
        return ExportFile(
            storage_key=key,
            download_url=await self._storage.signed_url(key, "GET", expires_in=seconds),
            url_expires_at=datetime.now(UTC) + timedelta(seconds=seconds),
            **fields,
        )

    # --- queries and commands for the API -----------------------------------------------------

    async def _gallery_of(
        self, session: AsyncSession, gallery_id: uuid.UUID, viewer: Identity
    ) -> GalleryRecord | None:
        """The gallery, None for one known only from old export rows; 404 for others."""
        row = (
            (await session.execute(select(galleries).where(galleries.c.gallery_id == gallery_id)))
            .mappings()
            .first()
        )
        if row is None:
            # Galleries exported before the galleries table existed have only export rows.
            org = await session.scalar(
                select(exports.c.org_id).where(exports.c.gallery_id == gallery_id).limit(1)
            )
            if org is None or not viewer.may_access(org):
                raise NotFound("gallery")
            return None
        if not viewer.may_access(row["org_id"]):
            raise NotFound("gallery")
        return GalleryRecord.from_row(row)

    async def _downloadable(
        self, session: AsyncSession, gallery_id: uuid.UUID, viewer: Identity
    ) -> None:
        """The viewer may see the gallery, and its downloads are not waiting for a payment."""
        await self._gallery_of(session, gallery_id, viewer)
        if await gallery_locked(session, gallery_id):
            raise PaymentRequired()

    async def exports_of(self, gallery_id: uuid.UUID, viewer: Identity) -> list[ExportVersion]:
        """Every export version of a gallery, newest first, with fresh download links."""
        async with self._db.sessions() as session:
            await self._downloadable(session, gallery_id, viewer)
            rows = (
                (
                    await session.execute(
                        select(exports)
                        .where(exports.c.gallery_id == gallery_id)
                        .order_by(exports.c.version.desc())
                    )
                )
                .mappings()
                .all()
            )
        return [await self._view(row) for row in rows]

    async def export_of(
        self, gallery_id: uuid.UUID, version: int | None, viewer: Identity
    ) -> ExportVersion:
        """One version (None: the latest)."""
        async with self._db.sessions() as session:
            await self._downloadable(session, gallery_id, viewer)
            query = select(exports).where(exports.c.gallery_id == gallery_id)
            query = (
                query.where(exports.c.version == version)
                if version is not None
                else query.order_by(exports.c.version.desc()).limit(1)
            )
            row = (await session.execute(query)).mappings().first()
        if row is None:
            raise NotFound("export")
        return await self._view(row)

    async def _view(self, row: RowMapping) -> ExportVersion:
        files = []
        for stored in row["files"]:
            url = await self._storage.signed_url(
                stored["storage_key"], "GET", expires_in=self._settings.download_url_seconds
            )
            files.append(ExportDownload.model_validate({**stored, "download_url": url}))
        return ExportVersion(
            version=row["version"],
            asset_count=row["asset_count"],
            failed_count=row["failed_count"],
            complete=row["complete"],
            delivery=row["delivery"],
            created_at=row["created_at"],
            files=files,
        )

    async def bundle(
        self,
        gallery_id: uuid.UUID,
        version: int,
        size: Literal["web", "original"],
        viewer: Identity,
    ) -> ExportFile:
        """The all-in-one ZIP; the original-size one is built on first request and kept."""
        async with self._db.sessions() as session:
            await self._downloadable(session, gallery_id, viewer)
            row = (
                (
                    await session.execute(
                        select(exports).where(
                            exports.c.gallery_id == gallery_id, exports.c.version == version
                        )
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound("export")
        stored = {f["name"]: f for f in row["files"]}
        if size == "web":
            web = stored[BUNDLE_WEB]
            return await self._export_file(
                web["storage_key"],
                **{k: web[k] for k in ("name", "format", "media_type", "sha256", "byte_size")},
            )
        prefix = f"exports/{gallery_id}/v{version}"
        meta_key = f"{prefix}/{BUNDLE_ORIGINAL}.meta.json"
        if await self._storage.exists(meta_key):
            # Built before: hand out a fresh link instead of packing every original again.
            meta = json.loads(await self._storage.get_bytes(meta_key))
            return await self._export_file(f"{prefix}/{BUNDLE_ORIGINAL}", **meta)
        packed: list[tuple[str, bytes]] = []
        retained: list[str] = []
        for f in row["files"]:
            if f["name"] == BUNDLE_WEB:
                continue
            path = f["storage_key"].removeprefix(prefix + "/")
            packed.append((path, await self._storage.get_bytes(f["storage_key"])))
        for photo in row["photos"] or []:
            if photo.get("kind"):  # a floor plan or video: its delivered file
                data = await self._storage.get_bytes(photo["web_key"])
                packed.append((f"files/{photo['file_name']}", data))
                continue
            try:
                data = await self._storage.get_bytes(f"originals/{gallery_id}/{photo['asset_id']}")
            except ObjectNotFound:
                # Originals may have been deleted (retention); the web size stands in.
                data = await self._storage.get_bytes(photo["web_key"])
                retained.append(photo["pseudonym"])
            else:
                checked = photo.get("original_sha256")
                if checked and hashlib.sha256(data).hexdigest() != checked:
                    # Not the bytes media validated: on S3 a signed upload link stays usable
                    # until it expires and could have replaced the file. Never pass it on.
                    log.error(
                        "export.original_changed",
                        gallery_id=str(gallery_id),
                        asset_id=photo["asset_id"],
                    )
                    data = await self._storage.get_bytes(photo["web_key"])
            packed.append((f"originals/{photo['pseudonym']}{image_extension(data)}", data))
        if retained:
            packed.append(("originals/RETENTION.txt", retention_note(retained).encode()))
        # Deflating many large files is CPU work: off the event loop.
        data = await asyncio.to_thread(build_zip, packed)
        file = RenderedFile(BUNDLE_ORIGINAL, "bundle-original", "application/zip", data)
        stored_file = await self._store(f"{prefix}/{BUNDLE_ORIGINAL}", file)
        meta = {
            k: getattr(stored_file, k)
            for k in ("name", "format", "media_type", "sha256", "byte_size")
        }
        await self._storage.put_bytes(meta_key, json.dumps(meta).encode(), "application/json")
        return stored_file

    async def photos_of(self, gallery_id: uuid.UUID, viewer: Identity) -> GalleryPhotos:
        async with self._db.sessions() as session:
            gallery = await self._gallery_of(session, gallery_id, viewer)
            found = await session.execute(
                select(entries)
                .where(entries.c.gallery_id == gallery_id)
                .order_by(entries.c.pseudonym)
            )
            rows = [Entry.from_row(row) for row in found.mappings()]
        ready = [r for r in rows if r.status == "ready"]
        cover_id = gallery.cover_asset_id if gallery is not None else None
        cover = next((r for r in ready if r.asset_id == cover_id), None)
        if cover is None:
            cover = min(ready, key=lambda r: cover_rank(r.room_type), default=None)
        return GalleryPhotos(
            gallery_id=gallery_id,
            reference=gallery.reference if gallery is not None else None,
            cover_asset_id=cover.asset_id if cover else None,
            cover_chosen=cover_id is not None,
            photos=[
                GalleryPhoto(
                    asset_id=r.asset_id,
                    name=r.pseudonym,
                    status=r.status,
                    room_type=r.room_type,
                    failure_reason=r.failure_reason,
                    cover=cover is not None and r.asset_id == cover.asset_id,
                )
                for r in rows
            ],
        )

    async def choose_cover(
        self, gallery_id: uuid.UUID, asset_id: uuid.UUID | None, viewer: Identity
    ) -> GalleryPhotos:
        """Choose the cover (None: back to the default); the next version uses it."""
        async with self._db.transaction() as session:
            gallery = await self._gallery_of(session, gallery_id, viewer)
            if gallery is None:
                raise NotFound("gallery")
            if asset_id is not None:
                status = await session.scalar(
                    select(entries.c.status).where(
                        entries.c.gallery_id == gallery_id, entries.c.asset_id == asset_id
                    )
                )
                if status != "ready":
                    raise Invalid(
                        "invalid_cover",
                        "the cover must be a captioned photo of this gallery",
                        "asset_id",
                    )
            await session.execute(
                update(galleries)
                .where(galleries.c.gallery_id == gallery_id)
                .values(cover_asset_id=asset_id)
            )
            await self._mark_dirty(session, gallery_id)
        return await self.photos_of(gallery_id, viewer)


def _caught_up(entry: Entry, photo: PhotoInSet) -> bool:
    """This service has the photo with at least what media delivered."""
    if entry.asset_version < photo.version or entry.status == "pending":
        return False
    if photo.outcome == "captioned":
        return bool(
            entry.status == "ready" and entry.caption_version >= (photo.caption_version or 0)
        )
    return True


def retention_note(pseudonyms: list[str]) -> str:
    """Why some "originals" in the bundle are the web size: the bundle says so itself."""
    names = "\n".join(f"- {name}" for name in sorted(pseudonyms))
    return (
        "Die Originale dieser Fotos wurden nach Ablauf der Speicherfrist nach der Auslieferung "
        "gelöscht (Datenschutz); die Webversion steht an ihrer Stelle.\n"
        "The originals of these photos were deleted when their retention period after delivery "
        "ended (data protection); the web version stands in for each.\n\n"
        f"{names}\n"
    )
