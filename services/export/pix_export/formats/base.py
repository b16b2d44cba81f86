"""What every export format sees and returns: one small interface, one file per format.

A format turns a `Snapshot` (the gallery's photos and captions at one version) into files. It
never touches the database or the broker; image bytes come through `ImageSource`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pix_contracts.rooms import RoomType, cover_rank

# Room types shown as outside views in CRMs (OpenImmo AUSSENANSICHTEN and the like).
OUTSIDE_ROOMS = frozenset(
    {
        RoomType.EXTERIOR,
        RoomType.GARDEN,
        RoomType.TERRACE,
        RoomType.BALCONY,
        RoomType.VIEW,
        RoomType.POOL,
        RoomType.GARAGE,
    }
)


@dataclass(frozen=True)
class Photo:
    asset_id: uuid.UUID
    pseudonym: str
    room_type: str | None
    caption: dict[str, Any]
    web_key: str

    @property
    def image_name(self) -> str:
        """The web rendition's file name inside every ZIP (renditions are always JPEG)."""
        return f"{self.pseudonym}.jpg"

    @property
    def is_floor_plan(self) -> bool:
        return self.room_type == RoomType.FLOOR_PLAN

    @property
    def is_outside(self) -> bool:
        return self.room_type in OUTSIDE_ROOMS


@dataclass(frozen=True)
class Deliverable:
    """A floor plan or video the order included, delivered as it is (never captioned)."""

    asset_id: uuid.UUID
    kind: str
    """floor_plan or video"""
    name: str
    """FloorPlan_01.pdf, Video_01.mp4: its file name inside every ZIP"""
    media_type: str
    file_key: str
    byte_size: int
    sha256: str
    link: str | None = None
    """A signed download link of the file (videos go to CRMs as a film link too)"""

    @property
    def is_floor_plan(self) -> bool:
        return self.kind == "floor_plan"

    @property
    def number(self) -> str:
        """01 of FloorPlan_01.pdf"""
        return self.name.rsplit(".", 1)[0].rsplit("_", 1)[-1]


@dataclass(frozen=True)
class FailedPhoto:
    asset_id: uuid.UUID
    pseudonym: str
    reason: str


@dataclass(frozen=True)
class PropertyFacts:
    """What the order said about the property; every field None for orders placed before the
    facts travelled with OrderPlaced."""

    property_type: str | None = None
    """apartment, house, commercial or land"""
    marketing: str | None = None
    """sale or rent"""
    living_area_m2: float | None = None
    rooms: float | None = None
    street: str | None = None
    house_number: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = None
    """ISO 3166-1 alpha-2 (DE, AT, CH)"""

    @property
    def for_rent(self) -> bool:
        return self.marketing == "rent"

    @property
    def has_address(self) -> bool:
        return bool(self.street and self.postcode and self.city)


@dataclass(frozen=True)
class Snapshot:
    gallery_id: uuid.UUID
    org_id: uuid.UUID
    version: int
    generated_at: datetime
    photos: list[Photo]
    """Captioned photos in export order (by pseudonym), each exactly once."""
    cover_asset_id: uuid.UUID | None = None
    failed: list[FailedPhoto] = field(default_factory=list)
    reference: str | None = None
    property_address: str | None = None
    property_facts: PropertyFacts = field(default_factory=PropertyFacts)
    contact_name: str | None = None
    contact_email: str | None = None
    locale: str = "de"
    complete: bool = False
    provider_firma: str = "pix.immo"
    provider_anid: str = "PIXIMMO"
    deliverables: list[Deliverable] = field(default_factory=list)
    """Floor plans and videos of a delivered version (none in previews)"""

    @property
    def cover(self) -> Photo | None:
        """The chosen cover, else the best title picture (`cover_rank`), in name order."""
        chosen = [p for p in self.photos if p.asset_id == self.cover_asset_id]
        if chosen:
            return chosen[0]
        return min(self.photos, key=lambda p: cover_rank(p.room_type), default=None)


@dataclass(frozen=True)
class RenderedFile:
    name: str
    format: str
    media_type: str
    data: bytes
    folder: str = ""
    """Sub-folder in storage and in the all-in-one ZIP ("" = top level)."""

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.name}" if self.folder else self.name


# The bytes of a photo's web rendition, or of a deliverable's file.
ImageSource = Callable[[Photo | Deliverable], Awaitable[bytes]]


class ExportFormat(Protocol):
    """A CRM or file format. Put one in a new module of this package with `FORMAT = ...`."""

    format_id: str

    async def render(self, snapshot: Snapshot, images: ImageSource) -> list[RenderedFile]: ...


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary where that keeps most of it."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    if len(cut) < limit // 2:
        cut = text[: limit - 1]
    return cut.rstrip(" ,.;:-") + "…"
