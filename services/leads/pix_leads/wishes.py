"""Leads' wishes as vectors, and semantic search over them.

A lead's wishes (what they asked for, with contact data, greetings and their name stripped, and
their profile: kind, place, budget, rooms, area) are embedded by a job after every change of
the lead (`LeadBook.publish` of LeadCreated/LeadUpdated queues it), with the platform's
embedding provider (pix_runtime.embeddings). Each vector records the model that made it; after
a model change `reembed` (queued at start) re-makes the others in batches.

Search compares the query's vector with every visible lead's exactly (an organisation has
thousands of leads, not millions): an approximate index filtered by organisation and assignee
afterwards could lose the leads the agent may see.
"""

from __future__ import annotations

import uuid
from typing import Any

from pix_runtime.db import Database
from pix_runtime.embeddings import Embedder, similarity_expr, vector_row
from pix_runtime.identity import Identity
from pix_runtime.jobs import JobContext, enqueue_job
from pix_runtime.logging import get_logger
from pydantic import BaseModel
from sqlalchemy import RowMapping, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import insert

from pix_leads import models as m
from pix_leads.records import LeadSummary
from pix_leads.service import LeadRef, profile_of
from pix_leads.tenancy import lead_scope

log = get_logger(__name__)

REEMBED = "leads.reembed-wishes"
REEMBED_BATCH = 64
TEXT_CHARS = 1500
TYPE_WORDS = {
    "apartment": "Wohnung",
    "house": "Haus",
    "commercial": "Gewerbe",
    "land": "Grundstück",
}


_vectors = m.lead_vectors.c
# Built once, run with parameters: every new or changed lead runs both.
LEAD_AND_VECTOR = (
    select(
        m.leads,
        _vectors.model.label("vector_model"),
        _vectors.text_sha.label("vector_text_sha"),
    )
    .outerjoin(m.lead_vectors, _vectors.lead_id == m.leads.c.id)
    .where(m.leads.c.id == bindparam("lead_id"))
)
# Inserted only while the lead exists: one erased while the model ran gets no vector.
_new_vector = insert(m.lead_vectors).excluded
STORE_VECTOR = (
    insert(m.lead_vectors)
    .from_select(
        ["lead_id", "org_id", "model", "dim", "embedding", "text_sha"],
        select(
            m.leads.c.id,
            m.leads.c.org_id,
            bindparam("model", type_=_vectors.model.type),
            bindparam("dim", type_=_vectors.dim.type),
            bindparam("embedding", type_=_vectors.embedding.type),
            bindparam("text_sha", type_=_vectors.text_sha.type),
        ).where(m.leads.c.id == bindparam("lead_id")),
    )
    .on_conflict_do_update(
        index_elements=[_vectors.lead_id],
        set_={
            "model": _new_vector.model,
            "dim": _new_vector.dim,
            "embedding": _new_vector.embedding,
            "text_sha": _new_vector.text_sha,
            "updated_at": func.now(),
        },
    )
)


class Reembed(BaseModel):
    model: str


class SemanticHit(BaseModel):
    lead: LeadSummary
    similarity: float


def wishes_text(row: RowMapping | dict[str, Any]) -> str:
    """What the lead is looking for, in words: the profile, then their own words."""
    profile = profile_of(row)
    kind = TYPE_WORDS.get(profile.property_type or "", "Immobilie")
    deal = {"rent": "zur Miete", "sale": "zum Kauf"}.get(profile.marketing or "", "")
    place = " ".join([*profile.postcodes[:5], profile.city or ""]).strip()
    parts = [
        " ".join(p for p in ("Sucht", kind, deal, f"in {place}" if place else "") if p),
        f"bis {profile.budget_max_eur} €" if profile.budget_max_eur else "",
        f"ab {profile.rooms_min:g} Zimmer" if profile.rooms_min else "",
        f"ab {profile.area_min_m2:g} m²" if profile.area_min_m2 else "",
    ]
    head = ", ".join(p for p in parts if p)
    return f"{head}. {profile.wishes}".strip()[:TEXT_CHARS]


class LeadWishes:
    def __init__(self, db: Database, embedder: Embedder) -> None:
        self._db = db
        self.embedder = embedder

    async def plan_reembed(self) -> None:
        async with self._db.transaction() as session:
            await enqueue_job(
                session, m.jobs, REEMBED, Reembed(model=self.embedder.model), key=REEMBED
            )

    async def embed(self, lead_id: uuid.UUID, ctx: JobContext | None = None) -> None:
        """Embed the lead's wishes unless its vector already holds them; with `ctx`, the job
        completes in the transaction that stores the vector."""
        async with self._db.sessions() as session:
            found = await session.execute(LEAD_AND_VECTOR, {"lead_id": lead_id})
            row = found.mappings().first()
        values = None
        if row is not None:  # else erased meanwhile
            current = {"model": row["vector_model"], "text_sha": row["vector_text_sha"]}
            values = await vector_row(self.embedder, row["org_id"], wishes_text(row), current)
        async with self._db.transaction() as session:
            # A lead erased while the model ran gets no vector (the insert finds no lead row).
            if values is not None:
                await session.execute(
                    STORE_VECTOR,
                    {
                        "lead_id": lead_id,
                        "model": values["model"],
                        "dim": values["dim"],
                        "embedding": values["embedding"],
                        "text_sha": values["text_sha"],
                    },
                )
            if ctx is not None:
                await ctx.finish(session)

    async def search(self, viewer: Identity, text: str, *, limit: int = 20) -> list[SemanticHit]:
        """The visible leads whose wishes mean what the text says, the closest first."""
        words = " ".join(text.split())[:TEXT_CHARS]
        if not words:
            return []
        [vector] = await self.embedder.embed([words])
        lv = m.lead_vectors.c
        similarity = similarity_expr(lv.embedding, lv.dim, len(vector), vector).label("similarity")
        query = (
            select(m.leads, similarity)
            .join(m.lead_vectors, lv.lead_id == m.leads.c.id)
            .where(lead_scope(viewer), lv.model == self.embedder.model, lv.dim == len(vector))
            .order_by(similarity.desc().nulls_last(), m.leads.c.id)
            .limit(limit)
        )
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return [
            SemanticHit(lead=LeadSummary.from_row(r), similarity=round(float(r["similarity"]), 4))
            for r in rows
            if r["similarity"] is not None
        ]

    # --- jobs ---------------------------------------------------------------------------------

    async def embed_job(self, payload: LeadRef, ctx: JobContext) -> None:
        await self.embed(payload.lead_id, ctx)

    async def reembed_job(self, payload: Reembed, ctx: JobContext) -> None:
        """Embed a batch of leads without a vector of the current model; again while any remain."""
        model = self.embedder.model
        async with self._db.sessions() as session:
            stale = list(
                (
                    await session.execute(
                        select(m.leads.c.id)
                        .outerjoin(m.lead_vectors, m.lead_vectors.c.lead_id == m.leads.c.id)
                        .where(
                            or_(m.lead_vectors.c.model.is_(None), m.lead_vectors.c.model != model)
                        )
                        .limit(REEMBED_BATCH)
                    )
                ).scalars()
            )
        for lead_id in stale:
            await self.embed(lead_id)
        if len(stale) == REEMBED_BATCH:
            async with self._db.transaction() as session:
                await ctx.finish(session)
                await enqueue_job(session, m.jobs, REEMBED, Reembed(model=model), key=REEMBED)
        log.info("wishes.reembedded", leads=len(stale))
