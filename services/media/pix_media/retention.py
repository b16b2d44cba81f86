"""Retention of originals: the uploaded file (full resolution, the photographer's metadata with
GPS among it) is deleted `original_retention_days` after its gallery's latest delivery, or after
the organisation's own window (`PUT /privacy/retention`, 1 to 730 days); the web and thumbnail
renditions, anonymised, stay, and the export says so. A periodic job, once across replicas,
that logs how many it deleted."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import Forbidden
from pix_runtime.http import CurrentIdentity
from pix_runtime.identity import Identity
from pix_runtime.jobs import JobContext
from pix_runtime.logging import get_logger
from pix_runtime.storage import LocalStorage, S3Storage
from pydantic import BaseModel, Field
from sqlalchemy import Column, DateTime, Integer, Table, Uuid, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert

from pix_media.models import assets, galleries, metadata

log = get_logger(__name__)
ORIGINALS_RETENTION = "media.retention.originals"
# Photos still moving through upload or processing keep their original (it is their input).
IN_FLIGHT = ("pending", "uploading", "queued")
BATCH = 500

# An organisation's own window for originals; none (or null) means the platform's default.
retention = Table(
    "retention",
    metadata,
    Column("org_id", Uuid, primary_key=True),
    Column("original_days", Integer, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


class Retention(BaseModel):
    original_days: int | None = Field(default=None, ge=1, le=730)


class RetentionView(BaseModel):
    original_days: int
    own: Retention


class OriginalsRetention:
    def __init__(
        self, db: Database, storage: LocalStorage | S3Storage, *, keep: timedelta, clock: Clock
    ) -> None:
        self._clock = clock
        self._db = db
        self._storage = storage
        self._keep = keep

    async def view(self, viewer: Identity) -> RetentionView:
        async with self._db.sessions() as session:
            days = await session.scalar(
                select(retention.c.original_days).where(retention.c.org_id == viewer.org_id)
            )
        return RetentionView(
            original_days=days or self._keep.days, own=Retention(original_days=days)
        )

    async def set(self, wanted: Retention, viewer: Identity) -> RetentionView:
        if viewer.role not in ("owner", "client"):
            raise Forbidden()
        values = {"original_days": wanted.original_days, "updated_at": self._clock.now()}
        async with self._db.transaction() as session:
            await session.execute(
                insert(retention)
                .values(org_id=viewer.org_id, **values)
                .on_conflict_do_update(index_elements=[retention.c.org_id], set_=values)
            )
        return await self.view(viewer)

    async def delete_due(self, ctx: JobContext) -> int:
        days = func.coalesce(retention.c.original_days, self._keep.days)
        due = literal(ctx.now, DateTime(timezone=True)) - func.make_interval(0, 0, 0, days)
        deleted = 0
        while True:
            async with self._db.transaction() as session:
                rows = (
                    await session.execute(
                        select(assets.c.id, assets.c.original_key)
                        .join(galleries, galleries.c.id == assets.c.gallery_id)
                        .outerjoin(retention, retention.c.org_id == galleries.c.org_id)
                        .where(
                            galleries.c.delivered_at <= due,
                            assets.c.original_deleted_at.is_(None),
                            assets.c.status.not_in(IN_FLIGHT),
                        )
                        # No row lock of its own: the job layer runs this periodic job once
                        # across replicas, and in-flight photos are left out above.
                        .limit(BATCH)
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


router = APIRouter(prefix="/privacy/retention", tags=["privacy"])


def _originals(request: Request) -> OriginalsRetention:
    originals: OriginalsRetention = request.app.state.originals_retention
    return originals


Originals = Annotated[OriginalsRetention, Depends(_originals)]


@router.get("")
async def get_retention(identity: CurrentIdentity, originals: Originals) -> RetentionView:
    return await originals.view(identity)


@router.put("")
async def put_retention(
    identity: CurrentIdentity, originals: Originals, wanted: Retention
) -> RetentionView:
    return await originals.set(wanted, identity)
