"""Listings from a CSV or Excel sheet dropped into the chat (the agent's old portfolio, another
CRM's export): read with German or English column names, previewed, and after the user's yes
created as drafts through the listings API as that user (publishing stays their decision)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel

from pix_assistant.platform import Caller, PlatformApis, ServiceError

IMPORT_LISTINGS = "import_listings"

ListingField = Literal[
    "title",
    "reference",
    "street",
    "postcode",
    "city",
    "price",
    "rent",
    "marketing",
    "property_type",
    "rooms",
    "living_area",
    "plot_area",
    "year_built",
    "description",
]
LISTING_COLUMNS: dict[str, ListingField] = {
    "titel": "title",
    "objekttitel": "title",
    "bezeichnung": "title",
    "title": "title",
    "objektnummer": "reference",
    "objekt-nr.": "reference",
    "objektnr": "reference",
    "referenz": "reference",
    "reference": "reference",
    "straße": "street",
    "strasse": "street",
    "adresse": "street",
    "street": "street",
    "plz": "postcode",
    "postleitzahl": "postcode",
    "postcode": "postcode",
    "ort": "city",
    "stadt": "city",
    "city": "city",
    "kaufpreis": "price",
    "preis": "price",
    "price": "price",
    "kaltmiete": "rent",
    "miete": "rent",
    "rent": "rent",
    "vermarktung": "marketing",
    "vermarktungsart": "marketing",
    "objektart": "property_type",
    "typ": "property_type",
    "immobilienart": "property_type",
    "zimmer": "rooms",
    "anzahl zimmer": "rooms",
    "rooms": "rooms",
    "wohnfläche": "living_area",
    "wohnflaeche": "living_area",
    "wohnfläche (m²)": "living_area",
    "living area": "living_area",
    "grundstücksfläche": "plot_area",
    "grundstück": "plot_area",
    "baujahr": "year_built",
    "beschreibung": "description",
    "objektbeschreibung": "description",
    "description": "description",
}
PROPERTY_TYPES = {
    "wohnung": "apartment",
    "etagenwohnung": "apartment",
    "apartment": "apartment",
    "haus": "house",
    "einfamilienhaus": "house",
    "house": "house",
    "gewerbe": "commercial",
    "büro": "commercial",
    "commercial": "commercial",
    "grundstück": "land",
    "land": "land",
}


class ListingRow(BaseModel):
    line: int
    title: str
    reference: str | None = None
    marketing: Literal["sale", "rent"] = "sale"
    property_type: Literal["apartment", "house", "commercial", "land"] | None = None
    price_eur: int | None = None
    rooms: float | None = None
    living_area_m2: float | None = None
    plot_area_m2: float | None = None
    year_built: int | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    description_de: str = ""


def number(value: str) -> float | None:
    """German or English notation: "450.000 €", "84,5 m²", "3.5", "1,234.50"."""
    text = re.sub(r"[^\d,.]", "", value)
    if not text or not any(c.isdigit() for c in text):
        return None
    if "," in text and "." in text:
        # The later separator is the decimal one.
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        text = text.replace(thousands, "").replace(decimal, ".")
    elif "," in text:
        text = (
            text.replace(",", ".") if re.fullmatch(r"\d+,\d{1,2}", text) else text.replace(",", "")
        )
    elif re.fullmatch(r"\d{1,3}(\.\d{3})+", text):
        text = text.replace(".", "")
    try:
        return float(text)
    except ValueError:
        return None


def _bounded(value: float | None, low: float, high: float) -> float | None:
    return value if value is not None and low < value <= high else None


def listing_row(line: int, values: dict[ListingField, str]) -> ListingRow | str:
    """One sheet row as a listing, or why it is skipped."""
    street, city = values.get("street", ""), values.get("city", "")
    title = values.get("title") or ", ".join(part for part in (street, city) if part)
    if not title:
        return f"Zeile {line}: kein Titel und keine Adresse"
    marketing_word = values.get("marketing", "").lower()
    rent = number(values.get("rent", ""))
    marketing: Literal["sale", "rent"] = (
        "rent" if marketing_word.startswith(("miet", "rent")) or rent is not None else "sale"
    )
    price = rent if marketing == "rent" and rent is not None else number(values.get("price", ""))
    kind = PROPERTY_TYPES.get(values.get("property_type", "").strip().lower())
    year = number(values.get("year_built", ""))
    postcode = re.sub(r"\D", "", values.get("postcode", ""))
    return ListingRow(
        line=line,
        title=title[:200],
        reference=(values.get("reference") or None),
        marketing=marketing,
        property_type=kind,
        price_eur=int(price) if price is not None and 0 <= price <= 1_000_000_000 else None,
        rooms=_bounded(number(values.get("rooms", "")), 0, 100),
        living_area_m2=_bounded(number(values.get("living_area", "")), 0, 100_000),
        plot_area_m2=_bounded(number(values.get("plot_area", "")), 0, 10_000_000),
        year_built=int(year) if year is not None and 1000 <= year <= 2100 else None,
        street=street[:200] or None,
        postcode=postcode[:5] if len(postcode) in (4, 5) else None,
        city=city[:100] or None,
        description_de=values.get("description", "")[:20_000],
    )


async def execute_listing_import(
    apis: PlatformApis, caller: Caller, arguments: dict[str, Any]
) -> Any:
    """Create each row as a draft listing through the listings API."""
    created: list[str] = []
    failed: list[dict[str, Any]] = []
    for raw in arguments["listings"]:
        row = ListingRow.model_validate(raw)
        body = row.model_dump(exclude={"line"}, exclude_none=True)
        if not body.get("description_de"):
            body.pop("description_de", None)
        try:
            listing = await apis.call(caller, "listings", "POST", "/listings", json=body)
            created.append(listing["id"])
        except ServiceError as exc:
            failed.append({"line": row.line, "error": exc.message})
    return {"created": len(created), "listing_ids": created, "failed": failed}
