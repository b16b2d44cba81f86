"""Propstack: one `POST /v1/images` body per photo (the fields wrapped in `image`).

`imageable_type` "Property" with `imageable_id` null (the Propstack unit id, known to the
agent's CRM); `photo` names the file in the ZIP and is replaced by its base64 data URL when
sent. `is_private` false: the photos are meant for the portals. `position` starts at 0 with the
cover.
"""

from __future__ import annotations

import json
from typing import Any

from pix_export.formats.base import ImageSource, RenderedFile, Snapshot


def image_payloads(snapshot: Snapshot) -> list[dict[str, Any]]:
    english = snapshot.locale == "en"
    cover = snapshot.cover
    ordered = ([cover] if cover else []) + [p for p in snapshot.photos if p is not cover]
    return [
        {
            "image": {
                "imageable_type": "Property",
                "imageable_id": None,
                "title": photo.caption["title_en" if english else "title_de"],
                "is_floorplan": photo.is_floor_plan,
                "is_private": False,
                "position": position,
                "photo": photo.image_name,
            }
        }
        for position, photo in enumerate(ordered)
    ]


class Propstack:
    format_id = "propstack"

    async def render(self, snapshot: Snapshot, images: ImageSource) -> list[RenderedFile]:
        data = json.dumps(image_payloads(snapshot), ensure_ascii=False, indent=2).encode()
        return [RenderedFile("propstack-images.json", "propstack", "application/json", data)]


FORMAT = Propstack()
