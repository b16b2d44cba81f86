"""Embeddings of listings and lead profiles: made by jobs, stored with their model.

Every vector row records the model and dimension that made it. When the configured model
changes, `reembed` (a job, enqueued at start) finds rows of other models and re-embeds them in
batches; until then those rows simply give no semantic boost.
"""

from __future__ import annotations

import uuid
from typing import Any

from pix_runtime.db import Database
from pix_runtime.embeddings import HNSW_MAX_DIM, Embedder, vector_row
from pix_runtime.jobs import JobContext, enqueue_job
from pix_runtime.logging import get_logger
from pydantic import BaseModel
from sqlalchemy import RowMapping, delete, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert

from pix_listings.models import (
    jobs,
    lead_profiles,
    listing_vectors,
    listings,
    media,
    vector_index_sql,
)

log = get_logger(__name__)
EMBED_LEAD = "listings.embed-lead"
REEMBED = "listings.reembed"
REEMBED_BATCH = 64
TEXT_CHARS = 1500
TYPE_WORDS = {
    "apartment": "Wohnung",
    "house": "Haus",
    "commercial": "Gewerbe",
    "land": "Grundstück",
}


class LeadJob(BaseModel):
    lead_id: uuid.UUID


class Reembed(BaseModel):
    model: str


def listing_text(row: RowMapping, captions: list[str]) -> str:
    """What a listing is about, in words: the title, the kind of property, place, features,
    the description and the photos' captions."""
    kind = TYPE_WORDS.get(row["property_type"] or "", "Immobilie")
    deal = "zur Miete" if row["marketing"] == "rent" else "zum Kauf"
    parts = [
        row["title"] or "",
        f"{kind} {deal} in {row['city'] or ''}".strip(),
        f"{row['rooms']:g} Zimmer" if row["rooms"] else "",
        "Ausstattung: " + ", ".join(row["features"]) if row["features"] else "",
        row["description_de"] or row["description_en"] or "",
        " ".join(captions),
    ]
    return " ".join(p for p in parts if p)[:TEXT_CHARS]


def lead_text(row: RowMapping) -> str:
    kind = TYPE_WORDS.get(row["property_type"] or "", "Immobilie")
    deal = {"rent": "zur Miete", "sale": "zum Kauf"}.get(row["marketing"] or "", "")
    where = f"in {row['city']}" if row["city"] else ""
    wish = f"Sucht {kind} {deal} {where}".split()
    return (" ".join(wish) + ". " + (row["wishes"] or ""))[:TEXT_CHARS]


class Vectors:
    def __init__(self, db: Database, embedder: Embedder) -> None:
        self._db = db
        self.embedder = embedder

    async def ensure_indexes(self) -> None:
        dim = self.embedder.dim
        if not dim or dim > HNSW_MAX_DIM:
            return  # exact search: pgvector's HNSW takes vectors up to 2000 dimensions
        async with self._db.transaction() as session:
            for table in ("listing_vectors", "lead_profiles"):
                await session.execute(text(vector_index_sql(table, dim)))

    async def plan_reembed(self) -> None:
        async with self._db.transaction() as session:
            await enqueue_job(
                session, jobs, REEMBED, Reembed(model=self.embedder.model), key=REEMBED
            )

    async def embed_listing(self, listing_id: uuid.UUID) -> None:
        async with self._db.sessions() as session:
            row = (
                (await session.execute(select(listings).where(listings.c.id == listing_id)))
                .mappings()
                .first()
            )
            if row is None:
                return
            captions = list(
                (
                    await session.execute(
                        select(media.c.title_de)
                        .where(media.c.listing_id == listing_id)
                        .order_by(media.c.position)
                    )
                ).scalars()
            )
            current = (
                (
                    await session.execute(
                        select(listing_vectors.c.model, listing_vectors.c.text_sha).where(
                            listing_vectors.c.listing_id == listing_id
                        )
                    )
                )
                .mappings()
                .first()
            )
        values = await vector_row(
            self.embedder, row["org_id"], listing_text(row, captions), current
        )
        if values is None:
            return
        async with self._db.transaction() as session:
            statement = insert(listing_vectors).values(listing_id=listing_id, **values)
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=[listing_vectors.c.listing_id], set_=values
                )
            )

    async def embed_lead(self, lead_id: uuid.UUID) -> None:
        async with self._db.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(lead_profiles).where(lead_profiles.c.lead_id == lead_id)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return  # erased meanwhile
        values = await vector_row(self.embedder, row["org_id"], lead_text(row), row)
        if values is None:
            return
        async with self._db.transaction() as session:
            await session.execute(
                update(lead_profiles)
                .where(lead_profiles.c.lead_id == lead_id)
                .values({k: values[k] for k in ("model", "dim", "embedding", "text_sha")})
            )

    async def query_vector(self, content: str) -> list[float]:
        [vector] = await self.embedder.embed([content[:TEXT_CHARS]])
        return vector

    # --- jobs ---------------------------------------------------------------------------------

    async def listing_job(self, payload: Any, ctx: JobContext) -> None:
        await self.embed_listing(payload.listing_id)

    async def lead_job(self, payload: LeadJob, ctx: JobContext) -> None:
        await self.embed_lead(payload.lead_id)

    async def reembed_job(self, payload: Reembed, ctx: JobContext) -> None:
        """Re-embed a batch of rows made by another model; re-enqueue while any remain."""
        model = self.embedder.model
        async with self._db.sessions() as session:
            stale_listings = list(
                (
                    await session.execute(
                        select(listings.c.id)
                        .outerjoin(listing_vectors, listing_vectors.c.listing_id == listings.c.id)
                        .where(
                            or_(
                                listing_vectors.c.model.is_(None),
                                listing_vectors.c.model != model,
                            )
                        )
                        .limit(REEMBED_BATCH)
                    )
                ).scalars()
            )
            stale_leads = list(
                (
                    await session.execute(
                        select(lead_profiles.c.lead_id)
                        .where(or_(lead_profiles.c.model.is_(None), lead_profiles.c.model != model))
                        .limit(REEMBED_BATCH)
                    )
                ).scalars()
            )
        for listing_id in stale_listings:
            await self.embed_listing(listing_id)
        for lead_id in stale_leads:
            await self.embed_lead(lead_id)
        if len(stale_listings) == REEMBED_BATCH or len(stale_leads) == REEMBED_BATCH:
            async with self._db.transaction() as session:
                await ctx.finish(session)
                await enqueue_job(session, jobs, REEMBED, Reembed(model=model), key=REEMBED)
        log.info("vectors.reembedded", listings=len(stale_listings), leads=len(stale_leads))

    async def forget_lead(self, lead_id: uuid.UUID) -> None:
        async with self._db.transaction() as session:
            await session.execute(delete(lead_profiles).where(lead_profiles.c.lead_id == lead_id))
