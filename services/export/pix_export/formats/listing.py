"""Texts an agent would publish, built from the order's facts: the listing's title and the
feature list in German (or English), shared by the CRM formats.

Captions carry features as short lowercase English tags. The offline captioner's vocabulary
(pix_captioning.offline `_features`) is the room's English label plus photo traits (interior,
outdoor, tones, orientation, resolution); model providers add free tags ("hardwood floor").
Room tags and the property traits models name are features of the property and get their German
name here; photo traits (orientation, colour tones, resolution) describe the picture, not the
property, and stay out of a listing. A tag nobody mapped yet is shown in a readable form.
"""

from __future__ import annotations

import re

from pix_contracts.rooms import ROOM_LABELS

from pix_export.formats.base import PropertyFacts, Snapshot

# (German, English) nouns of the order form's property types.
TYPE_NOUNS = {
    "apartment": ("Wohnung", "apartment"),
    "house": ("Haus", "house"),
    "commercial": ("Gewerbefläche", "commercial space"),
    "land": ("Grundstück", "plot"),
}
# Types counted in rooms ("3-Zimmer-Wohnung"); commercial space and land are not.
ROOMED_TYPES = frozenset({"apartment", "house"})

# Tags that describe the photograph, not the property.
PHOTO_TAGS = frozenset(
    {
        "interior",
        "outdoor",
        # Room types that are views of the property, not something it has.
        "exterior",
        "floor plan",
        "layout overview",
        "low light",
        "warm tones",
        "cool tones",
        "green tones",
        "neutral tones",
        "vibrant colours",
        "muted colours",
        "landscape",
        "portrait",
        "square",
        "high resolution",
        "low resolution",
    }
)

# Room labels as the offline captioner writes them ("living room"), with their German names.
_ROOM_FEATURES = {en[:1].lower() + en[1:]: (de, en) for de, en in ROOM_LABELS.values()}

# What captioning models commonly tag (lowercase English) and the German a listing uses.
_PROPERTY_FEATURES: dict[str, tuple[str, str]] = {
    "bright": ("Helle Räume", "Bright rooms"),
    "natural light": ("Viel Tageslicht", "Plenty of daylight"),
    "hardwood floor": ("Parkett", "Hardwood floor"),
    "hardwood floors": ("Parkett", "Hardwood floor"),
    "parquet": ("Parkett", "Parquet"),
    "parquet floor": ("Parkett", "Parquet"),
    "wooden floor": ("Holzboden", "Wooden floor"),
    "laminate": ("Laminat", "Laminate"),
    "tiled floor": ("Fliesenboden", "Tiled floor"),
    "tiles": ("Fliesen", "Tiles"),
    "carpet": ("Teppichboden", "Carpet"),
    "fitted kitchen": ("Einbauküche", "Fitted kitchen"),
    "built-in kitchen": ("Einbauküche", "Fitted kitchen"),
    "kitchen island": ("Kochinsel", "Kitchen island"),
    "open kitchen": ("Offene Küche", "Open kitchen"),
    "dishwasher": ("Geschirrspüler", "Dishwasher"),
    "open plan": ("Offener Grundriss", "Open plan"),
    "fireplace": ("Kamin", "Fireplace"),
    "elevator": ("Aufzug", "Lift"),
    "lift": ("Aufzug", "Lift"),
    "underfloor heating": ("Fußbodenheizung", "Underfloor heating"),
    "floor heating": ("Fußbodenheizung", "Underfloor heating"),
    "high ceilings": ("Hohe Decken", "High ceilings"),
    "stucco": ("Stuck", "Stucco"),
    "large windows": ("Große Fenster", "Large windows"),
    "floor-to-ceiling windows": ("Bodentiefe Fenster", "Floor-to-ceiling windows"),
    "skylight": ("Dachfenster", "Skylight"),
    "bathtub": ("Badewanne", "Bathtub"),
    "shower": ("Dusche", "Shower"),
    "walk-in shower": ("Ebenerdige Dusche", "Walk-in shower"),
    "double sink": ("Doppelwaschbecken", "Double sink"),
    "built-in wardrobe": ("Einbauschrank", "Built-in wardrobe"),
    "walk-in closet": ("Ankleide", "Walk-in closet"),
    "parking": ("Stellplatz", "Parking space"),
    "parking space": ("Stellplatz", "Parking space"),
    "carport": ("Carport", "Carport"),
    "lawn": ("Rasenfläche", "Lawn"),
    "patio": ("Terrasse", "Patio"),
    "sea view": ("Meerblick", "Sea view"),
    "lake view": ("Seeblick", "Lake view"),
    "city view": ("Stadtblick", "City view"),
    "garden view": ("Gartenblick", "Garden view"),
    "renovated": ("Renoviert", "Renovated"),
    "modern": ("Modern", "Modern"),
    "new build": ("Neubau", "New build"),
    "period building": ("Altbau", "Period building"),
    "barrier-free": ("Barrierefrei", "Step-free"),
    "air conditioning": ("Klimaanlage", "Air conditioning"),
    "sauna": ("Sauna", "Sauna"),
}

