"""Price estimates from comparable listings (seed §5.2, `estimatePrice()`).

Comparables: the same type and marketing, living area within ±30 %, the same postcode, else
within a radius of the place (great-circle distance, when the place and the listings have
coordinates), else the same postcode region (first three digits: listings without coordinates,
or every listing when the place has none), else the same city; listed within the last two
years with a price. The organisation's own listings are named; the platform's other listings
count anonymously (area, price per m², postcode), never with a title or id. Prices per m² go
through IQR outlier removal (Tukey's fences, 1.5 × IQR); the estimate is the median per m² ×
the area, the range the quartiles × the area. Fewer than three comparables after the fences:
no estimate, and the answer says so.
"""

from __future__ import annotations

import statistics
import uuid
from datetime import timedelta
from typing import Any, Literal

from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.identity import Identity
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, func, null, or_, select

from pix_listings.geocoding import Locations, Point, distance_sql
from pix_listings.models import listings
from pix_listings.records import POSTCODE, Marketing, PropertyType

AREA_BAND = 0.30
RECENT = timedelta(days=730)
MIN_COMPARABLES = 3
GOOD_COMPARABLES = 8
MAX_COMPARABLES = 200


class EstimateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    property_type: PropertyType
    marketing: Marketing = "sale"
    living_area_m2: float = Field(gt=5, le=100_000)
    postcode: str = Field(pattern=POSTCODE.pattern)
    city: str | None = Field(default=None, max_length=100)
    rooms: float | None = Field(default=None, gt=0, le=100)
    exclude_listing_id: uuid.UUID | None = None


class Comparable(BaseModel):
    listing_id: uuid.UUID | None = Field(description="Only for the organisation's own listings")
    title: str | None
    postcode: str | None
    living_area_m2: float
    price_eur: int
    price_per_m2: float
    own: bool
    outlier: bool
    proximity: Literal["postcode", "nearby", "region", "city"]
    distance_km: float | None = None


class PriceEstimate(BaseModel):
    status: Literal["ok", "low_confidence", "too_few_comparables"]
    message: str
    estimate_eur: int | None
    low_eur: int | None
    high_eur: int | None
    price_per_m2: float | None
    comparables_used: int
    outliers_removed: int
    located: bool = Field(
        default=False, description="Whether nearness was measured in km (else postcode areas)"
    )
    comparables: list[Comparable]


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def fences(values: list[float]) -> tuple[float, float]:
    q1, _, q3 = quartiles(values)
    spread = q3 - q1
    return q1 - 1.5 * spread, q3 + 1.5 * spread


KM_PER_DEGREE = 111.2


