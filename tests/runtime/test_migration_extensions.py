"""Services that need the same extension can migrate a new database at the same moment.

Extensions belong to the database: listings and leads both create pgvector, and at a first
start (a fresh database, every service migrating at once) one of them failed on the
extension's unique name before `create_extension` took a database-wide lock.
"""

from __future__ import annotations

import asyncio
import sys
import uuid

from pix_stack.embedded import EmbeddedPostgres
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


async def test_two_services_create_pgvector_in_a_fresh_database_at_once(
    postgres: EmbeddedPostgres,
) -> None:
    name = f"fresh_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(postgres.url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres.url.replace("/pix?", f"/{name}?")
    try:
        # Separate processes, as the services start (Alembic's context is one per process).
        runs = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "pix_runtime.migrations", "upgrade", package, "--url", url
            )
            for package in ("pix_listings", "pix_leads")
        ]
        assert [await run.wait() for run in runs] == [0, 0]
        fresh = create_async_engine(url)
        async with fresh.connect() as conn:
            installed = set(
                (await conn.execute(text("SELECT extname FROM pg_extension"))).scalars()
            )
        await fresh.dispose()
        assert {"vector", "pg_trgm"} <= installed
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