FEATURE_NAMES: dict[str, tuple[str, str]] = {**_ROOM_FEATURES, **_PROPERTY_FEATURES}

_ADDRESS = re.compile(
    r"^\s*(?P<strasse>.+?)\s+(?P<hausnummer>\d+\s*[a-zA-Z]?(?:\s*-\s*\d+\s*[a-zA-Z]?)?)\s*,"
    r"\s*(?P<plz>\d{5})\s+(?P<ort>[^,]+?)\s*(?:,.*)?$"
)


def parse_address(address: str | None) -> dict[str, str] | None:
    """strasse, hausnummer, plz, ort from "Lindenallee 5a, 10115 Berlin", or None."""
    match = _ADDRESS.match(address or "")
    return match.groupdict() if match else None


def feature_name(tag: str, *, english: bool) -> str | None:
    """The tag's name in a listing, None for a tag about the photo itself."""
    key = " ".join(tag.strip().lower().replace("_", " ").split())
    if not key or key in PHOTO_TAGS:
        return None
    if key in FEATURE_NAMES:
        de, en = FEATURE_NAMES[key]
        return en if english else de
    return key[:1].upper() + key[1:]


def feature_names(snapshot: Snapshot) -> list[str]:
    """The gallery's features in the listing's language, each once, in order of appearance."""
    english = snapshot.locale == "en"
    names: list[str] = []
    for photo in snapshot.photos:
        for tag in photo.caption.get("features") or []:
            name = feature_name(str(tag), english=english)
            if name and name not in names:
                names.append(name)
    return names


def number(value: float, *, english: bool) -> str:
    """94.5 → "94,5" (German) or "94.5"; thousands grouped (1.250 / 1,250); no trailing zeros."""
    text = f"{round(value, 2):,.2f}".rstrip("0").rstrip(".")
    if english:
        return text
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def city_of(snapshot: Snapshot) -> str | None:
    if snapshot.property_facts.city:
        return snapshot.property_facts.city
    parsed = parse_address(snapshot.property_address)
    return parsed["ort"] if parsed else None


def listing_title(snapshot: Snapshot) -> str | None:
    """ "3-Zimmer-Wohnung in Berlin, 94,5 m²" ("3-room apartment in Berlin, 94.5 m²"), from
    the order's facts; None when the order said nothing about the property."""
    facts: PropertyFacts = snapshot.property_facts
    english = snapshot.locale == "en"
    city = city_of(snapshot)
    if facts.property_type not in TYPE_NOUNS:
        if city is None:
            return None
        return f"Property in {city}" if english else f"Immobilie in {city}"
    de, en = TYPE_NOUNS[facts.property_type]
    noun = en if english else de
    if facts.rooms and facts.property_type in ROOMED_TYPES:
        rooms = number(facts.rooms, english=english)
        noun = f"{rooms}-room {noun}" if english else f"{rooms}-Zimmer-{noun}"
    elif english:
        noun = noun[:1].upper() + noun[1:]
    title = f"{noun} in {city}" if city else noun
    if facts.living_area_m2 and facts.property_type != "land":
        title += f", {number(facts.living_area_m2, english=english)} m²"
    return title
