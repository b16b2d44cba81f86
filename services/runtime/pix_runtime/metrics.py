"""The figures an operator watches, beside the request and job metrics.

- outbox: rows not yet published, the oldest one's age, and rows parked after the broker
  refused them (`pix_outbox_*{service}`);
- dead letters still open, per consumer group and source topic (`pix_dead_letters_open`);
- consumer lag of every group the service consumes, per topic: the partitions' end offsets
  minus the group's committed offsets (`pix_consumer_lag`);
- queue depth of a service's own work queue in its database (`pix_queue_depth`, e.g. media's
  photos waiting to be processed), registered by the service with `count_waiting`;
- deliveries to the outside world by channel and outcome (`pix_deliveries_total`, e.g. email
  `sent`/`retrying`/`failed`, webhook `delivered`/`retrying`/`failed`), counted where they
  happen.

Nothing here runs on its own schedule: the figures are read when Prometheus scrapes `/metrics`
(a few indexed counts and two Kafka requests per group), at most once per `REFRESH_SECONDS`
per process, and a scrape waits for a refresh at most `SCRAPE_WAIT_SECONDS` before it answers
with the figures of the previous one. Each replica reports the same values for its schema and
groups; a dashboard takes the `max` over instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Counter, Gauge
from sqlalchemy import ColumnElement, Table, func, select

from pix_runtime.db import Database
from pix_runtime.logging import get_logger

log = get_logger(__name__)

REFRESH_SECONDS = 10.0
SCRAPE_WAIT_SECONDS = 3.0
KAFKA_TIMEOUT_SECONDS = 10.0
# The outbox relay's limit (`pix_runtime.outbox.PARK_AFTER_ATTEMPTS`), repeated to keep this
# module free of the relay's imports.
PARKED_AFTER_ATTEMPTS = 5

OUTBOX_BACKLOG = Gauge(
    "pix_outbox_backlog", "Outbox rows committed but not yet published", ["service"]
)
OUTBOX_OLDEST = Gauge(
    "pix_outbox_oldest_unpublished_seconds",
    "Age of the oldest unpublished outbox row (0 when none waits)",
    ["service"],
)
OUTBOX_PARKED = Gauge(
    "pix_outbox_parked",
    "Outbox rows the broker refused too often, left for an operator",
    ["service"],
)
DEAD_LETTERS_OPEN = Gauge(
    "pix_dead_letters_open",
    "Dead letters neither replayed nor discarded",
    ["service", "group", "topic"],
)
CONSUMER_LAG = Gauge(
    "pix_consumer_lag",
    "Records behind the end of the topic's partitions, summed, for a consumer group",
    ["service", "group", "topic"],
)
QUEUE_DEPTH = Gauge(
    "pix_queue_depth", "Items waiting in a service's own work queue", ["service", "queue"]
)
QUEUE_OLDEST = Gauge(
    "pix_queue_oldest_seconds",
    "How long the oldest waiting item of a service's work queue has waited",
    ["service", "queue"],
)
DELIVERIES = Counter(
    "pix_deliveries_total",
    "Attempts to deliver to the outside world (email, webhooks) by outcome",
    ["channel", "outcome"],
)
METRICS_REFRESH_FAILURES = Counter(
    "pix_metrics_refresh_failures_total",
    "Refreshes of the scraped figures that failed (the previous values stay)",
    ["service", "source"],
)


def count_delivery(channel: str, outcome: str) -> None:
    """One delivery attempt's outcome (`email`/`sent`, `webhook`/`failed`, ...)."""
    DELIVERIES.labels(channel, outcome).inc()


class _LabelledValues:
    """Sets a gauge's children from one reading; children seen before and missing now go to
    0 rather than vanish, so a resolved backlog shows as a drop, not as a gap."""

    def __init__(self, gauge: Gauge) -> None:
        self._gauge = gauge
        self._seen: set[tuple[str, ...]] = set()

    def update(self, values: dict[tuple[str, ...], float]) -> None:
        for labels in self._seen - values.keys():
            self._gauge.labels(*labels).set(0)
        for labels, value in values.items():
            self._gauge.labels(*labels).set(value)
        self._seen |= values.keys()


