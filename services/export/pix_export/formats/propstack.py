"""Propstack: one `POST /v1/images` body per photo (the fields wrapped in `image`).

`imageable_type` "Property" with `imageable_id` null (the Propstack unit id, known to the
agent's CRM); `photo` names the file in the ZIP and is replaced by its base64 data URL when
sent. `is_private` false: the photos are meant for the portals. `position` starts at 0 with the
cover.

`propstack-unit.json` is the body of `PUT /v1/units/{id}` (the fields wrapped in `property`):
the order's facts in Propstack's field names (title, marketing_type BUY/RENT, object_type
LIVING/COMMERCIAL, rs_type APARTMENT/HOUSE/OFFICE/TRADE_SITE, living_space, number_of_rooms,
street, house_number, zip_code, city, country, furnishing_note), only those the order knows.
"""

from __future__ import annotations

import json
from typing import Any

from pix_export.formats.base import ImageSource, RenderedFile, Snapshot
from pix_export.formats.listing import feature_names, listing_title

RS_TYPE = {"apartment": "APARTMENT", "house": "HOUSE", "commercial": "OFFICE", "land": "TRADE_SITE"}
UNIT_FILE = "propstack-unit.json"


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
    ] + [
        # Floor plans go in as Propstack's floor plan images; films have no image endpoint.
        {
            "image": {
                "imageable_type": "Property",
                "imageable_id": None,
                "title": item.name.rsplit(".", 1)[0],
                "is_floorplan": True,
                "is_private": False,
                "position": len(ordered) + index,
                "photo": item.name,
            }
        }
        for index, item in enumerate(d for d in snapshot.deliverables if d.is_floor_plan)
    ]


def unit_fields(snapshot: Snapshot) -> dict[str, Any]:
    """The Propstack unit's fields the order knows."""
    facts = snapshot.property_facts
    fields: dict[str, Any] = {}
    title = listing_title(snapshot)
    if title:
        fields["title"] = title
    if facts.marketing:
        fields["marketing_type"] = "RENT" if facts.for_rent else "BUY"
    if facts.property_type in RS_TYPE:
        fields["object_type"] = "COMMERCIAL" if facts.property_type == "commercial" else "LIVING"
        fields["rs_type"] = RS_TYPE[facts.property_type]
    if facts.living_area_m2 is not None:
        fields["living_space"] = facts.living_area_m2
    if facts.rooms is not None:
        fields["number_of_rooms"] = facts.rooms
    if facts.has_address:
        fields |= {"street": facts.street, "zip_code": facts.postcode, "city": facts.city}
        if facts.house_number:
            fields["house_number"] = facts.house_number
        fields["country"] = facts.country or "DE"
    features = feature_names(snapshot)
    if features:
        fields["furnishing_note"] = ", ".join(features)
    return fields


class Propstack:
    format_id = "propstack"

    async def render(self, snapshot: Snapshot, images: ImageSource) -> list[RenderedFile]:
        data = json.dumps(image_payloads(snapshot), ensure_ascii=False, indent=2).encode()
        unit = json.dumps({"property": unit_fields(snapshot)}, ensure_ascii=False, indent=2)
        return [
            RenderedFile("propstack-images.json", "propstack", "application/json", data),
            RenderedFile(UNIT_FILE, "propstack", "application/json", unit.encode()),
        ]


FORMAT = Propstack()