class PriceEstimator:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        locations: Locations | None = None,
        *,
        radius_km: float = 5.0,
    ) -> None:
        self._db = db
        self._clock = clock
        self._locations = locations
        self._radius_km = radius_km

    async def _centre(self, viewer: Identity, wanted: EstimateRequest) -> Point | None:
        """The place's point: the listing being priced if it is located, else geocoded."""
        if wanted.exclude_listing_id:
            async with self._db.sessions() as session:
                row = (
                    await session.execute(
                        select(listings.c.latitude, listings.c.longitude).where(
                            listings.c.id == wanted.exclude_listing_id,
                            listings.c.org_id == viewer.org_id,
                        )
                    )
                ).first()
            if row is not None and row.latitude is not None and row.longitude is not None:
                return Point(row.latitude, row.longitude)
        if self._locations is None:
            return None
        town = " ".join(p for p in (wanted.postcode, wanted.city) if p)
        return await self._locations.point_of(f"{town}, Deutschland")

    async def estimate(self, viewer: Identity, wanted: EstimateRequest) -> PriceEstimate:
        area = wanted.living_area_m2
        region = wanted.postcode[:3]
        centre = await self._centre(viewer, wanted)
        same_area = func.left(listings.c.postcode, 3) == region
        distance: Any = null()
        places: list[Any] = [listings.c.postcode == wanted.postcode]
        if centre is not None:
            distance = distance_sql(
                centre.latitude, centre.longitude, listings.c.latitude, listings.c.longitude
            )
            box = self._radius_km / KM_PER_DEGREE
            places.append(
                and_(
                    listings.c.latitude.between(centre.latitude - box, centre.latitude + box),
                    distance <= self._radius_km,
                )
            )
            # Listings not located (yet): the postcode area stands in for the radius.
            places.append(and_(listings.c.latitude.is_(None), same_area))
        else:
            places.append(same_area)
        if wanted.city:
            places.append(func.lower(listings.c.city) == wanted.city.lower())
        query = (
            select(
                listings.c.id,
                listings.c.org_id,
                listings.c.title,
                listings.c.postcode,
                listings.c.city,
                listings.c.living_area_m2,
                listings.c.price_eur,
                distance.label("distance_km"),
            )
            .where(
                listings.c.property_type == wanted.property_type,
                listings.c.marketing == wanted.marketing,
                listings.c.price_eur > 0,
                listings.c.living_area_m2.between(area * (1 - AREA_BAND), area * (1 + AREA_BAND)),
                listings.c.updated_at >= self._clock.now() - RECENT,
                # The platform's listings count only once they were public; the org's own
                # drafts count too (they are its own knowledge).
                or_(listings.c.status != "draft", listings.c.org_id == viewer.org_id),
                or_(*places),
            )
            .limit(MAX_COMPARABLES)
        )
        if wanted.exclude_listing_id:
            query = query.where(listings.c.id != wanted.exclude_listing_id)
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).mappings().all()

        def proximity(row: dict[str, Any]) -> Literal["postcode", "nearby", "region", "city"]:
            postcode = row["postcode"]
            if postcode == wanted.postcode:
                return "postcode"
            if row["distance_km"] is not None and row["distance_km"] <= self._radius_km:
                return "nearby"
            if isinstance(postcode, str) and postcode[:3] == region:
                return "region"
            return "city"

        # The nearest circle that has enough comparables.
        tagged = [(dict(r), proximity(dict(r))) for r in rows]
        circles: tuple[tuple[str, ...], ...] = (
            ("postcode",),
            ("postcode", "nearby"),
            ("postcode", "nearby", "region"),
            ("postcode", "nearby", "region", "city"),
        )
        for circle in circles:
            chosen = [(r, p) for r, p in tagged if p in circle]
            if len(chosen) >= GOOD_COMPARABLES:
                break
        comparables = [
            Comparable(
                listing_id=r["id"] if r["org_id"] == viewer.org_id else None,
                title=r["title"] if r["org_id"] == viewer.org_id else None,
                postcode=r["postcode"],
                living_area_m2=r["living_area_m2"],
                price_eur=r["price_eur"],
                price_per_m2=round(r["price_eur"] / r["living_area_m2"], 2),
                own=r["org_id"] == viewer.org_id,
                outlier=False,
                proximity=p,
                distance_km=None if r["distance_km"] is None else round(r["distance_km"], 1),
            )
            for r, p in chosen
        ]
        estimate = self._conclude(comparables, area, wanted.marketing)
        estimate.located = centre is not None
        if centre is None and any(c.proximity == "region" for c in comparables):
            estimate.message += (
                " Nähe nach PLZ-Bereich bestimmt (ohne Koordinaten, Entfernung unbekannt)."
            )
        elif centre is not None and any(c.proximity == "nearby" for c in comparables):
            estimate.message += f" Vergleiche im Umkreis von {self._radius_km:g} km."
        return estimate

    def _conclude(
        self, comparables: list[Comparable], area: float, marketing: str
    ) -> PriceEstimate:
        per_m2 = [c.price_per_m2 for c in comparables]
        removed = 0
        if len(per_m2) >= 4:
            low, high = fences(per_m2)
            for c in comparables:
                c.outlier = not (low <= c.price_per_m2 <= high)
            removed = sum(c.outlier for c in comparables)
        kept = [c.price_per_m2 for c in comparables if not c.outlier]
        comparables.sort(key=lambda c: (c.outlier, c.price_per_m2))
        unit = "€/Monat" if marketing == "rent" else "€"
        if len(kept) < MIN_COMPARABLES:
            return PriceEstimate(
                status="too_few_comparables",
                message=(
                    f"Nur {len(kept)} vergleichbare Angebote gefunden (mindestens "
                    f"{MIN_COMPARABLES} nötig): keine seriöse Schätzung möglich."
                ),
                estimate_eur=None,
                low_eur=None,
                high_eur=None,
                price_per_m2=None,
                comparables_used=len(kept),
                outliers_removed=removed,
                comparables=comparables,
            )
        if len(kept) >= 4:
            q1, median, q3 = quartiles(kept)
        else:
            median = statistics.median(kept)
            q1, q3 = min(kept), max(kept)
        status: Literal["ok", "low_confidence"] = (
            "ok" if len(kept) >= GOOD_COMPARABLES else "low_confidence"
        )
        message = (
            f"Schätzung aus {len(kept)} Vergleichsangeboten"
            + (f", {removed} Ausreißer entfernt" if removed else "")
            + ("" if status == "ok" else " – wenige Vergleiche, die Spanne ist unsicher")
            + f" ({unit})."
        )
        return PriceEstimate(
            status=status,
            message=message,
            estimate_eur=round(median * area),
            low_eur=round(q1 * area),
            high_eur=round(q3 * area),
            price_per_m2=round(median, 2),
            comparables_used=len(kept),
            outliers_removed=removed,
            comparables=comparables,
        )
