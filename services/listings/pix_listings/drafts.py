"""Description drafts in German and English, in the tone of an exposé.

`OfflineDrafts` (default) composes them from the facts, the features and the photos' captions;
`OpenAIDrafts` asks any OpenAI-compatible chat model with the same material. Either result is
stored as a draft beside the description: the agent edits and takes it over; nothing is
published unseen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from openai import AsyncOpenAI

from pix_listings.records import Draft, Listing
from pix_listings.settings import ListingsSettings

OFFLINE_MODEL = "offline-template-v1"
TYPE_WORDS = {
    "apartment": ("Wohnung", "apartment"),
    "house": ("Haus", "house"),
    "commercial": ("Gewerbeobjekt", "commercial property"),
    "land": ("Grundstück", "plot"),
}


class DraftError(Exception):
    pass


class DraftWriter(Protocol):
    async def write(self, listing: Listing) -> Draft: ...


def _num(value: float, de: bool) -> str:
    text = f"{value:g}"
    return text.replace(".", ",") if de else text


def _eur(value: int, de: bool) -> str:
    return f"{value:,}".replace(",", ".") + " €" if de else f"€{value:,}"


def _sentences(texts: list[str], limit: int) -> str:
    picked = []
    for text in texts:
        first = text.strip().split(". ")[0].strip().rstrip(".")
        if first and first not in picked:
            picked.append(first)
        if len(picked) == limit:
            break
    return ". ".join(picked) + ("." if picked else "")


@dataclass(frozen=True)
class OfflineDrafts:
    """A template, honest about what it is: no model, just the facts put into sentences."""

    async def write(self, listing: Listing) -> Draft:
        return Draft(
            description_de=self._german(listing),
            description_en=self._english(listing),
            model=OFFLINE_MODEL,
        )

    def _german(self, x: Listing) -> str:
        kind = TYPE_WORDS.get(x.property_type or "", ("Immobilie", "property"))[0]
        deal = "zur Miete" if x.marketing == "rent" else "zum Kauf"
        place = f" in {x.city}" if x.city else ""
        lead = f"Diese {kind}{place} steht {deal} bereit"
        if kind in ("Haus", "Grundstück", "Gewerbeobjekt"):
            lead = f"Dieses {kind}{place} steht {deal} bereit"
        sizes = []
        if x.rooms:
            sizes.append(f"{_num(x.rooms, True)} Zimmer")
        if x.living_area_m2:
            sizes.append(f"rund {_num(round(x.living_area_m2), True)} m² Wohnfläche")
        if x.plot_area_m2:
            sizes.append(f"ein Grundstück von {_num(round(x.plot_area_m2), True)} m²")
        parts = [lead + (": " + ", ".join(sizes) if sizes else "") + "."]
        if x.year_built:
            parts.append(f"Das Gebäude wurde {x.year_built} errichtet.")
        rooms = _sentences([m.caption_de for m in x.media if m.room_type != "floor_plan"], 4)
        if rooms:
            parts.append(rooms)
        if x.features:
            parts.append("Zur Ausstattung gehören " + ", ".join(x.features) + ".")
        if x.marketing == "rent" and x.price_eur:
            extra = (
                f" zuzüglich {_eur(x.service_charge_eur, True)} Nebenkosten"
                if x.service_charge_eur
                else ""
            )
            parts.append(f"Die Kaltmiete beträgt {_eur(x.price_eur, True)}{extra}.")
        elif x.price_eur:
            parts.append(f"Der Kaufpreis beträgt {_eur(x.price_eur, True)}.")
        if x.available_from:
            parts.append(f"Verfügbar ab {x.available_from}.")
        parts.append("Vereinbaren Sie gern einen Besichtigungstermin.")
        return " ".join(parts)

    def _english(self, x: Listing) -> str:
        kind = TYPE_WORDS.get(x.property_type or "", ("Immobilie", "property"))[1]
        deal = "for rent" if x.marketing == "rent" else "for sale"
        place = f" in {x.city}" if x.city else ""
        sizes = []
        if x.rooms:
            sizes.append(f"{_num(x.rooms, False)} rooms")
        if x.living_area_m2:
            sizes.append(f"about {round(x.living_area_m2)} m² of living space")
        if x.plot_area_m2:
            sizes.append(f"a {round(x.plot_area_m2)} m² plot")
        parts = [f"This {kind}{place} is {deal}" + (": " + ", ".join(sizes) if sizes else "") + "."]
        if x.year_built:
            parts.append(f"The building dates from {x.year_built}.")
        rooms = _sentences([m.caption_en for m in x.media if m.room_type != "floor_plan"], 4)
        if rooms:
            parts.append(rooms)
        if x.features:
            parts.append("Features include " + ", ".join(x.features) + ".")
        if x.marketing == "rent" and x.price_eur:
            extra = (
                f" plus {_eur(x.service_charge_eur, False)} service charges"
                if x.service_charge_eur
                else ""
            )
            parts.append(f"The cold rent is {_eur(x.price_eur, False)}{extra}.")
        elif x.price_eur:
            parts.append(f"The asking price is {_eur(x.price_eur, False)}.")
        if x.available_from:
            parts.append(f"Available from {x.available_from}.")
        parts.append("We look forward to arranging a viewing.")
        return " ".join(parts)


PROMPT = (
    "You write property listing texts (Exposé) for a German estate agent. From the facts, "
    "features and room captions below, write an inviting but factual description, 120-220 "
    "words, in German and in English. Invent nothing that is not in the material; no contact "
    'data, no prices other than the given ones. Answer as JSON: {"description_de": "...", '
    '"description_en": "..."}.'
)


def material(listing: Listing) -> str:
    facts = {
        "type": listing.property_type,
        "marketing": listing.marketing,
        "city": listing.city,
        "rooms": listing.rooms,
        "living_area_m2": listing.living_area_m2,
        "plot_area_m2": listing.plot_area_m2,
        "year_built": listing.year_built,
        "price_eur": listing.price_eur,
        "service_charge_eur": listing.service_charge_eur,
        "features": listing.features,
        "available_from": listing.available_from,
        "rooms_captions": [
            {"room": m.room_type, "de": m.caption_de, "en": m.caption_en}
            for m in listing.media
            if m.room_type != "floor_plan"
        ][:20],
    }
    return json.dumps(facts, ensure_ascii=False)


class OpenAIDrafts:
    def __init__(self, *, base_url: str | None, api_key: str, model: str, timeout: float) -> None:
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout)
        self._model = model

    async def write(self, listing: Listing) -> Draft:
        try:
            response = await self._client.chat.completions.create(
                model=self._model,
                messages=[
                    {"role": "system", "content": PROMPT},
                    {"role": "user", "content": material(listing)},
                ],
                response_format={"type": "json_object"},
            )
            content = response.choices[0].message.content or ""
            answer = json.loads(content)
            return Draft(
                description_de=str(answer["description_de"]).strip(),
                description_en=str(answer["description_en"]).strip(),
                model=f"openai:{self._model}",
            )
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise DraftError(f"the model's answer was not a usable draft: {exc!r}") from exc
        except Exception as exc:
            raise DraftError(f"the model could not be reached: {exc!r}") from exc


def build_drafts(settings: ListingsSettings) -> DraftWriter:
    if settings.draft_provider == "openai":
        key = settings.draft_api_key
        if key is None:
            raise ValueError("PIX_LISTINGS_DRAFT_API_KEY is needed for the openai provider")
        return OpenAIDrafts(
            base_url=settings.draft_base_url,
            api_key=key.get_secret_value(),
            model=settings.draft_model,
            timeout=settings.draft_timeout_seconds,
        )
    return OfflineDrafts()
