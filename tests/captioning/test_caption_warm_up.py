"""The caption worker opens its database connections before the first event arrives."""

from __future__ import annotations

from pathlib import Path

from pix_captioning.providers import OfflineProvider
from pix_captioning.service import CaptionDesk
from pix_runtime.db import Database
from pix_runtime.storage import LocalStorage
from pix_stack.embedded import EmbeddedPostgres


async def test_warm_up_opens_distinct_connections_before_the_first_event(
    postgres: EmbeddedPostgres, migrated: set[str], tmp_path: Path
) -> None:
    database = Database(postgres.url, schema="captioning", application_name="warm", pool_size=4)
    storage = LocalStorage(tmp_path, public_base="http://test/storage", signing_key=b"k" * 32)
    desk = CaptionDesk(database, storage, OfflineProvider(storage))
    try:
        assert database.engine.pool.checkedin() == 0
        await desk.warm_up(3)
        assert database.engine.pool.checkedin() == 3
    finally:
        await database.dispose()
