"""Matching both ways: listings for a lead, leads for a listing.

Hard rules first (type, sale or rent, budget with a tolerance, rooms, living area, the place:
the wished postcodes or town, or within a radius of the wished place by great-circle distance
when both sides have coordinates, else the same postcode area), then a rule score (how well
each rule fits) plus a semantic boost (cosine similarity between the lead's wishes and the
listing's texts), ranked in SQL; reasons are worded for the top results only.

The similarity is computed exactly for the rows the rules let through (no HNSW here): an
approximate index filtered afterwards can lose rows that the rules keep.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pix_contracts.leads import LeadCreated, LeadErased, LeadStatusChanged, LeadUpdated
from pix_runtime.db import Database
from pix_runtime.embeddings import similarity_expr
from pix_runtime.errors import NotFound
from pix_runtime.identity import Identity
from pix_runtime.inbox import first_delivery
from pix_runtime.jobs import cancel_jobs, enqueue_job
from pydantic import BaseModel
from sqlalchemy import (
    Float,
    RowMapping,
    and_,
    any_,
    case,
    cast,
    delete,
    func,
    literal,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from pix_listings.geocoding import Locations, distance_sql, radius_from_wishes, wished_place
from pix_listings.models import inbox, jobs, lead_profiles, listing_vectors, listings
from pix_listings.reasons import FEATURE_BONUS_CAP, Facts, Wish, feature_bonus, reasons_for
from pix_listings.vectors import EMBED_LEAD, LeadJob, Vectors

AREA_SLACK = 0.9  # a listing 10 % under the wished area still matches (named in the reasons)
ROOMS_SLACK = 0.5  # half a room less still matches
INACTIVE = ("LOST",)
# The SQL ranking fetches this many times the wanted rows; the wished features mentioned in
# the listing's texts (worded anyway for the reasons) then re-rank them.
RERANK_POOL = 3


class Match(BaseModel):
    id: uuid.UUID
    score: float
    similarity: float | None
    reasons: list[str]
    title: str | None = None
    reference: str | None = None
    status: str | None = None
    price_eur: int | None = None
    rooms: float | None = None
    living_area_m2: float | None = None
    postcode: str | None = None
    city: str | None = None
    lead_score: int | None = None
    distance_km: float | None = None


class LeadMatches(BaseModel):
    """How many leads might want a listing, and the best of them."""

    count: int
    matches: list[Match]


@dataclass(frozen=True)
class Tuning:
    budget_tolerance: float
    semantic_weight: float
    radius_km: float = 10.0


def ranked(matches: list[Match], limit: int, ceiling: float) -> list[Match]:
    """The best `limit` matches, their scores scaled to 0..1 (rules, meaning and features
    at their best give 1)."""
    best = sorted(matches, key=lambda m: (-m.score, str(m.id)))[:limit]
    for match in best:
        match.score = round(min(1.0, match.score / ceiling), 4)
    return best


def region(postcode: str | None) -> str | None:
    return postcode[:3] if postcode and len(postcode) >= 4 else None


KM_PER_DEGREE = 111.2


def closeness(distance: Any, radius: Any) -> tuple[Any, Any]:
    """A `case` branch: closer is better, 1.0 at the wished place, 0.6 at the radius' edge
    (beyond it only the postcode area or town let the row through)."""
    return (distance.is_not(None), 1.0 - 0.4 * func.least(1.0, distance / radius))


def rounded_km(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


class Matching:
    def __init__(
        self, db: Database, vectors: Vectors, tuning: Tuning, locations: Locations | None = None
    ) -> None:
        self._db = db
        self._vectors = vectors
        self._tuning = tuning
        self._locations = locations
        self._ceiling = 1.0 + tuning.semantic_weight + FEATURE_BONUS_CAP

    # --- lead profiles from the leads service's events -----------------------------------------

    async def lead_changed(self, event: LeadCreated | LeadUpdated) -> None:
        profile = event.profile
        values: dict[str, Any] = {
            "org_id": event.org_id,
            "listing_id": event.listing_id,
            "status": event.status,
            "score": event.score,
            "property_type": profile.property_type,
            "marketing": profile.marketing,
            "budget_min_eur": profile.budget_min_eur,
            "budget_max_eur": profile.budget_max_eur,
            "rooms_min": profile.rooms_min,
            "area_min_m2": profile.area_min_m2,
            "postcodes": list(profile.postcodes)[:50],
            "regions": sorted({r for p in profile.postcodes if (r := region(p))}),
            "city": profile.city,
            "wishes": profile.wishes,
            "radius_km": radius_from_wishes(profile.wishes),
            "financing": profile.financing,
            "updated_at": func.now(),
        }
        if isinstance(event, LeadCreated):
            values["locale"] = event.locale
        place = wished_place(values["postcodes"], profile.city)
        async with self._db.transaction() as session:
            if not await first_delivery(
                session, inbox, consumer="listings.leads", event_id=event.event_id
            ):
                return
            located_place = await session.scalar(
                select(lead_profiles.c.geocoded_place).where(
                    lead_profiles.c.lead_id == event.lead_id
                )
            )
            moved = place != located_place
            if moved:
                # The old point is of another place: postcodes only until the job has run.
                values |= {"latitude": None, "longitude": None, "geocoded_place": None}
            await session.execute(
                insert(lead_profiles)
                .values(lead_id=event.lead_id, **values)
                .on_conflict_do_update(index_elements=[lead_profiles.c.lead_id], set_=values)
            )
            await enqueue_job(
                session, jobs, EMBED_LEAD, LeadJob(lead_id=event.lead_id), key=str(event.lead_id)
            )
            if moved and place is not None and self._locations is not None:
                await self._locations.lead_later(session, event.lead_id)

    async def lead_status_changed(self, event: LeadStatusChanged) -> None:
        async with self._db.transaction() as session:
            if not await first_delivery(
                session, inbox, consumer="listings.leads", event_id=event.event_id
            ):
                return
            await session.execute(
                update(lead_profiles)
                .where(lead_profiles.c.lead_id == event.lead_id)
                .values(status=event.new_status, updated_at=func.now())
            )

    async def lead_erased(self, event: LeadErased) -> None:
        async with self._db.transaction() as session:
            if not await first_delivery(
                session, inbox, consumer="listings.leads", event_id=event.event_id
            ):
                return
            await session.execute(
                delete(lead_profiles).where(lead_profiles.c.lead_id == event.lead_id)
            )
            await cancel_jobs(session, jobs, EMBED_LEAD, key=str(event.lead_id))

    # --- listings for a lead --------------------------------------------------------------------

    async def listings_for_lead(
        self, viewer: Identity, lead_id: uuid.UUID, *, limit: int = 10, locale: str | None = None
    ) -> list[Match]:
        async with self._db.sessions() as session:
            lead = (
                (
                    await session.execute(
                        select(lead_profiles).where(
                            lead_profiles.c.lead_id == lead_id,
                            lead_profiles.c.org_id == viewer.org_id
                            if not viewer.is_admin
                            else true(),
                        )
                    )
                )
                .mappings()
                .first()
            )
            if lead is None:
                raise NotFound("lead")
            return await self._listings_for(session, lead, locale or viewer.locale, limit)

    async def _listings_for(
        self, session: Any, lead: RowMapping, locale: str, limit: int
    ) -> list[Match]:
        tol = self._tuning.budget_tolerance
        conditions: list[Any] = [
            listings.c.org_id == lead["org_id"],
            listings.c.status == "published",
        ]
        if lead["property_type"]:
            conditions.append(listings.c.property_type == lead["property_type"])
        if lead["marketing"]:
            conditions.append(listings.c.marketing == lead["marketing"])
        if lead["budget_max_eur"]:
            conditions.append(listings.c.price_eur <= lead["budget_max_eur"] * (1 + tol))
        if lead["rooms_min"]:
            conditions.append(listings.c.rooms >= lead["rooms_min"] - ROOMS_SLACK)
        if lead["area_min_m2"]:
            conditions.append(listings.c.living_area_m2 >= lead["area_min_m2"] * AREA_SLACK)
        places: list[Any] = []
        distance: Any = None
        radius = lead["radius_km"] or self._tuning.radius_km
        if lead["postcodes"]:
            places.append(listings.c.postcode.in_(lead["postcodes"]))
        if lead["city"]:
            places.append(func.lower(listings.c.city) == lead["city"].lower())
        if lead["latitude"] is not None and lead["longitude"] is not None:
            distance = distance_sql(
                lead["latitude"], lead["longitude"], listings.c.latitude, listings.c.longitude
            )
            box = radius / KM_PER_DEGREE
            places.append(
                and_(
                    # A bounding box on latitude (indexed) first, the exact distance after.
                    listings.c.latitude.between(lead["latitude"] - box, lead["latitude"] + box),
                    distance <= radius,
                )
            )
            if lead["regions"]:
                # Listings not located (yet): the postcode area stands in for the radius.
                places.append(
                    and_(
                        listings.c.latitude.is_(None),
                        func.left(listings.c.postcode, 3).in_(lead["regions"]),
                    )
                )
        elif lead["regions"]:
            places.append(func.left(listings.c.postcode, 3).in_(lead["regions"]))
        if places:
            conditions.append(or_(*places))

        rule = self._listing_rule_score(lead, distance, radius)
        vector = lead["embedding"]
        dim = lead["dim"]
        if vector is not None and dim:
            sim: Any = similarity_expr(
                listing_vectors.c.embedding, listing_vectors.c.dim, dim, list(vector)
            )
            sim = case((listing_vectors.c.model == lead["model"], sim), else_=None)
        else:
            sim = null()
        score = rule + self._tuning.semantic_weight * func.coalesce(sim, 0.0)
        query = (
            select(
                *[c for c in listings.c if c.name != "search_vector"],
                sim.label("similarity"),
                score.label("score"),
                (null() if distance is None else distance).label("distance_km"),
            )
            .outerjoin(listing_vectors, listing_vectors.c.listing_id == listings.c.id)
            .where(and_(*conditions))
            .order_by(score.desc(), listings.c.id)
            .limit(RERANK_POOL * max(1, min(limit, 100)))
        )
        rows = (await session.execute(query)).mappings().all()
        wish = Wish.of(lead)
        matches = [
            Match(
                id=r["id"],
                score=round(float(r["score"]) + feature_bonus(wish, Facts.of(r)), 4),
                similarity=None if r["similarity"] is None else round(float(r["similarity"]), 4),
                reasons=reasons_for(
                    wish, Facts.of(r), r["similarity"], tol, locale, distance_km=r["distance_km"]
                ),
                title=r["title"],
                reference=r["reference"],
                status=r["status"],
                price_eur=r["price_eur"],
                rooms=r["rooms"],
                living_area_m2=r["living_area_m2"],
                postcode=r["postcode"],
                city=r["city"],
                distance_km=rounded_km(r["distance_km"]),
            )
            for r in rows
        ]
        return ranked(matches, limit, self._ceiling)

    def _listing_rule_score(self, lead: RowMapping, distance: Any, radius: float) -> Any:
        """0..1: the mean fit of the rules the lead set (a rule not set fits fully)."""
        parts: list[Any] = []
        budget = lead["budget_max_eur"]
        if budget:
            over = (cast(listings.c.price_eur, Float) - budget) / budget
            parts.append(case((over <= 0, 1.0), else_=1.0 - over / self._tuning.budget_tolerance))
        if lead["rooms_min"]:
            parts.append(case((listings.c.rooms >= lead["rooms_min"], 1.0), else_=0.5))
        if lead["area_min_m2"]:
            parts.append(case((listings.c.living_area_m2 >= lead["area_min_m2"], 1.0), else_=0.5))
        if lead["postcodes"] or lead["city"]:
            whens: list[Any] = [(listings.c.postcode.in_(lead["postcodes"] or [""]), 1.0)]
            if distance is not None:
                whens.append(closeness(distance, radius))
            whens.append((func.lower(listings.c.city) == (lead["city"] or "").lower(), 0.8))
            parts.append(case(*whens, else_=0.6))
        if not parts:
            return literal(0.5)
        total: Any = parts[0]
        for part in parts[1:]:
            total = total + part
        return total / len(parts)

    # --- leads for a listing --------------------------------------------------------------------

    async def leads_for_listing(
        self, viewer: Identity, listing_id: uuid.UUID, *, limit: int = 20, locale: str | None = None
    ) -> LeadMatches:
        """How many leads might want the listing, and the best of them with reasons."""
        tol = self._tuning.budget_tolerance
        async with self._db.sessions() as session:
            listing = (
                (
                    await session.execute(
                        select(
                            listings,
                            listing_vectors.c.embedding,
                            listing_vectors.c.dim,
                            listing_vectors.c.model,
                        )
                        .outerjoin(listing_vectors, listing_vectors.c.listing_id == listings.c.id)
                        .where(
                            listings.c.id == listing_id,
                            listings.c.org_id == viewer.org_id if not viewer.is_admin else true(),
                        )
                    )
                )
                .mappings()
                .first()
            )
            if listing is None:
                raise NotFound("listing")
            lp = lead_profiles.c
            price = listing["price_eur"]
            conditions: list[Any] = [lp.org_id == listing["org_id"], lp.status.not_in(INACTIVE)]
            if listing["property_type"]:
                conditions.append(
                    or_(lp.property_type.is_(None), lp.property_type == listing["property_type"])
                )
            conditions.append(or_(lp.marketing.is_(None), lp.marketing == listing["marketing"]))
            if price is not None:
                conditions.append(
                    or_(lp.budget_max_eur.is_(None), lp.budget_max_eur * (1 + tol) >= price)
                )
            if listing["rooms"] is not None:
                conditions.append(
                    or_(lp.rooms_min.is_(None), lp.rooms_min - ROOMS_SLACK <= listing["rooms"])
                )
            if listing["living_area_m2"] is not None:
                conditions.append(
                    or_(
                        lp.area_min_m2.is_(None),
                        lp.area_min_m2 * AREA_SLACK <= listing["living_area_m2"],
                    )
                )
            postcode = listing["postcode"] or ""
            city = (listing["city"] or "").lower()
            same_area = lp.regions.contains([region(postcode) or ""])
            distance: Any = None
            radius = func.coalesce(lp.radius_km, self._tuning.radius_km)
            near: list[Any] = [same_area]
            if listing["latitude"] is not None and listing["longitude"] is not None:
                distance = distance_sql(
                    lp.latitude, lp.longitude, listing["latitude"], listing["longitude"]
                )
                # Leads whose place is located: by distance; the others by postcode area.
                near = [
                    and_(lp.latitude.is_not(None), distance <= radius),
                    and_(lp.latitude.is_(None), same_area),
                ]
            conditions.append(
                or_(
                    and_(func.cardinality(lp.postcodes) == 0, lp.city.is_(None)),
                    lp.postcodes.contains([postcode]),
                    func.lower(lp.city) == city,
                    *near,
                )
            )
            rule = self._lead_rule_score(listing, distance, radius)
            if listing["embedding"] is not None:
                sim: Any = similarity_expr(
                    lp.embedding, lp.dim, listing["dim"], list(listing["embedding"])
                )
                sim = case((lp.model == listing["model"], sim), else_=None)
            else:
                sim = null()
            score = rule + self._tuning.semantic_weight * func.coalesce(sim, 0.0)
            where = and_(*conditions)
            # One pass: the count of every lead the rules let through rides along as a window.
            rows = (
                (
                    await session.execute(
                        select(
                            # Not the vectors: parsing 60 of them would cost more than the query.
                            *[
                                c
                                for c in lead_profiles.c
                                if c.name not in ("embedding", "text_sha")
                            ],
                            sim.label("similarity"),
                            score.label("rank"),
                            (null() if distance is None else distance).label("distance_km"),
                            func.count().over().label("total"),
                        )
                        .where(where)
                        .order_by(score.desc(), lp.lead_id)
                        .limit(RERANK_POOL * max(1, min(limit, 100)))
                    )
                )
                .mappings()
                .all()
            )
        total = int(rows[0]["total"]) if rows else 0
        facts = Facts.of(listing)
        matches = [
            Match(
                id=r["lead_id"],
                score=round(float(r["rank"]) + feature_bonus(Wish.of(r), facts), 4),
                similarity=None if r["similarity"] is None else round(float(r["similarity"]), 4),
                reasons=reasons_for(
                    Wish.of(r),
                    facts,
                    r["similarity"],
                    tol,
                    locale or viewer.locale,
                    distance_km=r["distance_km"],
                ),
                status=r["status"],
                lead_score=r["score"],
                distance_km=rounded_km(r["distance_km"]),
            )
            for r in rows
        ]
        return LeadMatches(count=total, matches=ranked(matches, limit, self._ceiling))

    def _lead_rule_score(self, listing: RowMapping, distance: Any, radius: Any) -> Any:
        lp = lead_profiles.c
        parts: list[Any] = []
        price = listing["price_eur"]
        if price is not None:
            over = (price - cast(lp.budget_max_eur, Float)) / func.nullif(lp.budget_max_eur, 0)
            parts.append(
                case(
                    (lp.budget_max_eur.is_(None), 0.8),
                    (over <= 0, 1.0),
                    else_=1.0 - over / self._tuning.budget_tolerance,
                )
            )
        if listing["rooms"] is not None:
            parts.append(
                case(
                    (lp.rooms_min.is_(None), 0.8),
                    (lp.rooms_min <= listing["rooms"], 1.0),
                    else_=0.5,
                )
            )
        if listing["living_area_m2"] is not None:
            parts.append(
                case(
                    (lp.area_min_m2.is_(None), 0.8),
                    (lp.area_min_m2 <= listing["living_area_m2"], 1.0),
                    else_=0.5,
                )
            )
        whens: list[Any] = [(literal(listing["postcode"] or "") == any_(lp.postcodes), 1.0)]
        if distance is not None:
            whens.append(closeness(distance, radius))
        whens += [
            (func.lower(lp.city) == (listing["city"] or "").lower(), 0.8),
            (and_(func.cardinality(lp.postcodes) == 0, lp.city.is_(None)), 0.5),
        ]
        parts.append(case(*whens, else_=0.6))
        # Lead score (0..100) breaks ties toward the leads most likely to buy.
        parts.append(cast(lp.score, Float) / 100.0)
        total: Any = parts[0]
        for part in parts[1:]:
            total = total + part
        return total / len(parts)
