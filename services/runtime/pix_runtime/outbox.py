"""The transactional outbox: events commit with the state change, a relay publishes them.

`enqueue` adds the row inside the caller's transaction; nothing reaches the broker before that
transaction commits. The relay wakes right after such a commit (in-process hook) and otherwise
polls, which is also the sweeper: a row left unpublished by a crash between commit and publish,
or by a broker outage, is published on the next pass. Delivery is at-least-once; consumers
deduplicate on the event id (see `inbox`).

Nothing depends on the broker remembering. Sent rows stay for a replay window (24 h,
`PIX_OUTBOX_REPLAY_HOURS`), and the relay leaves a mark in the broker (`BrokerMemory`: an
offset committed for the group `pix-outbox.<schema>`). A broker that lost its data lost the
mark too: when the relay finds it missing (at start, after a failed publish, and at most a
second after the last look), it recreates the topics, turns every row sent within the window
back into a pending one and sets the mark; the rows then go out again in commit order, before
anything newer. Consumers are idempotent, so a replay to a broker that did keep them (the mark
expired, the first start against a broker) only costs the traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import aiokafka.errors
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import OffsetAndMetadata, TopicPartition
from pix_contracts import TOPICS, Event, cloudevent_headers
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    any_,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from pix_runtime.db import WAKE_AFTER_COMMIT, Database, DriverStatement
from pix_runtime.logging import current_correlation_id, get_logger
from pix_runtime.outages import is_outage

log = get_logger(__name__)
# A row the broker refuses this often is left aside (still in the table, for an operator).
PARK_AFTER_ATTEMPTS = 5
# How often the relay looks for its mark in the broker while all goes well.
MEMORY_CHECK_SECONDS = 1.0
MEMORY_TIMEOUT_SECONDS = 10.0
RETRY_FIRST_SECONDS = 0.05


class OutboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_OUTBOX_", extra="ignore")

    # Sent events published again when the broker comes back empty.
    replay_hours: float = 24.0


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", LargeBinary, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True, index=True),
        Column("attempts", Integer, nullable=False, server_default="0"),
    )


class Publisher(Protocol):
    async def publish(
        self,
        message: Any,
        topic: str,
        *,
        key: bytes,
        headers: dict[str, str],
        no_confirm: bool = False,
    ) -> Any:
        """With `no_confirm`, returns the broker's acknowledgement to await (a future)."""


def outbox_values(
    event: Event, *, source: str, correlation_id: str | None = None
) -> dict[str, Any]:
    """The outbox row of `event`, for callers that insert it as part of a larger statement;
    `correlation_id` is the current request's unless given.

    Whoever inserts it must also set `session.info[WAKE_AFTER_COMMIT]`, as `enqueue` does.
    """
    return {
        "event_id": event.event_id,
        "topic": event.topic,
        "key": event.partition_key(),
        "payload": event.model_dump_json().encode(),
        "headers": cloudevent_headers(
            event, source=source, correlation_id=correlation_id or current_correlation_id()
        ),
    }


async def enqueue(session: AsyncSession, table: Table, event: Event, *, source: str) -> None:
    """Record `event` for publishing once the surrounding transaction commits."""
    # The statement itself is the same each time and the values its parameters: built with
    # `.values(...)` per call, its cache key cost more CPU than the insert.
    await session.execute(table.insert(), outbox_values(event, source=source))
    session.info[WAKE_AFTER_COMMIT] = True


async def enqueue_events(
    session: AsyncSession,
    table: Table,
    events: Sequence[tuple[Event, str | None]],
    *,
    source: str,
) -> None:
    """`enqueue` for several events, each with the correlation id of the request it belongs to
    (None: the current one), in one statement."""
    if events:
        rows = [outbox_values(e, source=source, correlation_id=cid) for e, cid in events]
        await session.execute(table.insert(), rows)
        session.info[WAKE_AFTER_COMMIT] = True


def driver_enqueue(table: Table) -> DriverStatement:
    """`enqueue` for a `Database.driver_transaction(wake_after_commit=True)`: run it with
    `outbox_values(event, source=...)`."""
    return DriverStatement(
        table.insert().inline(), columns=["event_id", "topic", "key", "payload", "headers"]
    )


