"""Enrichment (the brief's LeadEnrichmentService): phone numbers in E.164, who is a duplicate of
whom, and how complete a lead is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

import phonenumbers

# Numbers without a country code are read as German, then Austrian, then Swiss: the first
# region in which the number is valid wins (a Viennese 01 number is not valid in Germany).
REGIONS = ("DE", "AT", "CH")
DUPLICATE_WINDOW_DAYS = 90
NAME_SIMILARITY = 0.85


def normalise_phone(raw: str | None, *, prefer: str | None = None) -> str | None:
    """E.164 (`+493012345678`), or None when it is not a valid number anywhere we look."""
    if not raw:
        return None
    text = re.sub(r"\(0\)", "", raw).strip()
    if not re.search(r"\d{3}", text):
        return None
    regions = (prefer, *REGIONS) if prefer else REGIONS
    for region in regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def normalise_email(raw: str | None) -> str | None:
    if not raw or "@" not in raw:
        return None
    local, _, domain = raw.strip().rpartition("@")
    return f"{local}@{domain.lower()}".lower() if local else None


def name_key(name: str) -> str:
    """Lower case, accents folded, titles and punctuation dropped: for comparing names."""
    folded = unicodedata.normalize("NFKD", name.lower().replace("ß", "ss"))
    letters = "".join(c for c in folded if not unicodedata.combining(c))
    words = [w for w in re.findall(r"[a-z]+", letters) if w not in ("frau", "herr", "dr", "prof")]
    return " ".join(sorted(words))


def similar_names(a: str, b: str) -> bool:
    left, right = name_key(a), name_key(b)
    if not left or not right:
        return False
    return left == right or SequenceMatcher(None, left, right).ratio() >= NAME_SIMILARITY


@dataclass(frozen=True)
class CompletenessInput:
    name: str
    email: str | None
    phone: str | None
    message: str
    listing_known: bool
    financing: str
    time_frame: str
    budget_known: bool
    household: str | None


# What makes a lead workable, weighted by how much an agent needs it (sums to 100).
COMPLETENESS_WEIGHTS = {
    "name": 15,
    "email": 20,
    "phone": 20,
    "message": 10,
    "listing": 10,
    "financing": 10,
    "time_frame": 5,
    "budget": 5,
    "household": 5,
}


def completeness(lead: CompletenessInput) -> int:
    """0–100 %: the weights of the fields that are known."""
    known = {
        "name": bool(lead.name.strip()),
        "email": bool(lead.email),
        "phone": bool(lead.phone),
        "message": len(lead.message.strip()) >= 20,
        "listing": lead.listing_known,
        "financing": lead.financing != "unknown",
        "time_frame": lead.time_frame != "unknown",
        "budget": lead.budget_known,
        "household": bool(lead.household),
    }
    return sum(weight for key, weight in COMPLETENESS_WEIGHTS.items() if known[key])
