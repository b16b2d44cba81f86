"""onOffice: the parameters of the apiv2 `uploadfile` action (second step) for every photo.

onOffice uploads in two steps: `data` (base64) first, which answers a `tmpUploadId`; then the
parameters below link the file to the estate (`relatedRecordId`, the onOffice estate id the
agent's CRM knows, left null here). `Art`: Titelbild (once per estate), Grundriss, else Foto.
`language` uses onOffice's ISO 639-2 codes (DEU, ENG).
"""

from __future__ import annotations

import json
from typing import Any

from pix_export.formats.base import ImageSource, Photo, RenderedFile, Snapshot

ACTION_DO = "urn:onoffice-de-ns:smart:2.5:smartml:action:do"


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
    ]


class OnOffice:
    format_id = "onoffice"

    async def render(self, snapshot: Snapshot, images: ImageSource) -> list[RenderedFile]:
        document = {
            "actionid": ACTION_DO,
            "resourcetype": "uploadfile",
            "objektnr_extern": snapshot.reference,
            "files": upload_parameters(snapshot),
        }
        data = json.dumps(document, ensure_ascii=False, indent=2).encode()
        return [RenderedFile("onoffice-uploadfile.json", "onoffice", "application/json", data)]


FORMAT = OnOffice()
