"""The service's database: an async engine whose tables all live in the service's own schema."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# Set in `session.info` by code that wants the commit hooks to run (the outbox does).
WAKE_AFTER_COMMIT = "pix_wake_after_commit"


class Database:
    def __init__(self, url: str, *, schema: str, application_name: str, pool_size: int = 5):
        self.schema = schema
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            connect_args={"server_settings": {"application_name": application_name}},
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._after_commit: list[Callable[[], None]] = []

    def on_commit(self, hook: Callable[[], None]) -> None:
        """Run `hook` after every transaction that asked for it (see WAKE_AFTER_COMMIT)."""
        self._after_commit.append(hook)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: commits on success, rolls back on error."""
        async with self.sessions() as session:
            async with session.begin():
                yield session
            if session.info.pop(WAKE_AFTER_COMMIT, False):
                for hook in self._after_commit:
                    hook()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
