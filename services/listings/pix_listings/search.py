"""One search box: German full text for the words, vectors for the meaning.

Full text uses the database-maintained `search_vector` (title A, address B, description and
features C) with `websearch_to_tsquery('german', …)`; meaning uses the HNSW index over the
listings' vectors. The two lists are merged by reciprocal rank fusion, and every hit says which
of them found it.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

from pix_runtime.db import Database
from pix_runtime.errors import Invalid
from pix_runtime.identity import Identity
from pydantic import BaseModel
from sqlalchemy import func, literal_column, select, text, true

from pix_listings.models import listing_vectors, listings
from pix_listings.vectors import Vectors

RRF_K = 60
# Below this similarity a vector neighbour is no match, just the nearest of unrelated texts.
MIN_SIMILARITY = 0.20
MAX_QUERY = 200
# Shorter words would match inside too many others.
MIN_PART = 4


class SearchHit(BaseModel):
    id: uuid.UUID
    reference: str
    title: str
    status: str
    city: str | None
    postcode: str | None
    price_eur: int | None
    matched: list[Literal["text", "meaning"]]
    text_rank: float | None
    similarity: float | None
    headline: str | None
    score: float


class Search:
    def __init__(self, db: Database, vectors: Vectors) -> None:
        self._db = db
        self._vectors = vectors

    async def search(
        self, viewer: Identity, query: str, *, limit: int = 20, semantic: bool = True
    ) -> list[SearchHit]:
        query = query.strip()
        if not query:
            raise Invalid("empty_query", "type something to search for", "q")
        if len(query) > MAX_QUERY:
            raise Invalid("query_too_long", f"at most {MAX_QUERY} characters", "q")
        limit = max(1, min(limit, 50))
        scope = listings.c.org_id == viewer.org_id if not viewer.is_admin else true()
        tsquery = func.websearch_to_tsquery(literal_column("'german'::regconfig"), query)
        # ts_rank, not ts_rank_cd: ~40 % less time where a word is in every listing (27 -> 16 ms
        # over 20,000), and listing texts are too short for cover density to rank better.
        rank = func.ts_rank(listings.c.search_vector, tsquery, 32)
        headline = func.ts_headline(
            literal_column("'german'::regconfig"),
            func.concat_ws(" ", listings.c.title, listings.c.description_de),
            tsquery,
            "MaxFragments=1, MaxWords=18, MinWords=6, StartSel=<mark>, StopSel=</mark>",
        )
        async with self._db.sessions() as session:
            text_rows = (
                (
                    await session.execute(
                        select(
                            *[c for c in listings.c if c.name != "search_vector"],
                            rank.label("rank"),
                            headline.label("headline"),
                        )
                        .where(scope, listings.c.search_vector.op("@@")(tsquery))
                        .order_by(rank.desc())
                        .limit(limit)
                    )
                )
                .mappings()
                .all()
            )
            # Words inside German compounds ("Balkon" in "Südbalkon") through the trigram index.
            words = [w.lower() for w in re.findall(r"\w+", query) if len(w) >= MIN_PART][:5]
            part_rows: list[Any] = []
            # Only when full text found too little: a common word needs no substring scan.
            if words and len(text_rows) < limit:
                found = {row["id"] for row in text_rows}
                part_rows = [
                    row
                    for row in (
                        await session.execute(
                            select(*[c for c in listings.c if c.name != "search_vector"])
                            .where(
                                scope,
                                *[
                                    listings.c.search_text.like(
                                        "%" + w.replace("\\", "").replace("_", "\\_") + "%",
                                        escape="\\",
                                    )
                                    for w in words
                                ],
                            )
                            .order_by(listings.c.updated_at.desc())
                            .limit(limit)
                        )
                    )
                    .mappings()
                    .all()
                    if row["id"] not in found
                ]
            meaning_rows: list[Any] = []
            dim = self._vectors.embedder.dim
            if semantic and dim:
                vector = await self._vectors.query_vector(query)
                meaning_rows = list(
                    await self._nearest(session, viewer, vector, len(vector), limit)
                )

        fused: dict[uuid.UUID, dict[str, Any]] = {}
        for position, row in enumerate(text_rows):
            entry = fused.setdefault(row["id"], {"row": row, "matched": [], "score": 0.0})
            entry["matched"].append("text")
            entry["text_rank"] = float(row["rank"])
            entry["headline"] = row["headline"]
            entry["score"] += 1 / (RRF_K + position + 1)
        for position, row in enumerate(part_rows, start=len(text_rows)):
            entry = fused.setdefault(row["id"], {"row": row, "matched": [], "score": 0.0})
            entry["matched"].append("text")
            entry["score"] += 1 / (RRF_K + position + 1)
        for position, row in enumerate(meaning_rows):
            if row["similarity"] < MIN_SIMILARITY:
                continue
            entry = fused.setdefault(row["id"], {"row": row, "matched": [], "score": 0.0})
            entry["matched"].append("meaning")
            entry["similarity"] = float(row["similarity"])
            entry["score"] += 1 / (RRF_K + position + 1)
        ranked = sorted(fused.values(), key=lambda e: e["score"], reverse=True)[:limit]
        return [
            SearchHit(
                id=e["row"]["id"],
                reference=e["row"]["reference"],
                title=e["row"]["title"],
                status=e["row"]["status"],
                city=e["row"]["city"],
                postcode=e["row"]["postcode"],
                price_eur=e["row"]["price_eur"],
                matched=e["matched"],
                text_rank=e.get("text_rank"),
                similarity=e.get("similarity"),
                headline=e.get("headline"),
                score=round(e["score"], 5),
            )
            for e in ranked
        ]

    async def _nearest(
        self, session: Any, viewer: Identity, vector: list[float], dim: int, limit: int
    ) -> Any:
        """Nearest listings by cosine distance through the HNSW index of this dimension."""
        model = self._vectors.embedder.model
        scope = "" if viewer.is_admin else "AND v.org_id = :org"
        # ef_search above the limit keeps recall up when the org filter drops neighbours.
        await session.execute(text("SET LOCAL hnsw.ef_search = 100"))
        statement = text(
            f"""
            SELECT l.*, 1 - (v.embedding::vector({dim}) <=> CAST(:q AS vector({dim}))) AS similarity
            FROM listings.listing_vectors v JOIN listings.listings l ON l.id = v.listing_id
            WHERE v.dim = {dim} AND v.model = :model {scope}
            ORDER BY v.embedding::vector({dim}) <=> CAST(:q AS vector({dim}))
            LIMIT :limit
            """  # noqa: S608 - dim is an int from the embedder, never user input
        )
        params: dict[str, Any] = {"q": str(vector), "model": model, "limit": limit}
        if not viewer.is_admin:
            params["org"] = viewer.org_id
        return (await session.execute(statement, params)).mappings().all()


__all__ = ["Search", "SearchHit", "listing_vectors"]
