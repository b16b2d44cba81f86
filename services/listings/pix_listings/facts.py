"""A listing's facts as other services see them, the publishing checks, and the signed
public links to its exposé."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass

from pix_contracts.listings import ListingFacts
from sqlalchemy import RowMapping

from pix_listings.records import Listing

# "Lindenallee 5a, 10115 Berlin": the one-line address orders announce.
ONE_LINE_ADDRESS = re.compile(r"^(?P<street>.+?),\s*(?P<postcode>\d{4,5})\s+(?P<city>.+)$")
# Certificates: GEG §87 requires them in listings of buildings; land has none.
NEEDS_CERTIFICATE = {"apartment", "house", "commercial"}
TYPE_LABELS = {
    "apartment": ("Wohnung", "Apartment"),
    "house": ("Haus", "House"),
    "commercial": ("Gewerbeobjekt", "Commercial property"),
    "land": ("Grundstück", "Plot"),
}


@dataclass(frozen=True)
class ExposeLinks:
    """Signed, stable public links to a listing's current exposé (no session needed)."""

    key: bytes
    public_url: str

    def signature(self, listing_id: uuid.UUID, locale: str) -> str:
        message = f"{listing_id}:{locale}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:32]

    def url(self, listing_id: uuid.UUID, locale: str) -> str:
        sig = self.signature(listing_id, locale)
        base = self.public_url.rstrip("/")
        return f"{base}/api/listings/public/exposes/{listing_id}/{locale}?sig={sig}"

    def valid(self, listing_id: uuid.UUID, locale: str, sig: str) -> bool:
        return hmac.compare_digest(self.signature(listing_id, locale), sig)


def split_address(line: str) -> tuple[str | None, str | None, str | None]:
    match = ONE_LINE_ADDRESS.match(line.strip())
    if match is None:
        return (line.strip() or None, None, None)
    return (match["street"].strip(), match["postcode"], match["city"].strip())


def facts_of(row: RowMapping | Listing, expose_url: str | None) -> ListingFacts:
    get = row.__getitem__ if isinstance(row, RowMapping) else row.__getattribute__
    return ListingFacts(
        reference=get("reference"),
        title=get("title"),
        property_type=get("property_type"),
        marketing=get("marketing"),
        price_eur=get("price_eur"),
        rooms=get("rooms"),
        living_area_m2=get("living_area_m2"),
        street=get("street"),
        postcode=get("postcode"),
        city=get("city"),
        country=get("country"),
        latitude=get("latitude"),
        longitude=get("longitude"),
        portal_ids=list(get("portal_ids") or []),
        expose_url=expose_url,
    )


def publish_problems(row: RowMapping) -> dict[str, str]:
    """What a listing lacks before it may be published (field -> error code)."""
    problems: dict[str, str] = {}
    for field in ("title", "property_type", "price_eur", "postcode", "city"):
        if row[field] in (None, ""):
            problems[field] = "required"
    if row["property_type"] in NEEDS_CERTIFICATE and row["country"] == "DE":
        for field in ("energy_certificate_type", "energy_value_kwh", "energy_class"):
            if row[field] is None:
                problems[field] = "required_energy_certificate"
    return problems
