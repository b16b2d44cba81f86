"""What a caption is: the photo it is for, the prompt that asks for it, parsing and repair, the
guard, the files.

Pure functions only (no I/O), shared by every provider and by editing.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pix_contracts import AssetUploaded, CaptionText
from pix_contracts.rooms import ROOM_LABELS, RoomType
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

CAPTION_SCHEMA = "https://pix.immo/schemas/caption/v1"
PROMPT_VERSION = "vision-json-1"
MAX_TITLE = 30
MAX_FEATURES = 12

FIELDS = (
    "room_type",
    "title_de",
    "title_en",
    "description_de",
    "description_en",
    "alt_text_de",
    "alt_text_en",
    "features",
)


class CaptionRejected(Exception):
    """The model's answer does not fit the caption schema, even after repair."""


class CaptionJob(BaseModel):
    """The photo version a caption is for: what a caption version, its files and its events need
    of it. Made from the upload event, or from the latest caption for an edit or a regeneration;
    stored with a Replicate prediction and with a failure, to finish or retry it later."""

    # Rows written before this type held the upload event itself, whose field is `version`.
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    asset_id: uuid.UUID
    asset_version: int = Field(validation_alias=AliasChoices("asset_version", "version"))
    gallery_id: uuid.UUID
    org_id: uuid.UUID
    pseudonym: str
    room_type: str | None
    web_key: str

    @classmethod
    def of(cls, event: AssetUploaded) -> CaptionJob:
        return cls(
            asset_id=event.asset_id,
            asset_version=event.version,
            gallery_id=event.gallery_id,
            org_id=event.org_id,
            pseudonym=event.pseudonym,
            room_type=event.room_type,
            web_key=event.web_key,
        )


@dataclass(frozen=True)
class Produced:
    """A caption and what made it, as a caption version records it."""

    caption: CaptionText
    model: str
    provider: str
    prompt_version: str


# --- prompt -----------------------------------------------------------------------------------


def build_prompt(room_type: str | None) -> str:
    """The instruction for a vision model; the room comes from the file-name convention."""
    room = RoomType(room_type) if room_type in set(RoomType) else None
    if room is not None:
        de, en = ROOM_LABELS[room]
        room_line = f'The photo shows the room type "{room.value}" ({en} / {de}).'
    else:
        room_line = "The room type is unknown; describe the space neutrally."
    return (
        "You write captions for a real-estate listing photo. "
        f"{room_line} "
        "Answer with ONE JSON object and nothing else, with exactly these keys: "
        '"room_type" (the room type given above, or null), '
        '"title_de" and "title_en" (at most 30 characters each), '
        '"description_de" and "description_en" (1 to 3 sentences, marketing tone), '
        '"alt_text_de" and "alt_text_en" (one plain sentence describing the image), '
        '"features" (a list of at most 8 short lowercase English tags). '
        "Describe only what the image shows: no prices, sizes, addresses, names, brands, "
        "phone numbers, emails or links. German must be natural German, not a translation."
    )


def repair_prompt(room_type: str | None, problem: str) -> str:
    return (
        f"{build_prompt(room_type)} Your previous answer was rejected ({problem}). "
        "Reply with the JSON object only, no prose, no code fences."
    )


# --- parsing ----------------------------------------------------------------------------------


def clip_title(title: str) -> str:
    """Hard limit of the portals: at most 30 characters, cut at a word boundary."""
    title = " ".join(title.split())
    if len(title) <= MAX_TITLE:
        return title
    cut = title[:MAX_TITLE]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,-–:")


def _json_object(text: str) -> dict[str, Any]:
    """The first JSON object in a model's answer, tolerating code fences and chatter."""
    text = re.sub(r"```(?:json)?", "", text).strip()
    start = text.find("{")
    if start < 0:
        raise CaptionRejected("no JSON object in the answer")
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError as exc:
        raise CaptionRejected(f"invalid JSON: {exc.msg}") from exc
    if not isinstance(value, dict):
        raise CaptionRejected("the answer is not a JSON object")
    return value


def parse_caption(text: str, room_type: str | None) -> CaptionText:
    """Validate a model's answer; repair what is safe to repair (title length, tag case)."""
    data = _json_object(text)
    missing = [f for f in FIELDS if f not in data and f != "room_type"]
    if missing:
        raise CaptionRejected(f"missing fields: {', '.join(missing)}")
    features = data.get("features")
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",")]
    if not isinstance(features, list):
        raise CaptionRejected("features is not a list")
    try:
        return CaptionText(
            # The file name decides the room type; a model cannot rename the photo.
            room_type=room_type if room_type in set(RoomType) else None,
            title_de=clip_title(str(data["title_de"])),
            title_en=clip_title(str(data["title_en"])),
            description_de=" ".join(str(data["description_de"]).split()),
            description_en=" ".join(str(data["description_en"]).split()),
            alt_text_de=" ".join(str(data["alt_text_de"]).split()),
            alt_text_en=" ".join(str(data["alt_text_en"]).split()),
            features=[str(f).strip().lower() for f in features if str(f).strip()][:MAX_FEATURES],
        )
    except ValidationError as exc:
        raise CaptionRejected(f"schema: {exc.errors()[0]['msg']}") from exc


