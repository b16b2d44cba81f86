"""Retention of originals: the uploaded file (full resolution, the photographer's metadata with
GPS among it) is deleted `original_retention_days` after its gallery's latest delivery; the web
and thumbnail renditions, anonymised, stay, and the export says so. A periodic job, once across
replicas, that logs how many it deleted."""

from __future__ import annotations

from datetime import timedelta

from pix_runtime.db import Database
from pix_runtime.jobs import JobContext
from pix_runtime.logging import get_logger
from pix_runtime.storage import LocalStorage, S3Storage
from sqlalchemy import select, update

from pix_media.models import assets, galleries

log = get_logger(__name__)
ORIGINALS_RETENTION = "media.retention.originals"
# Photos still moving through upload or processing keep their original (it is their input).
IN_FLIGHT = ("pending", "uploading", "queued")
BATCH = 500


class OriginalsRetention:
    def __init__(self, db: Database, storage: LocalStorage | S3Storage, *, keep: timedelta) -> None:
        self._db = db
        self._storage = storage
        self._keep = keep

    async def delete_due(self, ctx: JobContext) -> int:
        due = ctx.now - self._keep
        deleted = 0
        while True:
            async with self._db.transaction() as session:
                rows = (
                    await session.execute(
                        select(assets.c.id, assets.c.original_key)
                        .join(galleries, galleries.c.id == assets.c.gallery_id)
                        .where(
                            galleries.c.delivered_at <= due,
                            assets.c.original_deleted_at.is_(None),
                            assets.c.status.not_in(IN_FLIGHT),
                        )
                        .limit(BATCH)
                        .with_for_update(of=assets, skip_locked=True)
                    )
                ).all()
                for _, key in rows:
                    await self._storage.delete(key)
                if rows:
                    await session.execute(
                        update(assets)
                        .where(assets.c.id.in_([asset_id for asset_id, _ in rows]))
                        .values(original_deleted_at=ctx.now)
                    )
            deleted += len(rows)
            if len(rows) < BATCH:
                break
        log.info("retention.originals_deleted", count=deleted)
        return deleted