@dataclass(frozen=True)
class _WaitingRows:
    queue: str
    table: Table
    waiting: ColumnElement[bool]
    since: Any


class ConsumerLag:
    """The lag of consumer groups: end offsets (a consumer without a group) minus committed
    offsets (the admin client's OffsetFetch), public aiokafka APIs only. The clients stay
    connected between scrapes and are closed with the service."""

    def __init__(self, bootstrap: str, *, client_id: str) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self._bootstrap, client_id=f"{self._client_id}-lag"
            )
            await admin.start()
            self._admin = admin
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                client_id=f"{self._client_id}-lag",
                group_id=None,
                enable_auto_commit=False,
            )
            await consumer.start()
            self._consumer = consumer
        return self._admin, self._consumer

    async def read(self, groups: dict[str, set[str]]) -> dict[tuple[str, str], int]:
        """{(group, topic): lag} for `groups` ({group: its topics})."""
        if not groups:
            return {}
        try:
            async with asyncio.timeout(KAFKA_TIMEOUT_SECONDS):
                return await self._read(groups)
        except BaseException:
            # A broker that went away leaves clients that wait forever: start afresh.
            await self.close()
            raise

    async def _read(self, groups: dict[str, set[str]]) -> dict[tuple[str, str], int]:
        admin, consumer = await self._clients()
        topics = set().union(*groups.values())
        partitions: list[TopicPartition] = []
        # Every topic's metadata, never named ones: asking for a topic by name makes a broker
        # that auto-creates topics (Tansu, right after a restart) create it, with its default
        # partitions, before the relay recreates it as declared.
        for described in await admin.describe_topics(None):
            name = described["topic"]
            if name in topics and not described.get("error_code"):
                partitions += [
                    TopicPartition(name, p["partition"]) for p in described["partitions"]
                ]
        if not partitions:
            return {}
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        starts: dict[TopicPartition, int] | None = None
        lags: dict[tuple[str, str], int] = {}
        for group, group_topics in sorted(groups.items()):
            owned = [tp for tp in partitions if tp.topic in group_topics]
            if not owned:
                continue
            committed = await admin.list_consumer_group_offsets(group, partitions=owned)
            for tp in owned:
                offset = committed[tp].offset if tp in committed else -1
                if offset < 0:
                    # Nothing committed yet: the group starts at the earliest record.
                    if starts is None:
                        starts = await consumer.beginning_offsets(partitions)
                    offset = starts[tp]
                behind = max(0, ends[tp] - offset)
                lags[(group, tp.topic)] = lags.get((group, tp.topic), 0) + behind
        return lags

    async def close(self) -> None:
        admin, consumer = self._admin, self._consumer
        self._admin = self._consumer = None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()


def subscribed_groups(subscribers: Iterable[Any]) -> dict[str, set[str]]:
    """{group: topics} of a FastStream broker's subscribers (those with a group)."""
    groups: dict[str, set[str]] = {}
    for subscriber in subscribers:
        group = getattr(subscriber, "group_id", None)
        topics = getattr(subscriber, "topic_names_for_subscribe", None) or []
        if group:
            groups.setdefault(str(group), set()).update(str(t) for t in topics)
    return groups


