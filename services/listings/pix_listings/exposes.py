"""Exposé versions: requested by the agent, rendered by a job, served by signed link."""

from __future__ import annotations

import asyncio
import uuid

from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import NotFound
from pix_runtime.identity import Identity
from pix_runtime.jobs import JobContext, PermanentJobError, enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.storage import LocalStorage, ObjectNotFound, S3Storage
from pydantic import BaseModel
from sqlalchemy import RowMapping, func, select, update

from pix_listings import expose
from pix_listings.models import exposes, jobs, listings
from pix_listings.records import Expose, Locale
from pix_listings.service import Listings

log = get_logger(__name__)
RENDER_EXPOSE = "listings.render-expose"
DOWNLOAD_SECONDS = 3600


class RenderExpose(BaseModel):
    expose_id: uuid.UUID


class Exposes:
    def __init__(
        self,
        db: Database,
        storage: LocalStorage | S3Storage,
        clock: Clock,
        listings_: Listings,
        *,
        photo_px: int,
    ) -> None:
        self._db = db
        self._storage = storage
        self._clock = clock
        self._listings = listings_
        self._photo_px = photo_px

    async def request(self, viewer: Identity, listing_id: uuid.UUID, locale: Locale) -> Expose:
        async with self._db.transaction() as session:
            row = await self._listings.owned(session, viewer, listing_id, lock=True)
            version = (
                await session.scalar(
                    select(func.max(exposes.c.version)).where(exposes.c.listing_id == listing_id)
                )
                or 0
            ) + 1
            expose_id = uuid.uuid4()
            await session.execute(
                exposes.insert().values(
                    id=expose_id,
                    listing_id=listing_id,
                    org_id=row["org_id"],
                    version=version,
                    locale=locale,
                    requested_by=viewer.user_id,
                    created_at=self._clock.now(),
                )
            )
            await enqueue_job(
                session, jobs, RENDER_EXPOSE, RenderExpose(expose_id=expose_id), key=str(expose_id)
            )
            created = (
                (await session.execute(select(exposes).where(exposes.c.id == expose_id)))
                .mappings()
                .one()
            )
        return await self._view(created)

    async def list_for(self, viewer: Identity, listing_id: uuid.UUID) -> list[Expose]:
        async with self._db.sessions() as session:
            await self._listings.owned(session, viewer, listing_id)
            rows = (
                (
                    await session.execute(
                        select(exposes)
                        .where(exposes.c.listing_id == listing_id)
                        .order_by(exposes.c.version.desc())
                    )
                )
                .mappings()
                .all()
            )
        return [await self._view(r) for r in rows]

    async def get(self, viewer: Identity, listing_id: uuid.UUID, expose_id: uuid.UUID) -> Expose:
        async with self._db.sessions() as session:
            await self._listings.owned(session, viewer, listing_id)
            row = (
                (
                    await session.execute(
                        select(exposes).where(
                            exposes.c.id == expose_id, exposes.c.listing_id == listing_id
                        )
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound("exposé")
        return await self._view(row)

    async def _view(self, row: RowMapping) -> Expose:
        view = Expose(**{k: row[k] for k in Expose.model_fields if k in row})
        if row["status"] == "done" and row["storage_key"]:
            view.download_url = await self._storage.signed_url(
                row["storage_key"], "GET", expires_in=DOWNLOAD_SECONDS
            )
        return view

    async def public_file(self, listing_id: uuid.UUID, locale: str, sig: str) -> tuple[bytes, str]:
        """The current exposé of a published listing, for whoever holds the signed link."""
        if not self._listings.links.valid(listing_id, locale, sig):
            raise NotFound("exposé")
        async with self._db.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(exposes.c.storage_key, listings.c.reference)
                        .join(listings, listings.c.id == exposes.c.listing_id)
                        .where(
                            exposes.c.listing_id == listing_id,
                            exposes.c.locale == locale,
                            exposes.c.status == "done",
                            listings.c.status == "published",
                        )
                        .order_by(exposes.c.version.desc())
                        .limit(1)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound("exposé")
        try:
            data = await self._storage.get_bytes(row["storage_key"])
        except ObjectNotFound as exc:
            raise NotFound("exposé") from exc
        return data, f"Expose-{row['reference']}-{locale}.pdf"

    # --- the job ----------------------------------------------------------------------------

    async def render_job(self, payload: RenderExpose, ctx: JobContext) -> None:
        async with self._db.sessions() as session:
            row = (
                (await session.execute(select(exposes).where(exposes.c.id == payload.expose_id)))
                .mappings()
                .first()
            )
            if row is None or row["status"] != "queued":
                return
            listing_row = (
                (await session.execute(select(listings).where(listings.c.id == row["listing_id"])))
                .mappings()
                .first()
            )
            if listing_row is None:
                raise PermanentJobError("the listing is gone")
            listing = await self._listings._view(session, listing_row)
        images: dict[uuid.UUID, bytes] = {}
        for item in listing.media:
            try:
                images[item.id] = await self._storage.get_bytes(item.storage_key)
            except ObjectNotFound:
                log.warning("expose.photo_missing", key=item.storage_key)
        try:
            rendered = await asyncio.to_thread(
                expose.build, listing, images, row["locale"], photo_px=self._photo_px
            )
        except Exception as exc:
            await self._fail(payload.expose_id, repr(exc))
            raise PermanentJobError(f"rendering failed: {exc!r}") from exc
        key = f"listings/{listing.id}/exposes/v{row['version']}-{row['locale']}.pdf"
        await self._storage.put_bytes(key, rendered.data, "application/pdf")
        async with self._db.transaction() as session:
            await session.execute(
                update(exposes)
                .where(exposes.c.id == payload.expose_id)
                .values(
                    status="done",
                    storage_key=key,
                    byte_size=len(rendered.data),
                    pages=rendered.pages,
                    render_ms=rendered.render_ms,
                    finished_at=self._clock.now(),
                )
            )
            # Leads learn the new link (for their acknowledgement emails).
            await self._listings.announce_change(session, listing.id)
            await ctx.finish(session)
        log.info(
            "expose.rendered",
            listing_id=str(listing.id),
            version=row["version"],
            pages=rendered.pages,
            ms=rendered.render_ms,
        )

    async def _fail(self, expose_id: uuid.UUID, error: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(exposes)
                .where(exposes.c.id == expose_id)
                .values(status="failed", error=error[:500], finished_at=self._clock.now())
            )


__all__ = ["RENDER_EXPOSE", "Exposes", "RenderExpose"]
