"""Plain captions: per image `<Name>.txt` / `<Name>.json`, per gallery `captions.txt/.json`.

`captions.json` follows the schema `https://pix.immo/schemas/gallery-captions/v2` (documented in
services/export/README.md): v2 added `reference`, `cover`, `failed` and per-image `cover`,
`image`; every v1 field is still there with the same meaning.
"""

from __future__ import annotations

import json
from typing import Any

from pix_export.formats.base import ImageSource, Photo, RenderedFile, Snapshot

CAPTIONS_SCHEMA = "https://pix.immo/schemas/gallery-captions/v2"
IMAGE_SCHEMA = "https://pix.immo/schemas/image-caption/v1"
TEXT = "text/plain; charset=utf-8"


def _image_json(photo: Photo, cover: bool) -> dict[str, Any]:
    return {
        "file": photo.image_name,
        "image": photo.image_name,
        "name": photo.pseudonym,
        "asset_id": str(photo.asset_id),
        "cover": cover,
        **photo.caption,
    }


def _image_txt(photo: Photo) -> str:
    c = photo.caption
    features = ", ".join(c.get("features") or [])
    return (
        f"{photo.pseudonym}\n"
        f"[DE] {c['title_de']}\n{c['description_de']}\n"
        f"[EN] {c['title_en']}\n{c['description_en']}\n"
        + (f"Features: {features}\n" if features else "")
    )


class Captions:
    format_id = "captions"

    async def render(self, snapshot: Snapshot, images: ImageSource) -> list[RenderedFile]:
        cover = snapshot.cover
        document = {
            "$schema": CAPTIONS_SCHEMA,
            "schema_version": 2,
            "gallery_id": str(snapshot.gallery_id),
            "reference": snapshot.reference,
            "version": snapshot.version,
            "generated_at": snapshot.generated_at.isoformat(),
            "complete": snapshot.complete,
            "cover": cover.pseudonym if cover else None,
            "images": [_image_json(p, p is cover) for p in snapshot.photos],
            "failed": [
                {"name": f.pseudonym, "asset_id": str(f.asset_id), "reason": f.reason}
                for f in snapshot.failed
            ],
        }
        files = [
            RenderedFile(
                "captions.json",
                "captions-json",
                "application/json",
                json.dumps(document, ensure_ascii=False, indent=2).encode(),
            ),
            RenderedFile(
                "captions.txt",
                "captions-txt",
                TEXT,
                "\n".join(_image_txt(p) for p in snapshot.photos).encode(),
            ),
        ]
        for photo in snapshot.photos:
            single = {"$schema": IMAGE_SCHEMA, **_image_json(photo, photo is cover)}
            files += [
                RenderedFile(
                    f"{photo.pseudonym}.txt",
                    "image-txt",
                    TEXT,
                    _image_txt(photo).encode(),
                    "captions",
                ),
                RenderedFile(
                    f"{photo.pseudonym}.json",
                    "image-json",
                    "application/json",
                    json.dumps(single, ensure_ascii=False, indent=2).encode(),
                    "captions",
                ),
            ]
        return files


FORMAT = Captions()
