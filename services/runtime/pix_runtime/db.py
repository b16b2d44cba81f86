"""The service's database: an async engine whose tables all live in the service's own schema."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, cast

from asyncpg import Record
from sqlalchemy import RowMapping, event, exc, text
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

# A row read by column name: SQLAlchemy's `RowMapping` from a session, or asyncpg's `Record`
# from a `DriverStatement`.
NamedRow = RowMapping | Record

# Set in `session.info` by code that wants the commit hooks to run (the outbox does). Hooks
# registered under another flag run only after a transaction that set that one (the job queue
# wakes for jobs, not for every event).
WAKE_AFTER_COMMIT = "pix_wake_after_commit"


# A pooled connection idle at least this long is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0
_LAST_USED = "pix_last_used"


class Database:
    def __init__(
        self,
        url: str,
        *,
        schema: str,
        application_name: str,
        pool_size: int = 5,
        ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
    ):
        self.schema = schema
        # Up to twice `pool_size` connections, all kept once opened. An overflow connection
        # (SQLAlchemy's default) is closed as soon as it is handed back, and a burst then
        # opened and closed ~50 PostgreSQL backends a second (a fork, a login, every statement
        # prepared again): most of PostgreSQL's CPU in the leads intake benchmark, which doubled
        # once they were kept. Last in, first out: the connections in use stay warm (no idle
        # ping), the extra ones rest until the next burst.
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=2 * pool_size,
            max_overflow=0,
            pool_use_lifo=True,
            connect_args={"server_settings": {"application_name": application_name}},
        )
        self._ping_after_idle = ping_after_idle
        # Instead of `pool_pre_ping`, which pings on every checkout: with asyncpg that is three
        # round trips (BEGIN, a ping, ROLLBACK), as many as a small transaction's own. Dead
        # connections (a database restart, an idle timeout) are found among idle ones; one
        # handed back a moment ago is alive. If the database died even so, the statement fails
        # and SQLAlchemy invalidates the pool (a disconnect error), so it happens once.
        pool = self.engine.sync_engine.pool
        event.listen(pool, "connect", self._mark_used)
        event.listen(pool, "checkin", self._mark_used)
        event.listen(pool, "checkout", self._ping_if_idle)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._after_commit: dict[str, list[Callable[[], None]]] = {WAKE_AFTER_COMMIT: []}

    @staticmethod
    def _mark_used(dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    def _ping_if_idle(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        last = record.info.get(_LAST_USED)
        if last is not None and time.monotonic() - last < self._ping_after_idle:
            return
        try:
            self.engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool drops this connection and checks out another (a fresh one if need be).
            raise exc.DisconnectionError(str(error)) from error
        record.info[_LAST_USED] = time.monotonic()

    def on_commit(self, hook: Callable[[], None], *, flag: str = WAKE_AFTER_COMMIT) -> None:
        """Run `hook` after every transaction that set `flag` in its session's info."""
        self._after_commit.setdefault(flag, []).append(hook)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: commits on success, rolls back on error."""
        async with self.sessions() as session:
            async with session.begin():
                yield session
            for flag in [f for f in self._after_commit if session.info.pop(f, False)]:
                self._committed(flag)

    @asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[Any]:
        """The pooled asyncpg connection itself, for `DriverStatement`s; outside a transaction
        each statement commits on its own.

        It comes from the same pool, with the same idle ping; one that died under a statement
        is dropped from the pool, as SQLAlchemy does after its own statements.
        """
        async with self.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            if driver is None:  # only after the connection was invalidated
                raise exc.DisconnectionError("the pooled connection is gone")
            try:
                yield driver
            except BaseException:
                if driver.is_closed():
                    await conn.invalidate()
                raise

    @asynccontextmanager
    async def driver_transaction(self, *, wake_after_commit: bool = False) -> AsyncIterator[Any]:
        """`driver_connection` inside one transaction. `wake_after_commit` runs the commit hooks
        (the outbox relay), as `WAKE_AFTER_COMMIT` does for a session."""
        async with self.driver_connection() as driver, driver.transaction():
            yield driver
        if wake_after_commit:
            self._committed(WAKE_AFTER_COMMIT)

    def _committed(self, flag: str) -> None:
        for hook in self._after_commit[flag]:
            hook()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


_ASYNCPG = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


class DriverStatement:
    """A Core statement compiled once for asyncpg and run on the driver connection itself.

    Through SQLAlchemy a statement costs ~0.3 ms of CPU beyond the driver's own (cache lookup,
    parameter and result processing, greenlet switches): negligible for a request, but a tenth
    of the media worker's overhead per photo. The statement is still written with Core, so
    column names and `onupdate` defaults stay checked against the models; rows come back as
    asyncpg `Record`s (`row["name"]`).
    """

    def __init__(self, statement: ClauseElement, *, columns: Iterable[str] | None = None) -> None:
        # `columns`: for an INSERT, the columns given (the others keep their server defaults).
        self._compiled = cast(
            SQLCompiler,
            statement.compile(
                dialect=_ASYNCPG, column_keys=list(columns) if columns is not None else None
            ),
        )
        self.sql = str(self._compiled)
        self._names: list[str] = list(self._compiled.positiontup or [])
        self._processors: dict[str, Callable[[Any], Any]] = {}
        for name in self._names:
            processor = (
                self._compiled.binds[name].type.dialect_impl(_ASYNCPG).bind_processor(_ASYNCPG)
            )
            if processor is not None:
                self._processors[name] = processor

    def arguments(self, params: dict[str, Any]) -> list[Any]:
        """Positional arguments; a missing parameter raises as it would through SQLAlchemy."""
        values = self._compiled.construct_params(params)
        processors = self._processors
        return [
            processors[name](values[name]) if name in processors else values[name]
            for name in self._names
        ]

    async def fetchrow(self, driver: Any, **params: Any) -> Any:
        return await driver.fetchrow(self.sql, *self.arguments(params))

    async def execute(self, driver: Any, **params: Any) -> None:
        await driver.execute(self.sql, *self.arguments(params))
