"""Why a listing fits a lead, in words an agent reads at a glance (German or English).

"3 Zimmer wie gewünscht · 4 % über Budget · Balkon erwähnt"
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

# Features people ask for, with the words that name them (German and English, lower case,
# matched as word beginnings so "Balkons" and "balconies" count).
FEATURES: dict[str, tuple[tuple[str, str], tuple[str, ...]]] = {
    "balcony": (("Balkon", "balcony"), ("balkon", "balcon", "loggia")),
    "terrace": (("Terrasse", "terrace"), ("terrass", "dachterrass")),
    "garden": (("Garten", "garden"), ("garten", "garden")),
    "lift": (("Aufzug", "lift"), ("aufzug", "fahrstuhl", "lift", "elevator")),
    "kitchen": (("Einbauküche", "fitted kitchen"), ("einbauküche", "ebk", "fitted kitchen")),
    "garage": (
        ("Garage/Stellplatz", "garage/parking"),
        ("garage", "stellplatz", "tiefgarage", "parking"),
    ),
    "cellar": (("Keller", "cellar"), ("keller", "cellar", "basement")),
    "fireplace": (("Kamin", "fireplace"), ("kamin", "fireplace", "kaminofen")),
    "old_building": (("Altbau", "period building"), ("altbau", "stuck", "period")),
    "new_building": (("Neubau", "new build"), ("neubau", "new build", "erstbezug")),
    "accessible": (("barrierefrei", "step-free"), ("barrierefrei", "accessible", "step-free")),
    "pets": (("Haustiere erlaubt", "pets allowed"), ("haustier", "hund", "katze", "pets", "dog")),
    "quiet": (("ruhige Lage", "quiet location"), ("ruhig", "quiet")),
    "bright": (("hell", "bright"), ("hell", "licht", "bright", "sunny", "sonnig")),
    "bathtub": (("Badewanne", "bathtub"), ("badewanne", "wanne", "bathtub")),
    "floor_heating": (("Fußbodenheizung", "underfloor heating"), ("fußbodenheizung", "underfloor")),
    "furnished": (("möbliert", "furnished"), ("möbliert", "furnished")),
    "pool": (("Pool", "pool"), ("pool", "schwimmbad")),
    "view": (("Aussicht", "view"), ("aussicht", "blick", "view")),
    "family": (
        ("familienfreundlich", "family-friendly"),
        ("familie", "kinder", "kita", "schule", "family", "children"),
    ),
}
SIMILAR_ENOUGH = 0.35
# Each wished feature the listing mentions adds this much to the match score, up to the cap.
FEATURE_BONUS = 0.05
FEATURE_BONUS_CAP = 0.2


def _words(text: str) -> list[str]:
    cleaned = "".join(c if c.isalnum() else " " for c in text.lower())
    return cleaned.split()


@functools.lru_cache(maxsize=4096)
def mentioned(text: str) -> frozenset[str]:
    """The wishable features a text names (cached: a listing's text meets many leads)."""
    words = _words(text)
    joined = " ".join(words)
    found = set()
    for key, (_, stems) in FEATURES.items():
        for stem in stems:
            if (" " in stem and stem in joined) or any(w.startswith(stem) for w in words):
                found.add(key)
                break
    return frozenset(found)


@dataclass(frozen=True)
class Wish:
    property_type: str | None
    marketing: str | None
    budget_max_eur: int | None
    rooms_min: float | None
    area_min_m2: float | None
    postcodes: tuple[str, ...]
    city: str | None
    wishes: str

    @classmethod
    def of(cls, row: Any) -> Wish:
        return cls(
            property_type=row["property_type"],
            marketing=row["marketing"],
            budget_max_eur=row["budget_max_eur"],
            rooms_min=row["rooms_min"],
            area_min_m2=row["area_min_m2"],
            postcodes=tuple(row["postcodes"] or ()),
            city=row["city"],
            wishes=row["wishes"] or "",
        )


@dataclass(frozen=True)
class Facts:
    property_type: str | None
    price_eur: int | None
    rooms: float | None
    living_area_m2: float | None
    postcode: str | None
    city: str | None
    text: str

    @classmethod
    def of(cls, row: Any) -> Facts:
        return cls(
            property_type=row["property_type"],
            price_eur=row["price_eur"],
            rooms=row["rooms"],
            living_area_m2=row["living_area_m2"],
            postcode=row["postcode"],
            city=row["city"],
            text=" ".join(
                [
                    row["title"] or "",
                    row["description_de"] or "",
                    row["description_en"] or "",
                    *(row["features"] or []),
                ]
            ),
        )


def _num(value: float, locale: str) -> str:
    text = f"{value:g}"
    return text.replace(".", ",") if locale == "de" else text


def _eur(value: int, locale: str) -> str:
    grouped = f"{value:,}"
    return (grouped.replace(",", ".") + " €") if locale == "de" else "€" + grouped


TYPE_WORDS = {
    "apartment": ("Wohnung", "apartment"),
    "house": ("Haus", "house"),
    "commercial": ("Gewerbe", "commercial"),
    "land": ("Grundstück", "plot"),
}


def reasons_for(
    wish: Wish,
    facts: Facts,
    similarity: float | None,
    tolerance: float,
    locale: str,
    *,
    distance_km: float | None = None,
) -> list[str]:
    de = locale != "en"
    found: list[str] = []
    if wish.rooms_min and facts.rooms is not None:
        rooms = _num(facts.rooms, locale)
        if facts.rooms >= wish.rooms_min:
            found.append(f"{rooms} Zimmer wie gewünscht" if de else f"{rooms} rooms as wished")
        else:
            found.append(
                f"{rooms} statt {_num(wish.rooms_min, locale)} Zimmer"
                if de
                else f"{rooms} instead of {_num(wish.rooms_min, locale)} rooms"
            )
    if wish.budget_max_eur and facts.price_eur is not None:
        share = (facts.price_eur - wish.budget_max_eur) / wish.budget_max_eur * 100
        if share > 0.5:
            pct = round(share)
            found.append(f"{pct} % über Budget" if de else f"{pct} % over budget")
        elif share < -0.5:
            pct = round(-share)
            found.append(f"{pct} % unter Budget" if de else f"{pct} % under budget")
        else:
            found.append("genau im Budget" if de else "exactly on budget")
    if wish.area_min_m2 and facts.living_area_m2 is not None:
        area = _num(round(facts.living_area_m2), locale)
        if facts.living_area_m2 >= wish.area_min_m2:
            found.append(f"{area} m² Wohnfläche" if de else f"{area} m² living space")
        else:
            found.append(
                f"nur {area} m² (gewünscht {_num(wish.area_min_m2, locale)})"
                if de
                else f"only {area} m² (wished {_num(wish.area_min_m2, locale)})"
            )
    if distance_km is not None:
        km = _num(round(float(distance_km), 1), locale)
        found.append(f"{km} km entfernt" if de else f"{km} km away")
    if facts.postcode and facts.postcode in wish.postcodes:
        found.append(f"in PLZ {facts.postcode}" if de else f"in postcode {facts.postcode}")
    elif wish.city and facts.city and wish.city.lower() == facts.city.lower():
        found.append(f"in {facts.city}")
    elif (
        distance_km is None
        and facts.postcode
        and any(p[:3] == facts.postcode[:3] for p in wish.postcodes)
    ):
        # Without coordinates on both sides "nearby" is only the same postcode area: say so.
        found.append(
            f"nahe der Wunsch-PLZ ({facts.postcode}; nach PLZ-Bereich, Entfernung unbekannt)"
            if de
            else f"near the wished postcodes ({facts.postcode}; by postcode area, distance unknown)"
        )
    if wish.property_type and wish.property_type == facts.property_type:
        word = TYPE_WORDS.get(wish.property_type, (wish.property_type, wish.property_type))
        found.append(f"{word[0]} wie gesucht" if de else f"{word[1]} as wanted")
    wanted = mentioned(wish.wishes)
    offered = mentioned(facts.text)
    for key in sorted(wanted & offered):
        label = FEATURES[key][0][0 if de else 1]
        found.append(f"{label} erwähnt" if de else f"{label} mentioned")
    if similarity is not None and similarity >= SIMILAR_ENOUGH:
        pct = round(similarity * 100)
        found.append(
            f"Beschreibung passt zu den Wünschen ({pct} %)"
            if de
            else f"description fits the wishes ({pct} %)"
        )
    return found


def feature_bonus(wish: Wish, facts: Facts) -> float:
    shared = mentioned(wish.wishes) & mentioned(facts.text)
    return min(FEATURE_BONUS * len(shared), FEATURE_BONUS_CAP)
