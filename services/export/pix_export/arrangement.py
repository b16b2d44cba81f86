"""The client's title picture from media (`media.gallery.arranged.v1`): the cover of every
later version, as if chosen here (`PUT /galleries/{id}/cover` stays for staff tools).

Media's events of one gallery share a partition and leave its outbox in commit order, and the
inbox drops replays, so the latest event is the one that stays; it carries the whole
arrangement. A title picture that is not (or no longer) in the export falls back to the default
choice in the formats (`Snapshot.cover`)."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from pix_contracts.galleries import GalleryArranged
from pix_runtime.broker import subscribe
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.inbox import first_delivery
from pix_runtime.logging import get_logger
from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert

from pix_export.models import galleries, inbox
from pix_export.service import CONSUMER, ExportDesk

log = get_logger(__name__)


class TitleFromMedia:
    def __init__(self, db: Database, clock: Clock, desk: ExportDesk) -> None:
        self._db = db
        self._clock = clock
        self._desk = desk

    async def take_arrangement(self, event: GalleryArranged) -> None:
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            await session.execute(
                insert(galleries)
                .values(gallery_id=event.gallery_id, org_id=event.org_id)
                .on_conflict_do_nothing()
            )
            now = self._clock.now()
            # A changed cover is a change to export (the debounce builds the next version).
            changed = await session.scalar(
                update(galleries)
                .where(galleries.c.gallery_id == event.gallery_id)
                .where(galleries.c.cover_asset_id.is_distinct_from(event.title_asset_id))
                .values(
                    cover_asset_id=event.title_asset_id,
                    dirty_since=func.coalesce(galleries.c.dirty_since, now),
                    changed_at=now,
                )
                .returning(galleries.c.gallery_id)
            )
            if changed is not None:
                await self._desk.schedule_build(session, event.gallery_id, now)
        log.info(
            "export.title_from_media",
            gallery_id=str(event.gallery_id),
            title_asset_id=str(event.title_asset_id),
            revision=event.revision,
        )


def register_title_from_media(broker: KafkaBroker, titles: TitleFromMedia) -> None:
    @subscribe(broker, GalleryArranged, group="export.arrangements")
    async def take_arrangement(event: GalleryArranged) -> None:
        await titles.take_arrangement(event)