def _refused_the_row(error: Exception) -> bool:
    """Whether the broker refused this row itself (too large, an invalid topic), as opposed to
    failing for a while. Kafka's "unknown server error" is the broker's own trouble: Tansu
    answers it for a few produce requests right after a restart."""
    if isinstance(error, aiokafka.errors.UnknownError):
        return False
    return not getattr(error, "retriable", True)


class BrokerMemory:
    """The relay's mark in the broker: an offset committed for the consumer group
    `pix-outbox.<schema>` on partition 0 of `topic`. It needs no topic of its own (nor the
    right to create one), and lives and dies with the broker's data. The group never joins."""

    def __init__(self, bootstrap: str, *, group: str, topic: str) -> None:
        self._bootstrap = bootstrap
        self._group = group
        self._partition = TopicPartition(topic, 0)
        self._consumer: AIOKafkaConsumer | None = None

    async def _connected(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=self._group,
                enable_auto_commit=False,
                client_id=self._group,
            )
            await consumer.start()
            consumer.assign([self._partition])
            # Only the group's committed offset is read and written, never a record: paused,
            # the consumer sends no fetches (aiokafka fetches assigned partitions on its own,
            # two a second on Tansu, for each service's relay).
            consumer.pause(self._partition)
            self._consumer = consumer
        return self._consumer

    async def remembers(self) -> bool:
        # Bounded: while the broker is away aiokafka would keep looking for the coordinator.
        async with asyncio.timeout(MEMORY_TIMEOUT_SECONDS):
            consumer = await self._connected()
            return await consumer.committed(self._partition) is not None

    async def remember(self) -> None:
        async with asyncio.timeout(MEMORY_TIMEOUT_SECONDS):
            consumer = await self._connected()
            await consumer.commit({self._partition: OffsetAndMetadata(0, "pix-outbox")})

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    @classmethod
    def of_schema(cls, bootstrap: str, schema: str) -> BrokerMemory:
        """The mark of the outbox in `schema`, on the first declared topic (every service
        creates them all)."""
        return cls(bootstrap, group=f"pix-outbox.{schema}", topic=next(iter(TOPICS)))


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        table: Table,
        broker: Publisher,
        *,
        poll_seconds: float = 2.0,
        batch_size: int = 200,
        keep_published: timedelta = timedelta(days=7),
        memory: BrokerMemory | None = None,
        replay_window: timedelta | None = None,
        prepare_broker: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._db = db
        self._table = table
        self._broker = broker
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._memory = memory
        self._replay_window = replay_window or timedelta(hours=OutboxSettings().replay_hours)
        # Sent rows must outlive the window in which they may be replayed.
        self._keep_published = max(keep_published, self._replay_window)
        # A new broker has none of our topics (or auto-created ones with a single partition).
        self._prepare_broker = prepare_broker
        self._checked_at = float("-inf")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        db.on_commit(self.wake)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._memory is not None:
            await self._memory.close()

    async def check_broker(self) -> int:
        """If the broker lost our mark (and so our events), queue every row sent within the
        replay window again; returns how many. Done before the next batch goes out, so the
        replayed rows keep their place before newer ones."""
        if self._memory is None or await self._memory.remembers():
            self._checked_at = time.monotonic()
            return 0
        if self._prepare_broker is not None:
            await self._prepare_broker()
        replayed = await self.requeue_sent(since=datetime.now(UTC) - self._replay_window)
        await self._memory.remember()
        self._checked_at = time.monotonic()
        log.warning("outbox.new_broker", replayed=replayed)
        return replayed

    async def requeue_sent(self, *, since: datetime) -> int:
        """Make every row sent since `since` pending again (it goes out on the next pass)."""
        t = self._table
        async with self._db.transaction() as session:
            result = await session.execute(
                update(t)
                .where(t.c.published_at >= since)
                .values(published_at=None)
                .returning(t.c.id)
            )
            return len(result.all())

    async def _run(self) -> None:
        last_cleanup = datetime.now(UTC)
        failures = 0
        while True:
            # Not `wait_for`: on 3.11 it can swallow a cancel that arrives as the wake fires.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_seconds):
                    await self._wake.wait()
            self._wake.clear()
            try:
                if time.monotonic() - self._checked_at >= MEMORY_CHECK_SECONDS:
                    await self.check_broker()
                while await self.publish_pending() == self._batch_size:
                    pass
                if datetime.now(UTC) - last_cleanup > timedelta(hours=1):
                    await self.delete_published()
                    last_cleanup = datetime.now(UTC)
                failures = 0
            except Exception as exc:
                # Broker or database away: the rows stay and the next pass retries them, after
                # looking whether the broker that comes back is a new one.
                # A broker that just came back empty refuses some produce requests with an
                # unknown server error (Tansu: one request per record written before its
                # topics were created again); each retry gets one further, so it goes at once.
                server_error = isinstance(exc, aiokafka.errors.UnknownError)
                if is_outage(exc) or server_error:
                    log.warning("outbox.waiting_for_infrastructure", error=repr(exc)[:300])
                else:
                    log.warning("outbox.relay_failed", exc_info=True)
                self._checked_at = float("-inf")
                failures = 0 if server_error else failures + 1
                await asyncio.sleep(min(self._poll_seconds, RETRY_FIRST_SECONDS * 2**failures))
                self._wake.set()

    async def publish_pending(self) -> int:
        """Publish a batch of unpublished rows in commit order; returns how many."""
        t = self._table
        async with self._db.transaction() as session:
            # One relay per table at a time (several caption workers share a schema): two
            # relays on disjoint batches could publish one gallery's events out of order.
            if not await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(hashtext(:name))"),
                {"name": f"{t.schema}.{t.name}"},
            ):
                return 0
            rows = (await session.execute(_pending(t), {"limit": self._batch_size})).all()
            published, error = await self._send(rows)
            # Mark what went out even though a later row failed, so it is not sent again.
            if published:
                await session.execute(_mark_published(t), {"ids": published})
            if error is not None and _refused_the_row(error):
                # The broker refused this row itself (too large, unknown topic): count it, and
                # after a few refusals park it so it stops holding up every later event.
                failed = rows[len(published)]
                attempts = await session.scalar(
                    update(t)
                    .where(t.c.id == failed.id)
                    .values(attempts=t.c.attempts + 1)
                    .returning(t.c.attempts)
                )
                if attempts is not None and attempts >= PARK_AFTER_ATTEMPTS:
                    log.error(
                        "outbox.row_parked", row_id=failed.id, topic=failed.topic, error=repr(error)
                    )
        if error is not None:
            raise error
        if published:
            log.debug("outbox.published", count=len(published))
        return len(rows)

    async def _send(self, rows: Sequence[Any]) -> tuple[list[int], Exception | None]:
        """Hand every row to the producer first, then wait for the broker's acknowledgements:
        one round trip for the batch, not one per row (the producer keeps a partition's rows
        in order). Returns the rows acknowledged before the first failure, and that failure."""
        sent: list[Any] = []
        error: Exception | None = None
        for row in rows:
            try:
                sent.append(
                    await self._broker.publish(
                        row.payload,
                        row.topic,
                        key=row.key,
                        headers=dict(row.headers),
                        no_confirm=True,
                    )
                )
            except Exception as exc:
                error = exc
                break
        # Every acknowledgement is awaited (none left unretrieved), then read in order.
        outcomes = await asyncio.gather(*map(_acknowledged, sent), return_exceptions=True)
        published: list[int] = []
        for row, outcome in zip(rows, outcomes, strict=False):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome
                return published, outcome
            published.append(row.id)
        return published, error

    async def delete_published(self) -> int:
        """Retention: sent rows go after their window (at least the replay window)."""
        t = self._table
        cutoff = datetime.now(UTC) - self._keep_published
        async with self._db.transaction() as session:
            gone = await session.execute(
                delete(t).where(t.c.published_at < cutoff).returning(t.c.id)
            )
            count = len(gone.all())
        if count:
            log.info("retention.outbox_deleted", count=count)
        return count


async def _acknowledged(sent: Any) -> None:
    """A producer's acknowledgement (a future), or nothing to wait for (already sent)."""
    if inspect.isawaitable(sent):
        await sent


@functools.cache
def _pending(table: Table) -> Any:
    t = table
    return (
        select(t.c.id, t.c.topic, t.c.key, t.c.payload, t.c.headers)
        .where(t.c.published_at.is_(None), t.c.attempts < PARK_AFTER_ATTEMPTS)
        .order_by(t.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )


@functools.cache
def _mark_published(table: Table) -> Any:
    """Built once per table: the ids are a parameter (an array), not part of the statement."""
    ids = bindparam("ids", type_=ARRAY(BigInteger))
    return update(table).where(table.c.id == any_(ids)).values(published_at=func.now())


def decode_payload(payload: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(payload)
    return data
