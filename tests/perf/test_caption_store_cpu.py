"""CPU of the caption store per upload event (not a timed test):

    PIX_BENCH=1 .venv/bin/pytest tests/perf/test_caption_store_cpu.py -s -p no:cacheprovider

What captioning's own code costs the process for one upload event, the provider aside (a
provider that answers at once with a fixed caption): the seen-check, the inbox claim with the
version number, the version row with its outbox row, the two files. CPU seconds of this
process (`time.process_time`, so other processes on a busy machine do not count), median of
five rounds of 200 events, one after another. This is what decides whether the store's
statements need a second database path beside SQLAlchemy's session (asyncpg directly,
`DriverStatement`): the caption benchmark's wall-clock overhead is too noisy for a difference
of a millisecond on a shared machine.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from pathlib import Path

import pytest
from pix_captioning.providers import CaptionRequest
from pix_captioning.service import CaptionDesk
from pix_contracts import AssetUploaded, CaptionText
from pix_runtime.db import Database
from pix_runtime.storage import LocalStorage
from pix_stack.embedded import EmbeddedPostgres

pytestmark = pytest.mark.skipif(not os.environ.get("PIX_BENCH"), reason="set PIX_BENCH=1")
ROUNDS, EVENTS = 5, 200
CAPTION = CaptionText(
    room_type="kitchen",
    title_de="Helle Küche",
    title_en="Bright kitchen",
    description_de="Eine helle Küche mit viel Licht.",
    description_en="A bright kitchen with plenty of light.",
    alt_text_de="Küche mit Fenster",
    alt_text_en="Kitchen with a window",
    features=["window"],
)


class AtOnce:
    name, model, prompt_version = "bench", "bench-1", "bench-1"

    async def caption(self, request: CaptionRequest) -> CaptionText:
        return CAPTION

    async def close(self) -> None:
        return None


def upload(gallery_id: uuid.UUID, n: int) -> AssetUploaded:
    return AssetUploaded(
        asset_id=uuid.uuid4(),
        gallery_id=gallery_id,
        org_id=gallery_id,
        version=1,
        pseudonym=f"Kitchen_{n:04d}",
        room_type="kitchen",
        sequence=n,
        width=2000,
        height=1500,
        byte_size=1000,
        sha256="0" * 64,
        web_key="bench/web.jpg",
        thumb_key="bench/thumb.jpg",
    )


async def test_cpu_per_stored_caption(
    migrated: set[str], postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    db = Database(postgres.url, schema="captioning", application_name="bench")
    storage = LocalStorage(tmp_path, public_base="http://bench/storage", signing_key=b"k" * 32)
    desk = CaptionDesk(db, storage, AtOnce())  # type: ignore[arg-type]
    gallery = uuid.uuid4()
    for n in range(20):  # warm: connections, prepared statements, caches
        await desk.caption_asset(upload(gallery, n))
    per_event = []
    for _ in range(ROUNDS):
        events = [upload(gallery, n) for n in range(EVENTS)]
        cpu = time.process_time()
        for event in events:
            await desk.caption_asset(event)
        per_event.append((time.process_time() - cpu) * 1000 / EVENTS)
    await db.dispose()
    cpu_ms = sorted(per_event)
    print(
        f"\ncaption store, {ROUNDS} x {EVENTS} events: CPU per event median "
        f"{statistics.median(cpu_ms):.2f} ms (rounds {', '.join(f'{ms:.2f}' for ms in cpu_ms)})"
    )
