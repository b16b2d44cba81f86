"""How a service comes up and goes down: migrate, connect, relay, serve; then the reverse.

Each service's `app.py` builds a `ServiceRuntime`, registers its handlers and routes, and calls
`serve`. Readiness (`/readyz`) reports the database and the broker, and storage for a service
that uses it (took `runtime.storage`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TypeVar

import asyncpg
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Table
from sqlalchemy.engine import make_url

from pix_runtime.broker import Broker, create_broker
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.dead_letters import DeadLetterBoard, DeadLetterStore
from pix_runtime.dead_letters_routes import dead_letters_router
from pix_runtime.http import create_base_app, identity_dependency
from pix_runtime.jobs import JobBoard, JobContext, JobQueue
from pix_runtime.jobs_routes import jobs_router
from pix_runtime.logging import configure_logging, get_logger
from pix_runtime.metrics import ServiceMetrics, subscribed_groups
from pix_runtime.migrations import upgrade_to_head
from pix_runtime.operations import Operations, operations_router
from pix_runtime.outages import is_outage
from pix_runtime.outbox import BrokerMemory, OutboxRelay
from pix_runtime.settings import ServiceSettings
from pix_runtime.storage import LocalStorage, S3Storage, open_storage
from pix_runtime.topics import create_topics

log = get_logger(__name__)

BROKER_RETRY_MAX_SECONDS = 10.0
STORAGE_CHECK_SECONDS = 5.0
# A key nobody writes: asking whether it exists is the cheapest call that proves the bucket
# (or folder) answers with our credentials.
STORAGE_PROBE_KEY = "pix-readyz-probe"
# A start-up step still running after this long logs a warning naming it: a service that hangs
# on its way up (no error, port never open) says where it waits.
SLOW_START_SECONDS = 20.0
# PostgreSQL NOTIFY channel on which a process announces the topics it just published to, so
# that idle consumers in the other processes wake at once (`pix_runtime.broker.Doorbell`).
DOORBELL_CHANNEL = "pix_events_published"
# How long a service keeps an idle client connection open. Longer than any caller keeps one
# in its pool (the gateway: 30 s; an ingress: 60 s): a client that reuses a connection the
# server is closing at that moment fails its request ("Can not write request body", seen as a
# 503 from the gateway under load with uvicorn's default of 5 s and aiohttp's 15 s).
KEEP_ALIVE_SECONDS = 75

_T = TypeVar("_T")


# How often the dead letters' retention runs (periodic job, once across replicas).
DEAD_LETTER_RETENTION_SECONDS = 6 * 3600


def _describe(step: Callable[..., object]) -> str:
    inner = getattr(step, "func", step)  # functools.partial
    return str(getattr(inner, "__qualname__", None) or repr(inner))


async def watched(stage: str, step: Awaitable[_T], *, warn_after: float = SLOW_START_SECONDS) -> _T:
    """Await a start-up `step`; if it takes longer than `warn_after`, say so (once)."""

    async def warn() -> None:
        await asyncio.sleep(warn_after)
        log.warning("service.start_slow", stage=stage, seconds=warn_after)

    watchdog = asyncio.create_task(warn())
    try:
        return await step
    finally:
        watchdog.cancel()


def _dead_letters_beside(*tables: Table | None) -> Table | None:
    """The `dead_letters` table in the same models as the service's outbox or jobs table
    (every service declares one), so a service need not pass it separately."""
    for table in tables:
        if table is not None:
            for candidate in table.metadata.tables.values():
                if candidate.name == "dead_letters" and candidate.schema == table.schema:
                    return candidate
    return None


async def _through_outages(
    stage: str, step: Callable[[], Awaitable[None]], *, give_up_after: float = 120.0
) -> None:
    """A start-up step that needs the database: a database still starting, or too busy to
    answer a connect in time, is waited out (with backoff) instead of failing the start."""
    deadline = asyncio.get_running_loop().time() + give_up_after
    delay = 0.5
    while True:
        try:
            await watched(stage, step())
            return
        except Exception as exc:
            if not is_outage(exc) or asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("service.start_waits", stage=stage, error=repr(exc)[:200])
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        outbox: Table | None = None,
        jobs: Table | None = None,
        clock: Clock | None = None,
        dead_letters: Table | None = None,
    ) -> None:
        platform = settings.platform
        platform.check_production()
        self.settings = settings
        self.internal_key = platform.internal_key.get_secret_value().encode()
        self.db = Database(
            settings.effective_database_url,
            schema=settings.db_schema,
            application_name=f"pix-{settings.service_name}",
            pool_size=settings.db_pool_size,
        )
        letters = dead_letters if dead_letters is not None else _dead_letters_beside(outbox, jobs)
        self.dead_letters = DeadLetterStore(self.db, letters) if letters is not None else None
        self.broker: Broker = create_broker(
            platform.kafka_bootstrap,
            client_id=f"pix-{settings.service_name}",
            dead_letters=self.dead_letters,
        )
        self._storage: LocalStorage | S3Storage = open_storage(
            platform.storage_url,
            public_base=f"{platform.public_url.rstrip('/')}/api/media/storage",
            signing_key=self.internal_key,
        )
        # Readiness checks, filled by `create_app`; storage joins once the service takes it.
        self._checks: dict[str, Callable[[], Awaitable[None]]] = {}
        self._uses_storage = False
        self.relay = (
            OutboxRelay(
                self.db,
                outbox,
                self.broker,
                memory=BrokerMemory.of_schema(platform.kafka_bootstrap, settings.db_schema),
                prepare_broker=self._create_topics,
            )
            if outbox is not None
            else None
        )
        self.clock = clock or Clock()
        self._jobs = JobQueue(self.db, jobs, clock=self.clock) if jobs is not None else None
        self.metrics = ServiceMetrics(
            settings.service_name,
            self.db,
            outbox=outbox,
            dead_letters=letters,
            groups=lambda: subscribed_groups(self.broker.subscribers),
            bootstrap=platform.kafka_bootstrap,
        )
        self.operations = Operations(settings.service_name, self.metrics)
        self.current_identity = identity_dependency(self.internal_key)
        self._on_start: list[Callable[[], Awaitable[None]]] = []
        self._periodic: list[tuple[float, Callable[[], Awaitable[object]]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._joining: asyncio.Task[None] | None = None
        self._listening: asyncio.Task[None] | None = None
        if self.dead_letters is not None:
            self.every(DEAD_LETTER_RETENTION_SECONDS, self.purge_dead_letters)

    async def purge_dead_letters(self) -> int:
        """Retention of the service's dead letters (pix_runtime.dead_letters.DeadLetterStore)."""
        return await self.dead_letters.purge(self.clock.now()) if self.dead_letters else 0

    @property
    def storage(self) -> LocalStorage | S3Storage:
        """The service's object storage; a service that takes it is not ready without it."""
        if not self._uses_storage:
            self._uses_storage = True
            self._checks["storage"] = self.storage_ready
        return self._storage

    async def storage_ready(self) -> None:
        async with asyncio.timeout(STORAGE_CHECK_SECONDS):
            if isinstance(self._storage, LocalStorage) and not self._storage.root.is_dir():
                raise FileNotFoundError(self._storage.root)
            await self._storage.exists(STORAGE_PROBE_KEY)

    def on_start(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` once the database and broker are up (e.g. seed the first admin)."""
        self._on_start.append(hook)

    @property
    def jobs(self) -> JobQueue:
        """The service's job queue (`ServiceRuntime(..., jobs=models.jobs)`)."""
        if self._jobs is None:
            raise RuntimeError(f"{self.settings.service_name} has no jobs table")
        return self._jobs

    def every(
        self, seconds: float, job: Callable[[], Awaitable[object]], *, each_process: bool = False
    ) -> None:
        """Run `job` every `seconds` while the service runs (reconcilers, sweepers): a periodic
        job, once across all replicas, where the service has a jobs table. `each_process`: in
        every process instead (what refreshes a metric of the process's own state)."""
        if self._jobs is None or each_process:
            self._periodic.append((seconds, job))
            return

        async def periodic(ctx: JobContext) -> None:
            await job()

        self._jobs.every(f"periodic.{_describe(job)}", timedelta(seconds=seconds), periodic)

    async def _repeat(self, seconds: float, job: Callable[[], Awaitable[object]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception:
                log.warning("periodic.failed", job=_describe(job), exc_info=True)

    async def start(self) -> None:
        """Everything but the broker before HTTP answers; the broker is joined in the
        background (on a busy Kafka, or on Tansu after members left, a group join can take a
        while): `/readyz` says "broker: joining" until then, and the outbox relay starts once
        joined (events committed meanwhile wait in the outbox)."""
        self._joining = asyncio.create_task(self._join_broker(), name="broker-join")
        for hook in self._on_start:
            await _through_outages(_describe(hook), hook)
        if self._jobs is not None and self.settings.platform.run_jobs:
            await _through_outages("jobs", self._jobs.start)
        elif self._jobs is not None:
            log.info("jobs.not_run_here", service=self.settings.service_name)
        self._tasks = [asyncio.create_task(self._repeat(s, job)) for s, job in self._periodic]

    async def _join_broker(self) -> None:
        started = asyncio.get_running_loop().time()
        await watched("broker", self._connect_broker())
        if self.broker.doorbell.enabled:
            self.broker.doorbell.start(announce=self._announce_published)
            self._listening = asyncio.create_task(self._listen_for_published(), name="doorbell")
        if self.relay:
            self.relay.start()
        log.info("broker.joined", seconds=round(asyncio.get_running_loop().time() - started, 2))

    async def _announce_published(self, topics: list[str]) -> None:
        async with self.db.driver_connection() as driver:
            await driver.execute("SELECT pg_notify($1, $2)", DOORBELL_CHANNEL, ",".join(topics))

    async def _listen_for_published(self) -> None:
        """Wake this process's idle consumers when another process announces a publish. One
        connection of its own, held open; while it is down, consumers look for themselves
        every few seconds (the doorbell's poll)."""
        url = make_url(self.settings.effective_database_url).set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        doorbell = self.broker.doorbell

        def published(connection: object, pid: int, channel: str, payload: str) -> None:
            doorbell.wake(payload.split(","))

        delay = 1.0
        while True:
            try:
                connection = await asyncpg.connect(
                    dsn,
                    server_settings={"application_name": f"pix-{self.settings.service_name}"},
                )
                closed = asyncio.Event()
                connection.add_termination_listener(lambda _, closed=closed: closed.set())
                try:
                    await connection.add_listener(DOORBELL_CHANNEL, published)
                    delay = 1.0
                    await closed.wait()
                finally:
                    await connection.close(timeout=2)
            except Exception as exc:
                log.debug("doorbell.listen_failed", error=repr(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _create_topics(self) -> None:
        """For a broker that came back empty (the outbox relay notices it)."""
        platform = self.settings.platform
        if platform.kafka_create_topics:
            await create_topics(
                platform.kafka_bootstrap,
                replication_factor=platform.replication_factor,
                min_insync_replicas=platform.min_insync_replicas,
            )

    async def _connect_broker(self) -> None:
        platform = self.settings.platform
        bootstrap = platform.kafka_bootstrap
        delay = 0.5
        while True:
            try:
                if platform.kafka_create_topics:
                    await create_topics(
                        bootstrap,
                        replication_factor=platform.replication_factor,
                        min_insync_replicas=platform.min_insync_replicas,
                    )
                await self.broker.start()
                return
            except Exception as exc:
                # Unready, not dead: the broker may come later, and readiness says so.
                log.warning("broker.unreachable", bootstrap=bootstrap, error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, BROKER_RETRY_MAX_SECONDS)

    async def stop(self) -> None:
        if self._joining is not None and not self._joining.done():
            self._joining.cancel()
            await asyncio.gather(self._joining, return_exceptions=True)
        for task in (*self._tasks, self._listening):
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *self._tasks, *([self._listening] if self._listening else []), return_exceptions=True
        )
        await self.broker.doorbell.stop()
        if self._jobs is not None:
            await self._jobs.stop()
        if self.relay:
            await self.relay.stop()
        await self.metrics.close()
        await self.broker.stop()
        await self.db.dispose()

    async def broker_ready(self) -> None:
        if self._joining is None or not self._joining.done():
            raise ConnectionError("joining")
        if not await self.broker.ping(timeout=2.0):
            raise ConnectionError("broker unreachable")

    def create_app(self, *, title: str) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            await self.start()
            log.info("service.started", port=self.settings.port)
            try:
                yield
            finally:
                await self.stop()

        self._checks.update({"database": self.db.ping, "broker": self.broker_ready})
        if self._uses_storage:
            self._checks["storage"] = self.storage_ready
        app = create_base_app(title=title, lifespan=lifespan, checks=self._checks)
        app.state.internal_key = self.internal_key
        app.state.metrics = self.metrics
        app.state.operations = self.operations
        app.include_router(operations_router)
        if self._jobs is not None:
            app.state.job_board = JobBoard(self.db, self._jobs.table)
            app.include_router(jobs_router)
        if self.dead_letters is not None:
            app.state.dead_letter_board = DeadLetterBoard(self.dead_letters, self.broker)
            app.include_router(dead_letters_router)
        return app


def serve(
    app: FastAPI,
    settings: ServiceSettings,
    *,
    migrations_package: str | None,
    public: bool = False,
) -> None:
    """Entry point of a service process: logs, migrations, then HTTP until SIGINT/SIGTERM."""
    platform = settings.platform
    configure_logging(settings.service_name, json=platform.log_json, level=platform.log_level)
    if migrations_package and platform.migrate_on_start:
        asyncio.run(
            _through_outages(
                "migrations",
                functools.partial(
                    upgrade_to_head,
                    settings.effective_database_url,
                    migrations_package,
                    settings.db_schema,
                ),
            )
        )
        log.info("migrations.done", schema=settings.db_schema)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        # Only the gateway faces the ingress; the services learn the client's address from the
        # gateway's signed header, never from a forwarded-for they could be sent directly.
        proxy_headers=public and bool(platform.forwarded_allow_ips),
        forwarded_allow_ips=(platform.forwarded_allow_ips or None) if public else None,
        timeout_graceful_shutdown=10,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