class ServiceMetrics:
    """The scraped figures of one service (`runtime.metrics`): refreshed by `/metrics`."""

    def __init__(
        self,
        service: str,
        db: Database,
        *,
        outbox: Table | None = None,
        dead_letters: Table | None = None,
        groups: Callable[[], dict[str, set[str]]] | None = None,
        bootstrap: str | None = None,
    ) -> None:
        self._service = service
        self._db = db
        self._outbox = outbox
        self._dead_letters = dead_letters
        self._groups = groups
        self._lag = ConsumerLag(bootstrap, client_id=f"pix-{service}") if bootstrap else None
        self._waiting: list[_WaitingRows] = []
        self._letters = _LabelledValues(DEAD_LETTERS_OPEN)
        self._lags = _LabelledValues(CONSUMER_LAG)
        self._refreshed_at = float("-inf")
        self._refreshing: asyncio.Task[None] | None = None
        # The last readings, for the operations page: (unpublished, oldest seconds, parked)
        # and {(group, topic): lag}; None until read.
        self.outbox_reading: tuple[int, float, int] | None = None
        self.lag_reading: dict[tuple[str, str], int] | None = None

    def count_waiting(
        self, queue: str, table: Table, waiting: ColumnElement[bool], *, since: Any = None
    ) -> None:
        """Report rows of `table` matching `waiting` as `pix_queue_depth{queue}` (and, given a
        timestamp column `since`, the oldest one's wait as `pix_queue_oldest_seconds`)."""
        self._waiting.append(_WaitingRows(queue, table, waiting, since))

    async def refresh(self) -> None:
        """Called by `/metrics`: read the figures if the last reading is older than
        `REFRESH_SECONDS`, waiting for it at most `SCRAPE_WAIT_SECONDS`."""
        if self._refreshing is None or self._refreshing.done():
            if time.monotonic() - self._refreshed_at < REFRESH_SECONDS:
                return
            self._refreshed_at = time.monotonic()
            self._refreshing = asyncio.create_task(self._read_all(), name="metrics-refresh")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._refreshing), SCRAPE_WAIT_SECONDS)

    async def close(self) -> None:
        if self._refreshing is not None and not self._refreshing.done():
            self._refreshing.cancel()
            with contextlib.suppress(BaseException):
                await self._refreshing
        if self._lag is not None:
            await self._lag.close()

    async def _read_all(self) -> None:
        await asyncio.gather(
            self._guarded("database", self.read_database()),
            self._guarded("broker", self.read_lag()),
        )

    async def _guarded(self, source: str, reading: Awaitable[None]) -> None:
        try:
            await reading
        except Exception as exc:
            METRICS_REFRESH_FAILURES.labels(self._service, source).inc()
            log.warning("metrics.refresh_failed", source=source, error=repr(exc)[:300])

    async def read_database(self) -> None:
        """Outbox, dead letters and work queues, in one short transaction."""
        service = self._service
        async with self._db.transaction() as session:
            if (t := self._outbox) is not None:
                unpublished = t.c.published_at.is_(None)
                row = (
                    await session.execute(
                        select(
                            func.count(),
                            func.extract("epoch", func.now() - func.min(t.c.created_at)),
                            func.count().filter(t.c.attempts >= PARKED_AFTER_ATTEMPTS),
                        ).where(unpublished)
                    )
                ).one()
                OUTBOX_BACKLOG.labels(service).set(row[0])
                OUTBOX_OLDEST.labels(service).set(max(float(row[1] or 0), 0.0))
                OUTBOX_PARKED.labels(service).set(row[2])
                self.outbox_reading = (int(row[0]), max(float(row[1] or 0), 0.0), int(row[2]))
            if (d := self._dead_letters) is not None:
                letters = await session.execute(
                    select(d.c.consumer_group, d.c.topic, func.count())
                    .where(d.c.status == "open")
                    .group_by(d.c.consumer_group, d.c.topic)
                )
                self._letters.update({(service, g, tp): n for g, tp, n in letters.all()})
            for queue in self._waiting:
                columns: list[Any] = [func.count()]
                if queue.since is not None:
                    columns.append(func.extract("epoch", func.now() - func.min(queue.since)))
                row = (
                    await session.execute(
                        select(*columns).select_from(queue.table).where(queue.waiting)
                    )
                ).one()
                QUEUE_DEPTH.labels(service, queue.queue).set(row[0])
                if queue.since is not None:
                    QUEUE_OLDEST.labels(service, queue.queue).set(max(float(row[1] or 0), 0.0))

    async def read_lag(self) -> None:
        if self._lag is None or self._groups is None:
            return
        lags = await self._lag.read(self._groups())
        self.lag_reading = lags
        self._lags.update({(self._service, g, tp): n for (g, tp), n in lags.items()})
