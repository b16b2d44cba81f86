"""Dead letters in the consuming service's own database, and replaying them to their group.

An event its handler could not take (after the bounded retries, or at once when malformed) is
recorded by the broker's `DeadLetterMiddleware` in the service's `dead_letters` table with its
consumer group, topic, key, payload, headers, error and attempts, and the partition moves on.
The table outlives the broker (Tansu keeps nothing across a restart), and a letter names the
group that failed, so a replay reaches that group only: the service calls that subscriber's
handler in-process with the stored record, through FastStream's own parsing and decoding — no
other subscriber of the topic sees the event again. A letter is replayed once: the replay holds
its row lock while the handler runs, and a successful one marks it `replayed`; a failed one
stays `open` with the new error and one more attempt. Admins list and replay letters through
`/admin/dead-letters` (`dead_letters_routes`), and `pix-stack dlq list|replay` calls that.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert

from pix_runtime.db import Database
from pix_runtime.errors import Conflict, NotFound
from pix_runtime.logging import bind_correlation_id, get_logger, new_correlation_id
from pix_runtime.outages import is_outage

log = get_logger(__name__)

ERROR_CHARS = 2000
# Retention of dead letters: settled ones (replayed, discarded) and open ones.
SETTLED_RETENTION = timedelta(days=30)
OPEN_RETENTION = timedelta(days=90)
TRACEBACK_CHARS = 8000


def dead_letters_table(metadata: MetaData) -> Table:
    """Dead letters kept in the consuming service's own database, so they outlive a broker
    that keeps nothing: what failed, in which group, why, and whether it was replayed."""
    table = Table(
        "dead_letters",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("consumer_group", String(200), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("event_id", String(100), nullable=True),
        Column("partition", Integer, nullable=True),
        Column("offset", BigInteger, nullable=True),
        Column("key", LargeBinary, nullable=True),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("error", Text, nullable=False),
        Column("traceback", Text, nullable=True),
        Column("attempts", Integer, nullable=False, server_default="1"),
        # open -> replayed (sent back to its group) | discarded (an operator gave up on it)
        Column("status", String(20), nullable=False, server_default="open"),
        Column(
            "first_failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()
        ),
        Column(
            "last_failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()
        ),
        Column("replayed_at", DateTime(timezone=True), nullable=True),
    )
    # One letter per event and group: a redelivered poison event updates its letter.
    Index(
        f"{table.name}_event",
        table.c.consumer_group,
        table.c.event_id,
        unique=True,
        postgresql_where=table.c.event_id.is_not(None),
    )
    Index(f"{table.name}_status", table.c.status, table.c.topic)
    return table


def describe_error(exc: BaseException) -> tuple[str, str]:
    """The error and its traceback as stored with a letter."""
    return repr(exc)[:ERROR_CHARS], "".join(traceback.format_exception(exc))[-TRACEBACK_CHARS:]


def event_id_of(payload: bytes, headers: dict[str, str]) -> str | None:
    """The event's id (CloudEvents `ce_id`, else the body's `event_id`); None when the event is
    too malformed to say, and then every delivery of it is a letter of its own."""
    found = headers.get("ce_id")
    if not found:
        try:
            body = json.loads(payload)
        except ValueError:
            return None
        found = body.get("event_id") if isinstance(body, dict) else None
    return str(found)[:100] if found else None


@dataclass(frozen=True)
class FailedEvent:
    """An event one consumer group gave up on, as the middleware records it."""

    consumer_group: str
    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    payload: bytes
    headers: dict[str, str]
    error: str
    traceback: str
    attempts: int

    @property
    def event_id(self) -> str | None:
        return event_id_of(self.payload, self.headers)


class DeadLetterView(BaseModel):
    """A dead letter as admins see it (key and payload as text, undecodable bytes replaced)."""

    id: int
    consumer_group: str
    topic: str
    event_id: str | None
    partition: int | None
    offset: int | None
    key: str | None
    payload: str
    headers: dict[str, str]
    error: str
    traceback: str | None
    attempts: int
    status: str
    first_failed_at: datetime
    last_failed_at: datetime
    replayed_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> DeadLetterView:
        values = dict(row)
        values["key"] = row["key"].decode(errors="replace") if row["key"] is not None else None
        values["payload"] = row["payload"].decode(errors="replace")
        return cls.model_validate(values)


class ReplayOutcome(BaseModel):
    id: int
    replayed: bool
    error: str | None = None


class ReplayReport(BaseModel):
    replayed: int
    failed: int
    outcomes: list[ReplayOutcome]


@dataclass
class DeadLetterStore:
    """The service's `dead_letters` table."""

    db: Database
    table: Table

    async def record(self, failed: FailedEvent) -> None:
        """Add the letter; the same event failing again in the same group updates its letter
        (one more round of attempts, the latest error, open again)."""
        t = self.table
        statement = insert(t).values(
            consumer_group=failed.consumer_group,
            topic=failed.topic,
            event_id=failed.event_id,
            partition=failed.partition,
            offset=failed.offset,
            key=failed.key,
            payload=failed.payload,
            headers=failed.headers,
            error=failed.error,
            traceback=failed.traceback,
            attempts=failed.attempts,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[t.c.consumer_group, t.c.event_id],
            index_where=t.c.event_id.is_not(None),
            set_={
                "partition": statement.excluded.partition,
                "offset": statement.excluded.offset,
                "error": statement.excluded.error,
                "traceback": statement.excluded.traceback,
                "attempts": t.c.attempts + statement.excluded.attempts,
                "status": "open",
                "last_failed_at": func.now(),
            },
        )
        async with self.db.transaction() as session:
            await session.execute(statement)

    async def find(
        self,
        *,
        status: str | None = "open",
        topic: str | None = None,
        group: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[DeadLetterView]:
        """Letters oldest first, from id `after` on."""
        t = self.table
        query = select(t).where(t.c.id > after).order_by(t.c.id).limit(limit)
        if status:
            query = query.where(t.c.status == status)
        if topic:
            query = query.where(t.c.topic == topic)
        if group:
            query = query.where(t.c.consumer_group == group)
        async with self.db.transaction() as session:
            rows = (await session.execute(query)).mappings().all()
        return [DeadLetterView.of(row) for row in rows]

    async def purge(
        self,
        now: datetime,
        *,
        settled: timedelta = SETTLED_RETENTION,
        unresolved: timedelta = OPEN_RETENTION,
    ) -> int:
        """Retention: letters replayed or discarded go after `settled`, open ones (nobody acted
        on them) after `unresolved`; their payloads hold whatever personal data the event had.
        Returns how many went."""
        t = self.table
        async with self.db.transaction() as session:
            gone = await session.execute(
                delete(t)
                .where(
                    or_(
                        and_(t.c.status != "open", t.c.last_failed_at < now - settled),
                        t.c.last_failed_at < now - unresolved,
                    )
                )
                .returning(t.c.id)
            )
            count = len(gone.all())
        if count:
            log.info("retention.dead_letters_deleted", count=count)
        return count

    async def discard(self, letter_id: int) -> None:
        """An operator gives up on an open letter."""
        t = self.table
        async with self.db.transaction() as session:
            status = await session.scalar(
                select(t.c.status).where(t.c.id == letter_id).with_for_update()
            )
            if status is None:
                raise NotFound("dead letter")
            if status != "open":
                raise Conflict("not_open", f"this dead letter is {status}")
            await session.execute(update(t).where(t.c.id == letter_id).values(status="discarded"))


def _record_of(row: Any) -> ConsumerRecord[bytes, bytes]:
    """The stored letter as the Kafka record its subscriber once received."""
    key: bytes | None = row["key"]
    payload: bytes = row["payload"]
    return ConsumerRecord(
        topic=row["topic"],
        partition=row["partition"] if row["partition"] is not None else 0,
        offset=row["offset"] if row["offset"] is not None else -1,
        timestamp=int(time.time() * 1000),
        timestamp_type=0,
        key=key,
        value=payload,
        checksum=None,
        serialized_key_size=len(key) if key is not None else -1,
        serialized_value_size=len(payload),
        headers=[(name, str(value).encode()) for name, value in row["headers"].items()],
    )


@dataclass
class DeadLetterBoard:
    """What admins do with dead letters: list them and replay them to the group that failed."""

    store: DeadLetterStore
    broker: KafkaBroker

    async def replay(self, letter_id: int) -> ReplayOutcome:
        t = self.store.table
        async with self.store.db.transaction() as session:
            # The row lock makes a replay happen once however many admins (or replicas) ask;
            # a crash mid-replay rolls back and leaves the letter open.
            row = (
                (
                    await session.execute(
                        select(t).where(t.c.id == letter_id).with_for_update(skip_locked=True)
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                if await session.scalar(select(t.c.id).where(t.c.id == letter_id)) is None:
                    raise NotFound("dead letter")
                raise Conflict("replay_running", "this dead letter is being replayed right now")
            if row["status"] != "open":
                raise Conflict("not_open", f"this dead letter is {row['status']}")
            headers: dict[str, str] = row["headers"]
            bind_correlation_id(headers.get("correlation_id") or new_correlation_id())
            try:
                await self._deliver(row)
            except Exception as exc:
                if is_outage(exc):
                    raise  # not the event's fault: the letter stays as it was (API: 503)
                error, trace = describe_error(exc)
                await session.execute(
                    update(t)
                    .where(t.c.id == letter_id)
                    .values(
                        error=error,
                        traceback=trace,
                        attempts=t.c.attempts + 1,
                        last_failed_at=func.now(),
                    )
                )
                log.warning("dead_letter.replay_failed", letter_id=letter_id, error=error)
                return ReplayOutcome(id=letter_id, replayed=False, error=error)
            await session.execute(
                update(t)
                .where(t.c.id == letter_id)
                .values(status="replayed", replayed_at=func.now())
            )
        log.info(
            "dead_letter.replayed",
            letter_id=letter_id,
            topic=row["topic"],
            group=row["consumer_group"],
        )
        return ReplayOutcome(id=letter_id, replayed=True)

    async def replay_all(
        self, *, topic: str | None = None, group: str | None = None
    ) -> ReplayReport:
        """Replay every open letter (of `topic` / `group`), oldest first, one at a time."""
        outcomes: list[ReplayOutcome] = []
        after = 0
        while letters := await self.store.find(topic=topic, group=group, after=after):
            for letter in letters:
                try:
                    outcomes.append(await self.replay(letter.id))
                except (Conflict, NotFound) as exc:
                    # Replayed or discarded meanwhile, or being replayed by another request.
                    outcomes.append(ReplayOutcome(id=letter.id, replayed=False, error=exc.message))
            after = letters[-1].id
        replayed = sum(outcome.replayed for outcome in outcomes)
        return ReplayReport(replayed=replayed, failed=len(outcomes) - replayed, outcomes=outcomes)

    async def _deliver(self, row: Any) -> None:
        """Run the stored record through the handler of the group that failed, and only it.

        FastStream's handler item parses and decodes it as a delivery from the broker would
        (so the handler gets the same typed event), without the acknowledgement middleware:
        no offset of the live consumer is touched.
        """
        group, topic = row["consumer_group"], row["topic"]
        for subscriber in self.broker.subscribers:
            topics = [getattr(t, "name", t) for t in getattr(subscriber, "topics", ())]
            if getattr(subscriber, "group_id", None) != group or topic not in topics:
                continue
            record = _record_of(row)
            cache: dict[Any, Any] = {}
            for call in subscriber.calls:
                message = await call.is_suitable(record, cache)
                if message is not None:
                    await call.call(message=message, _extra_middlewares=())
                    return
        raise Conflict(
            "no_subscriber", f"this service has no subscriber in group {group} for {topic}"
        )
