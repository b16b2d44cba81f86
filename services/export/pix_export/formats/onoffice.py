"""onOffice: the parameters of the apiv2 `uploadfile` action (second step) for every photo.

onOffice uploads in two steps: `data` (base64) first, which answers a `tmpUploadId`; then the
parameters below link the file to the estate (`relatedRecordId`, the onOffice estate id the
agent's CRM knows, left null here). `Art`: Titelbild (once per estate), Grundriss, else Foto.
`language` uses onOffice's ISO 639-2 codes (DEU, ENG).

`estate` is the `modify` action on the estate record (`resourceid` its id, again left null):
the order's facts in onOffice's estate field names (objekttitel, objektart, vermarktungsart,
nutzungsart, wohnflaeche, anzahl_zimmer, strasse, hausnummer, plz, ort, land as ISO 3166-1
alpha-3, ausstatt_beschr), only those the order knows.
"""

from __future__ import annotations

import json
from typing import Any

from pix_export.formats.base import ImageSource, Photo, RenderedFile, Snapshot
from pix_export.formats.listing import feature_names, listing_title
from pix_export.formats.openimmo import ISO_LAND, OBJEKTART

ACTION_DO = "urn:onoffice-de-ns:smart:2.5:smartml:action:do"
ACTION_MODIFY = "urn:onoffice-de-ns:smart:2.5:smartml:action:modify"


def art(photo: Photo, cover: Photo | None) -> str:
    if photo is cover:
        return "Titelbild"
    return "Grundriss" if photo.is_floor_plan else "Foto"


def upload_parameters(snapshot: Snapshot) -> list[dict[str, Any]]:
    english = snapshot.locale == "en"
    cover = snapshot.cover
    return [
        {
            "image": photo.image_name,
            "parameters": {
                "module": "estate",
                "relatedRecordId": None,
                "file": photo.image_name,
                "Art": art(photo, cover),
                "title": photo.caption["title_en" if english else "title_de"],
                "freetext": photo.caption["description_en" if english else "description_de"],
                "language": "ENG" if english else "DEU",
            },
        }
        for photo in snapshot.photos
    ] + [
        {
            "image": item.name,
            "parameters": {
                "module": "estate",
                "relatedRecordId": None,
                "file": item.name,
                "Art": "Grundriss" if item.is_floor_plan else "Film",
                "title": item.name.rsplit(".", 1)[0],
                "language": "ENG" if english else "DEU",
            },
            # A film also as a link, for estates that show videos only by address.
            **({"url": item.link} if item.link and not item.is_floor_plan else {}),
        }
        for item in snapshot.deliverables
    ]


def estate_fields(snapshot: Snapshot) -> dict[str, Any]:
    """The estate record's fields the order knows, in onOffice's names and values."""
    facts = snapshot.property_facts
    fields: dict[str, Any] = {}
    title = listing_title(snapshot)
    if title:
        fields["objekttitel"] = title
    if facts.property_type in OBJEKTART:
        fields["objektart"] = OBJEKTART[facts.property_type][0]
        fields["nutzungsart"] = "gewerbe" if facts.property_type == "commercial" else "wohnen"
    if facts.marketing:
        fields["vermarktungsart"] = "miete" if facts.for_rent else "kauf"
    if facts.living_area_m2 is not None:
        fields["wohnflaeche"] = facts.living_area_m2
    if facts.rooms is not None:
        fields["anzahl_zimmer"] = facts.rooms
    if facts.has_address:
        fields |= {"strasse": facts.street, "plz": facts.postcode, "ort": facts.city}
        if facts.house_number:
            fields["hausnummer"] = facts.house_number
        fields["land"] = ISO_LAND.get(facts.country or "DE", "DEU")
    features = feature_names(snapshot)
    if features:
        fields["ausstatt_beschr"] = ", ".join(features)
    return fields


class OnOffice:
    format_id = "onoffice"

    async def render(self, snapshot: Snapshot, images: ImageSource) -> list[RenderedFile]:
        document = {
            "actionid": ACTION_DO,
            "resourcetype": "uploadfile",
            "objektnr_extern": snapshot.reference,
            "files": upload_parameters(snapshot),
            "estate": {
                "actionid": ACTION_MODIFY,
                "resourcetype": "estate",
                "resourceid": None,
                "parameters": {"data": estate_fields(snapshot)},
            },
        }
        data = json.dumps(document, ensure_ascii=False, indent=2).encode()
        return [RenderedFile("onoffice-uploadfile.json", "onoffice", "application/json", data)]


FORMAT = OnOffice()
