"""Coordinates for listings and for the places leads wish for, from Google's Geocoding API.

`GET {base}/maps/api/geocode/json?address=…&region=de&key=…` answers `{"status", "results":
[{"geometry": {"location": {"lat", "lng"}}, "formatted_address"}]}` with HTTP 200 even when it
refuses (the status says why). The key is the platform's Google key (`PIX_GOOGLE_PLACES_KEY`,
the one orders' address autocomplete uses). Geocoding runs as a job after a listing is created
or its address changes, and after a lead's wished place changes; without a key no job is
queued and matching keeps to postcodes (the reasons say so).
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from pix_runtime.db import Database
from pix_runtime.jobs import JobContext, PermanentJobError, enqueue_job
from pix_runtime.logging import get_logger
from pydantic import BaseModel, SecretStr
from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pix_listings.models import jobs, lead_profiles, listings

log = get_logger(__name__)

LOCATE_LISTING = "listings.geocode-listing"
LOCATE_LEAD = "listings.geocode-lead"
EARTH_RADIUS_KM = 6371.0088
COUNTRY_NAMES = {"DE": "Deutschland", "AT": "Österreich", "CH": "Schweiz"}
# "im Umkreis von 5 km", "Radius 20km", "within 10 km": a lead's own radius, from their words.
RADIUS_WORDS = re.compile(
    r"(?:umkreis|radius|umgebung|entfernung|within|around)\D{0,25}?(\d{1,3}(?:[.,]\d)?)\s*km",
    re.IGNORECASE,
)
MAX_RADIUS_KM = 200.0


class GeocodingUnavailable(Exception):
    """Timeout, 5xx or a quota answer: the job retries with backoff."""


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float


class LocateListing(BaseModel):
    listing_id: uuid.UUID


class LocateLead(BaseModel):
    lead_id: uuid.UUID


def distance_km(a: Point, b: Point) -> float:
    """Great-circle distance (haversine)."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlng = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def distance_sql(lat: Any, lng: Any, latitude: Any, longitude: Any) -> Any:
    """The same haversine in SQL; each side a column or a number. NULL when a side is."""
    lat1, lat2 = func.radians(lat), func.radians(latitude)
    h = func.power(func.sin((lat2 - lat1) / 2), 2) + func.cos(lat1) * func.cos(lat2) * func.power(
        func.sin(func.radians(longitude - lng) / 2), 2
    )
    # Not LEAST(1, h): it skips NULLs, and a side without coordinates must stay NULL.
    return 2 * EARTH_RADIUS_KM * func.asin(func.sqrt(case((h > 1.0, 1.0), else_=h)))


def radius_from_wishes(wishes: str) -> float | None:
    found = RADIUS_WORDS.search(wishes or "")
    if not found:
        return None
    radius = float(found.group(1).replace(",", "."))
    return radius if 0 < radius <= MAX_RADIUS_KM else None


def listing_address(row: Any) -> str | None:
    """What to geocode for a listing: the street if known, else the postcode and town."""
    town = " ".join(p for p in (row["postcode"], row["city"]) if p)
    if not town:
        return None
    parts = [row["street"], town, COUNTRY_NAMES.get(row["country"] or "DE", row["country"])]
    return ", ".join(p for p in parts if p)


def wished_place(postcodes: list[str], city: str | None) -> str | None:
    """A lead's wished place as one point: the first postcode (with the town), else the town."""
    town = " ".join(p for p in (postcodes[0] if postcodes else None, city) if p)
    return f"{town}, Deutschland" if town else None


