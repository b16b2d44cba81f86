"""Exports: every change to a gallery's captions produces a new, versioned export.

Files are written under `exports/<gallery>/v<version>/` and announced with signed download
URLs and checksums, so a CRM can fetch and verify them without an account.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pix_contracts import CaptionReady, ExportFile, GalleryExported
from pix_runtime.db import Database
from pix_runtime.errors import NotFound
from pix_runtime.identity import Identity
from pix_runtime.inbox import first_delivery
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue
from pix_runtime.storage import LocalStorage, S3Storage
from sqlalchemy import RowMapping, func, select, text
from sqlalchemy.dialects.postgresql import insert

from pix_export.models import entries, exports, inbox, outbox

SOURCE = "/pix/export"
CONSUMER = "export"
CAPTIONS_SCHEMA = "https://pix.immo/schemas/gallery-captions/v1"
log = get_logger(__name__)


def captions_json(gallery_id: uuid.UUID, version: int, rows: list[RowMapping]) -> bytes:
    document = {
        "$schema": CAPTIONS_SCHEMA,
        "gallery_id": str(gallery_id),
        "version": version,
        "generated_at": datetime.now(UTC).isoformat(),
        "images": [
            {"file": f"{row['pseudonym']}.jpg", "name": row["pseudonym"], **row["caption"]}
            for row in rows
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


def captions_txt(rows: list[RowMapping]) -> bytes:
    blocks = []
    for row in rows:
        c: dict[str, Any] = row["caption"]
        blocks.append(
            f"{row['pseudonym']}\n"
            f"[DE] {c['title_de']}\n{c['description_de']}\n"
            f"[EN] {c['title_en']}\n{c['description_en']}\n"
        )
    return "\n".join(blocks).encode()


class ExportDesk:
    def __init__(
        self, db: Database, storage: LocalStorage | S3Storage, *, url_seconds: int
    ) -> None:
        self._db = db
        self._storage = storage
        self._url_seconds = url_seconds

    async def take_caption(self, event: CaptionReady) -> None:
        """Record the caption and publish the gallery's next export version."""
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            # One export at a time per gallery: versions stay gapless and ordered.
            await session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:g))"), {"g": str(event.gallery_id)}
            )
            upsert = insert(entries).values(
                gallery_id=event.gallery_id,
                asset_id=event.asset_id,
                org_id=event.org_id,
                pseudonym=event.pseudonym,
                caption_version=event.caption_version,
                caption=event.caption.model_dump(),
                txt_key=event.txt_key,
                json_key=event.json_key,
                web_key=event.web_key,
            )
            changed = await session.execute(
                upsert.on_conflict_do_update(
                    index_elements=[entries.c.gallery_id, entries.c.asset_id],
                    set_={
                        "pseudonym": upsert.excluded.pseudonym,
                        "caption_version": upsert.excluded.caption_version,
                        "caption": upsert.excluded.caption,
                        "txt_key": upsert.excluded.txt_key,
                        "json_key": upsert.excluded.json_key,
                        "web_key": upsert.excluded.web_key,
                        "updated_at": func.now(),
                    },
                    # An older caption version arriving late never overwrites a newer one.
                    where=entries.c.caption_version < upsert.excluded.caption_version,
                )
            )
            if changed.rowcount == 0:  # type: ignore[attr-defined]
                log.info("export.unchanged", gallery_id=str(event.gallery_id))
                return
            rows = list(
                (
                    await session.execute(
                        select(entries)
                        .where(entries.c.gallery_id == event.gallery_id)
                        .order_by(entries.c.pseudonym)
                    )
                ).mappings()
            )
            version = 1 + (
                await session.scalar(
                    select(func.coalesce(func.max(exports.c.version), 0)).where(
                        exports.c.gallery_id == event.gallery_id
                    )
                )
                or 0
            )
            files = await self._write_files(event.gallery_id, version, rows)
            await session.execute(
                exports.insert().values(
                    gallery_id=event.gallery_id,
                    version=version,
                    org_id=event.org_id,
                    asset_count=len(rows),
                    files=[f.model_dump(mode="json") for f in files],
                )
            )
            await enqueue(
                session,
                outbox,
                GalleryExported(
                    gallery_id=event.gallery_id,
                    org_id=event.org_id,
                    version=version,
                    asset_count=len(rows),
                    files=files,
                ),
                source=SOURCE,
            )
        log.info("export.published", gallery_id=str(event.gallery_id), version=version)

    async def _write_files(
        self, gallery_id: uuid.UUID, version: int, rows: list[RowMapping]
    ) -> list[ExportFile]:
        contents = [
            (
                "captions.json",
                "captions-json",
                "application/json",
                captions_json(gallery_id, version, rows),
            ),
            ("captions.txt", "captions-txt", "text/plain; charset=utf-8", captions_txt(rows)),
        ]
        files = []
        for name, kind, media_type, data in contents:
            key = f"exports/{gallery_id}/v{version}/{name}"
            await self._storage.put_bytes(key, data, media_type)
            files.append(
                ExportFile(
                    name=name,
                    format=kind,
                    media_type=media_type,
                    storage_key=key,
                    download_url=await self._storage.signed_url(
                        key, "GET", expires_in=self._url_seconds
                    ),
                    url_expires_at=datetime.now(UTC) + timedelta(seconds=self._url_seconds),
                    sha256=hashlib.sha256(data).hexdigest(),
                    byte_size=len(data),
                )
            )
        return files

    async def exports_of(self, gallery_id: uuid.UUID, viewer: Identity) -> list[dict[str, Any]]:
        """Every export version of a gallery, newest first, with fresh download links."""
        async with self._db.sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(exports)
                        .where(exports.c.gallery_id == gallery_id)
                        .order_by(exports.c.version.desc())
                    )
                )
                .mappings()
                .all()
            )
        if not rows or not viewer.may_access(rows[0]["org_id"]):
            raise NotFound("export")
        result = []
        for row in rows:
            files = []
            for stored in row["files"]:
                url = await self._storage.signed_url(stored["storage_key"], "GET", expires_in=3600)
                files.append({**stored, "download_url": url})
            result.append(
                {
                    "version": row["version"],
                    "asset_count": row["asset_count"],
                    "created_at": row["created_at"],
                    "files": files,
                }
            )
        return result
