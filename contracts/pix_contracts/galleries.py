"""Events of how a client arranged their gallery: the photos' order and the title picture.

Media owns the arrangement (the client drags photos and picks the title picture on the gallery
page); export takes the title picture as the cover of every later version (OpenImmo
`TITELBILD`, the first picture CRMs show).
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import Field

from pix_contracts.envelope import Event


class GalleryArranged(Event):
    """The client changed the order of the gallery's photos or its title picture. Carries the
    whole arrangement, so the latest event is all a consumer needs."""

    topic: ClassVar[str] = "media.gallery.arranged.v1"
    key_field: ClassVar[str] = "gallery_id"

    gallery_id: uuid.UUID
    org_id: uuid.UUID
    asset_ids: list[uuid.UUID] = Field(
        description="The photos in the client's order (photos added later follow them)"
    )
    title_asset_id: uuid.UUID | None = Field(
        default=None, description="The title picture; null: the default choice"
    )
    revision: int = Field(ge=1, description="Grows with every change, so a late event is ignored")


GALLERY_EVENTS: tuple[type[Event], ...] = (GalleryArranged,)