def check_shape(caption: CaptionText) -> None:
    """Beyond the types: nothing empty, titles within the limit (also for human edits)."""
    for name in FIELDS[1:7]:
        if not str(getattr(caption, name)).strip():
            raise CaptionRejected(f"{name} is empty")
    if len(caption.title_de) > MAX_TITLE or len(caption.title_en) > MAX_TITLE:
        raise CaptionRejected("title longer than 30 characters")


# --- guard ------------------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_URL = re.compile(r"(https?://|www\.)\S+|\b[\w-]+\.(de|com|net|org|eu|io|immo|at|ch)\b", re.I)
# Six or more digits, possibly split by spaces, slashes, dashes or a leading +: a phone number.
_PHONE = re.compile(r"(\+|\b00)?\d[\d /().-]{5,}\d")
_HONORIFIC = re.compile(r"\b(Herr|Frau|Familie|Fam\.|Mr\.?|Mrs\.?|Ms\.?|Dr\.)\s+[A-ZÄÖÜ][a-zäöüß]+")
# Common first names in the German market; a name followed by a capitalised word is a person.
_FIRST_NAMES = frozenset(
    {
        "Alexander",
        "Andreas",
        "Anna",
        "Anja",
        "Barbara",
        "Bernd",
        "Birgit",
        "Christian",
        "Christina",
        "Claudia",
        "Daniel",
        "Elena",
        "Emma",
        "Felix",
        "Frank",
        "Hans",
        "Heike",
        "Jan",
        "Jana",
        "Jens",
        "Johanna",
        "Jonas",
        "Julia",
        "Jürgen",
        "Katharina",
        "Klaus",
        "Laura",
        "Lea",
        "Lena",
        "Leon",
        "Lukas",
        "Manfred",
        "Maria",
        "Marie",
        "Markus",
        "Martin",
        "Max",
        "Michael",
        "Monika",
        "Nina",
        "Paul",
        "Peter",
        "Petra",
        "Sabine",
        "Sandra",
        "Sarah",
        "Sebastian",
        "Stefan",
        "Stephan",
        "Susanne",
        "Thomas",
        "Tim",
        "Tobias",
        "Ursula",
        "Uwe",
        "Werner",
        "Wolfgang",
        "John",
        "David",
        "James",
        "Robert",
        "Mary",
        "Jennifer",
    }
)
# A lookahead, so "Call Frank Meyer" also tests "Frank" (findall does not overlap).
_NAME_PAIR = re.compile(r"\b([A-ZÄÖÜ][a-zäöüß]+)(?=\s+[A-ZÄÖÜ][a-zäöüß]+\b)")


def guard_findings(caption: CaptionText) -> list[str]:
    """Why a caption must not be published unseen (contact data, links, people); [] if fine."""
    texts = [str(getattr(caption, name)) for name in FIELDS[1:7]] + list(caption.features)
    findings: set[str] = set()
    for text in texts:
        if _EMAIL.search(text):
            findings.add("email address")
        elif _URL.search(text):
            findings.add("link")
        if _PHONE.search(text):
            findings.add("phone number")
        if _HONORIFIC.search(text) or any(
            first in _FIRST_NAMES for first in _NAME_PAIR.findall(text)
        ):
            findings.add("personal name")
    return sorted(findings)


# --- files ------------------------------------------------------------------------------------


def caption_document(
    caption: CaptionText,
    *,
    pseudonym: str,
    version: int,
    model: str,
    provider: str,
    prompt_version: str,
    edited: bool,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The `.json` file: versioned schema, everything a CRM import needs."""
    return {
        "$schema": CAPTION_SCHEMA,
        "asset": pseudonym,
        "caption_version": version,
        **caption.model_dump(),
        "model": model,
        "provider": provider,
        "prompt_version": prompt_version,
        "created_at": (created_at or datetime.now(UTC)).isoformat(),
        "edited": edited,
    }


def caption_text_file(pseudonym: str, caption: CaptionText) -> str:
    """The `.txt` file: German first, then English."""
    features = ", ".join(caption.features)
    return (
        f"{pseudonym}\n\n"
        f"[DE] {caption.title_de}\n{caption.description_de}\nAlt-Text: {caption.alt_text_de}\n\n"
        f"[EN] {caption.title_en}\n{caption.description_en}\nAlt text: {caption.alt_text_en}\n\n"
        f"Features: {features}\n"
    )
