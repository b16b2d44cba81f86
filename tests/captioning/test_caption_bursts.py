"""Answers that come back together are stored one after another, not interleaved.

With per-worker concurrency, requests started together are answered together; a store is a
few milliseconds on the shared event loop. Interleaved, every caption of the burst would be
done only at the end of it; one after another, the first is done after one store.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path

from PIL import Image
from pix_captioning.models import captions
from pix_captioning.providers import CaptionRequest, OfflineProvider
from pix_captioning.service import CaptionDesk
from pix_contracts import AssetUploaded, CaptionText
from pix_runtime.db import Database
from pix_runtime.storage import LocalStorage, StoredObject
from pix_stack.embedded import EmbeddedPostgres
from sqlalchemy import func, select

BURST = 4


class AnswersTogether(OfflineProvider):
    """The offline captions, all answered at the same moment once `BURST` requests wait."""

    def __init__(self, storage: LocalStorage) -> None:
        super().__init__(storage)
        self._waiting = 0
        self._all_in = asyncio.Event()

    async def caption(self, request: CaptionRequest) -> CaptionText:
        caption = await super().caption(request)
        self._waiting += 1
        if self._waiting == BURST:
            self._all_in.set()
        await self._all_in.wait()
        return caption


class NetworkLikeStorage(LocalStorage):
    """Local files that, like S3, take a moment to write and yield meanwhile; records the order."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, public_base="http://test/storage", signing_key=b"k" * 32)
        self.writes: list[str] = []

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> StoredObject:
        self.writes.append(key)
        await asyncio.sleep(0.01)
        return await super().put_bytes(key, data, content_type)


def upload(asset_id: uuid.UUID, gallery_id: uuid.UUID, n: int) -> AssetUploaded:
    return AssetUploaded(
        asset_id=asset_id,
        gallery_id=gallery_id,
        org_id=uuid.uuid4(),
        pseudonym=f"Kitchen_{n:02d}",
        room_type="kitchen",
        sequence=n,
        width=1600,
        height=1200,
        byte_size=1,
        sha256=f"{n:064x}",
        web_key=f"renditions/{gallery_id}/web.jpg",
        thumb_key=f"renditions/{gallery_id}/web.jpg",
    )


async def test_a_burst_of_answers_is_stored_one_caption_at_a_time(
    postgres: EmbeddedPostgres, migrated: set[str], tmp_path: Path
) -> None:
    database = Database(postgres.url, schema="captioning", application_name="burst", pool_size=8)
    storage = NetworkLikeStorage(tmp_path)
    desk = CaptionDesk(database, storage, AnswersTogether(storage))
    gallery_id = uuid.uuid4()
    picture = io.BytesIO()
    Image.new("RGB", (1600, 1200), (235, 230, 220)).save(picture, "JPEG")
    await LocalStorage.put_bytes(
        storage, f"renditions/{gallery_id}/web.jpg", picture.getvalue(), ""
    )
    events = [upload(uuid.uuid4(), gallery_id, n) for n in range(1, BURST + 1)]
    try:
        await asyncio.gather(*(desk.caption_asset(event) for event in events))
        async with database.sessions() as session:
            stored = await session.scalar(
                select(func.count()).where(captions.c.gallery_id == gallery_id)
            )
    finally:
        await database.dispose()

    assert stored == BURST
    # Each caption's two files are written back to back: no other caption's store ran while
    # one waited on its storage (or its database).
    pseudonyms = [key.rsplit("/", 1)[1].split(".")[0] for key in storage.writes]
    assert len(pseudonyms) == 2 * BURST
    assert all(pseudonyms[i] == pseudonyms[i + 1] for i in range(0, 2 * BURST, 2)), pseudonyms
