"""Texts an agent would publish, built from the order's facts: the listing's title and the
feature list in German (or English), shared by the CRM formats.

Captions carry features as short lowercase English tags. The offline captioner's vocabulary
(pix_captioning.offline `_features`) is the room's English label plus photo traits (interior,
outdoor, tones, orientation, resolution); model providers add free tags ("hardwood floor").
Room tags and the property traits models name are features of the property and get their German
name here; photo traits (orientation, colour tones, resolution) describe the picture, not the
property, and stay out of a listing. A tag nobody mapped yet is shown in a readable form.
The words (feature names, type nouns, title patterns) are in export's gettext catalogue
(pix_export/locale/<lang>/LC_MESSAGES/messages.po, read by pix_runtime.i18n).
"""

from __future__ import annotations

import re

from pix_contracts.rooms import ROOM_LABELS

from pix_export.formats.base import PropertyFacts, Snapshot
from pix_export.i18n import CATALOGUE

# The order form's property types; their nouns are in the catalogue (type.<kind>).
PROPERTY_TYPES = ("apartment", "house", "commercial", "land")
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
# The property features models tag ("hardwood floor") are in the catalogue as feature.<tag>.
_ROOM_FEATURES = {en[:1].lower() + en[1:]: (de, en) for de, en in ROOM_LABELS.values()}

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
    named = CATALOGUE.lookup("en" if english else "de", f"feature.{key}")
    if named is not None:
        return named
    if key in _ROOM_FEATURES:
        de, en = _ROOM_FEATURES[key]
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
    locale = "en" if english else "de"
    city = city_of(snapshot)
    if facts.property_type not in PROPERTY_TYPES:
        if city is None:
            return None
        return CATALOGUE.gettext(locale, "title.property_in_city", city=city)
    noun = CATALOGUE.gettext(locale, f"type.{facts.property_type}")
    if facts.rooms and facts.property_type in ROOMED_TYPES:
        rooms = number(facts.rooms, english=english)
        noun = CATALOGUE.gettext(locale, "title.rooms", rooms=rooms, noun=noun)
    else:
        noun = noun[:1].upper() + noun[1:]
    title = CATALOGUE.gettext(locale, "title.in_city", noun=noun, city=city) if city else noun
    if facts.living_area_m2 and facts.property_type != "land":
        title += f", {number(facts.living_area_m2, english=english)} m²"
    return title