class GeocodingClient:
    def __init__(
        self, key: SecretStr | None, *, base_url: str, timeout_seconds: float = 5.0
    ) -> None:
        self._key = key
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout_seconds

    @property
    def enabled(self) -> bool:
        return self._key is not None and bool(self._key.get_secret_value())

    async def locate(self, address: str) -> Point | None:
        """The address's point; None when Google knows no such place."""
        assert self._key is not None
        try:
            # A connection per call: geocoding is rare (a job per changed address).
            async with httpx.AsyncClient(base_url=self._base_url, timeout=self._timeout) as http:
                response = await http.get(
                    "/maps/api/geocode/json",
                    params={
                        "address": address[:300],
                        "region": "de",
                        "language": "de",
                        "key": self._key.get_secret_value(),
                    },
                )
        except httpx.HTTPError as exc:
            # The URL carries the key: log the kind of failure only.
            log.warning("geocoding.unreachable", error=type(exc).__name__)
            raise GeocodingUnavailable(type(exc).__name__) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise GeocodingUnavailable(f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise GeocodingUnavailable("malformed answer") from exc
        status = data.get("status") if isinstance(data, dict) else None
        if status == "ZERO_RESULTS":
            return None
        if status in ("OVER_QUERY_LIMIT", "UNKNOWN_ERROR") or status is None:
            raise GeocodingUnavailable(str(status))
        if status != "OK":
            # REQUEST_DENIED, INVALID_REQUEST, OVER_DAILY_LIMIT: retrying will not help.
            log.error("geocoding.refused", status=status)
            raise PermanentJobError(f"geocoding refused: {status}")
        try:
            location = data["results"][0]["geometry"]["location"]
            return Point(float(location["lat"]), float(location["lng"]))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise GeocodingUnavailable("malformed answer") from exc


class Locations:
    """The geocoding jobs: a listing's address and a lead's wished place become points."""

    def __init__(self, db: Database, client: GeocodingClient) -> None:
        self._db = db
        self.client = client

    @property
    def enabled(self) -> bool:
        return self.client.enabled

    async def listing_later(self, session: AsyncSession, listing_id: uuid.UUID) -> None:
        if self.enabled:
            job = LocateListing(listing_id=listing_id)
            await enqueue_job(session, jobs, LOCATE_LISTING, job, key=str(listing_id))

    async def lead_later(self, session: AsyncSession, lead_id: uuid.UUID) -> None:
        if self.enabled:
            await enqueue_job(
                session, jobs, LOCATE_LEAD, LocateLead(lead_id=lead_id), key=str(lead_id)
            )

    async def point_of(self, place: str) -> Point | None:
        """A point for a request (the price estimate): None when not configured or failing."""
        if not self.enabled:
            return None
        try:
            return await self.client.locate(place)
        except (GeocodingUnavailable, PermanentJobError):
            return None

    async def listing_job(self, payload: LocateListing, ctx: JobContext) -> None:
        async with self._db.sessions() as session:
            row = (
                (await session.execute(select(listings).where(listings.c.id == payload.listing_id)))
                .mappings()
                .first()
            )
        if row is None:
            return
        address = listing_address(row)
        if address is None or (address == row["geocoded_address"] and row["latitude"] is not None):
            return
        point = await self.client.locate(address)
        async with self._db.transaction() as session:
            await session.execute(
                update(listings)
                .where(
                    listings.c.id == payload.listing_id,
                    # Not when the agent typed coordinates or changed the address meanwhile.
                    listings.c.geo_source.is_distinct_from("manual"),
                    listings.c.street.is_not_distinct_from(row["street"]),
                    listings.c.postcode.is_not_distinct_from(row["postcode"]),
                    listings.c.city.is_not_distinct_from(row["city"]),
                )
                .values(
                    latitude=point.latitude if point else None,
                    longitude=point.longitude if point else None,
                    geocoded_address=address,
                    geo_source="geocoded" if point else "not_found",
                )
            )
            await ctx.finish(session)
        log.info("geocoding.listing", listing_id=str(payload.listing_id), found=point is not None)

    async def lead_job(self, payload: LocateLead, ctx: JobContext) -> None:
        async with self._db.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(lead_profiles).where(lead_profiles.c.lead_id == payload.lead_id)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return  # erased meanwhile
        place = wished_place(list(row["postcodes"]), row["city"])
        if place is None or (place == row["geocoded_place"] and row["latitude"] is not None):
            return
        point = await self.client.locate(place)
        async with self._db.transaction() as session:
            await session.execute(
                update(lead_profiles)
                .where(
                    lead_profiles.c.lead_id == payload.lead_id,
                    # Not when a newer event moved the wish meanwhile (its own job follows).
                    lead_profiles.c.postcodes == row["postcodes"],
                    lead_profiles.c.city.is_not_distinct_from(row["city"]),
                )
                .values(
                    latitude=point.latitude if point else None,
                    longitude=point.longitude if point else None,
                    geocoded_place=place,
                )
            )
            await ctx.finish(session)
