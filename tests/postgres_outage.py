"""A PostgreSQL of a test's own that it may stop and start (the session's is shared by all)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pix_stack.embedded import EmbeddedPostgres, start_postgres


class StoppablePostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.server: EmbeddedPostgres | None = start_postgres(data_dir)
        self.url = self.server.url  # the socket directory stays the same across restarts

    async def stop(self) -> None:
        """`pg_ctl stop` (fast): sessions are terminated, the socket goes away."""
        server, self.server = self.server, None
        if server is not None:
            await asyncio.to_thread(server.stop)

    async def start(self) -> None:
        if self.server is None:
            self.server = await asyncio.to_thread(start_postgres, self.data_dir)
            assert self.server.url == self.url


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[StoppablePostgres]:
    # Not under pytest's tmp dirs: PostgreSQL runs as another system user when tests run as root.
    root = Path(tempfile.mkdtemp(prefix="pix-outage-"))
    root.chmod(0o755)
    server = StoppablePostgres(root / "data")
    yield server
    if server.server is not None:
        server.server.stop()
    shutil.rmtree(root, ignore_errors=True)
