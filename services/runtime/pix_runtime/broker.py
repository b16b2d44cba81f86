"""The Kafka broker every service uses: FastStream over aiokafka, with our delivery rules.

- Offsets commit only after the handler (and so its transaction) finished: at-least-once.
- A failing handler is retried a bounded number of times with backoff, then the event becomes a
  dead letter in the consuming service's own database (`pix_runtime.dead_letters`: group,
  topic, key, payload, headers, error, attempts) and the partition moves on. A malformed event
  (not JSON, wrong fields) becomes one at once. If even the letter cannot be written, the
  message is not acknowledged and is read again. The letter is also announced on
  `<topic>.dlq` (headers `dlq_*`, `dlq_group` naming the group) for whoever watches the broker;
  that is only a notification, best effort: a broker that keeps nothing loses it, and replays
  come from the database, to the failed group only (`pix_runtime.dead_letters`).
- An outage of our own infrastructure (`pix_runtime.outages`: the database, the broker, object
  storage unreachable or restarting) is not the event's fault: the handler is retried until it
  is back (backoff up to 30 s), so a database restart leaves no dead letters.
- Every event's correlation id is bound to the log context while it is handled.
- A header value that is not UTF-8 is decoded with replacement characters instead of making
  FastStream drop the record unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy, BaseMiddleware, ContextRepo
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from pix_contracts import TOPICS, Event
from pix_contracts.topics import DEAD_LETTER_SUFFIX
from pydantic import ValidationError

from pix_runtime.dead_letters import DeadLetterStore, FailedEvent, describe_error
from pix_runtime.logging import bind_correlation_id, get_logger, new_correlation_id
from pix_runtime.outages import is_outage

log = get_logger(__name__)

E = TypeVar("E", bound=Event)

# How long a fetch waits for data. Kafka answers as soon as data arrives, so its default of
# 500 ms costs no latency; Tansu answers only when the wait runs out, so `make run` sets 20 ms.
FETCH_MAX_WAIT_MS = int(os.environ.get("PIX_KAFKA_FETCH_MAX_WAIT_MS", "500"))
RETRY_DELAYS_SECONDS = (0.2, 1.0, 3.0)
# With short fetch waits (a broker like Tansu that does not end a long poll when data arrives),
# an idle consumer pauses its partitions and sends no fetches; a published event wakes it (the
# `Doorbell` below), and it looks for itself every this many seconds in case no bell reached it.
# 0: never pause (Kafka's long polls cost nothing while idle).
IDLE_POLL_SECONDS = float(
    os.environ.get("PIX_KAFKA_IDLE_POLL_SECONDS", "3" if FETCH_MAX_WAIT_MS < 100 else "0")
)


OUTAGE_RETRY_MAX_SECONDS = 30.0


class DeadLetterMiddleware(BaseMiddleware):
    """Bounded retries, then a dead letter in the service's database; never a crash loop on a
    poison event, never a dead letter for an outage."""

    def __init__(
        self,
        msg: Any,
        /,
        *,
        context: ContextRepo,
        broker: KafkaBroker,
        store: DeadLetterStore | None,
        retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS,
        outage_retry_max: float = OUTAGE_RETRY_MAX_SECONDS,
        doorbell: Doorbell | None = None,
    ) -> None:
        super().__init__(msg, context=context)
        self._broker = broker
        self._store = store
        self._doorbell = doorbell
        self._retry_delays = retry_delays or (0.2,)
        self._outage_retry_max = outage_retry_max

    async def _wait_out(self, outages: int, topic: str, exc: BaseException) -> None:
        log.warning(
            "event.waiting_for_infrastructure",
            topic=topic,
            outage_retries=outages + 1,
            error=repr(exc),
        )
        await asyncio.sleep(min(self._outage_retry_max, self._retry_delays[0] * 2**outages))

    async def publish_scope(self, call_next: Callable[[Any], Awaitable[Any]], cmd: Any) -> Any:
        result = await call_next(cmd)
        if self._doorbell is not None:
            self._doorbell.ring(str(cmd.destination))
        return result

    async def consume_scope(
        self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        if self._doorbell is None:
            return await self._consume(call_next, msg)
        subscriber = self.context.get_local("handler_")
        with self._doorbell.busy(subscriber):
            return await self._consume(call_next, msg)

    async def _consume(
        self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        headers = {k: v for k, v in msg.headers.items() if isinstance(v, str)}
        bind_correlation_id(headers.get("correlation_id") or new_correlation_id())
        topic = getattr(msg.raw_message, "topic", "?")
        attempt = outages = 0
        while True:
            try:
                return await call_next(msg)
            except ValidationError as exc:
                await self._dead_letter(topic, msg, headers, exc, attempts=attempt + 1)
                return None
            except Exception as exc:
                if is_outage(exc):
                    await self._wait_out(outages, topic, exc)
                    outages += 1
                    continue
                if attempt >= len(self._retry_delays):
                    await self._dead_letter(topic, msg, headers, exc, attempts=attempt + 1)
                    return None
                log.warning("event.retry", topic=topic, attempt=attempt + 1, error=repr(exc))
                await asyncio.sleep(self._retry_delays[attempt])
                attempt += 1

    async def _dead_letter(
        self,
        topic: str,
        msg: StreamMessage[Any],
        headers: dict[str, str],
        exc: BaseException,
        *,
        attempts: int,
    ) -> None:
        # The subscriber handling this message, so the letter names the group that failed.
        subscriber = self.context.get_local("handler_")
        group = str(getattr(subscriber, "group_id", None) or "?")
        raw = getattr(msg.raw_message, "value", None)
        error, trace = describe_error(exc)
        failed = FailedEvent(
            consumer_group=group,
            topic=topic,
            partition=getattr(msg.raw_message, "partition", None),
            offset=getattr(msg.raw_message, "offset", None),
            key=getattr(msg.raw_message, "key", None),
            payload=raw if isinstance(raw, bytes) else msg.body,
            headers=headers,
            error=error,
            traceback=trace,
            attempts=attempts,
        )
        log.error("event.dead_lettered", topic=topic, group=group, attempts=attempts, error=error)
        if self._store is None:
            # A broker without a database (a tool, a test): the topic is all there is.
            await self._announce(failed)
            return
        outages = 0
        while True:
            try:
                await self._store.record(failed)
                break
            except Exception as record_error:
                if not is_outage(record_error):
                    raise  # not acknowledged: the event is read again
                await self._wait_out(outages, topic, record_error)
                outages += 1
        try:
            await self._announce(failed)
        except Exception:
            log.warning("event.dead_letter_not_announced", topic=topic, exc_info=True)

    async def _announce(self, failed: FailedEvent) -> None:
        await self._broker.publish(
            failed.payload,
            failed.topic + DEAD_LETTER_SUFFIX,
            key=failed.key,
            headers={
                **failed.headers,
                "dlq_error": failed.error,
                "dlq_traceback": failed.traceback[-4000:],
                "dlq_attempts": str(failed.attempts),
                "dlq_group": failed.consumer_group,
                "dlq_source_topic": failed.topic,
                "dlq_source_partition": str(failed.partition),
                "dlq_source_offset": str(failed.offset),
            },
        )


class Broker(KafkaBroker):
    """FastStream's Kafka broker, starting its subscribers side by side.

    Each subscriber's consumer waits for its group assignment on start (~5 s on Tansu). One
    after another, a service with six subscriptions would need half a minute to come up.

    FastStream starts them one after another (`BrokerUsecase.start`, whose TODO says it will
    change; the same start-up cost is reported upstream as calf-ai/calfkit-sdk#361). This
    override does what that method does, with the subscribers' documented `start()` run side
    by side; `tests/runtime/test_doorbell.py` fails by name when FastStream's method changes.
    """

    doorbell: Doorbell

    async def start(self) -> None:
        await self.connect()
        results = await asyncio.gather(
            *(subscriber.start() for subscriber in self.subscribers), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            # Stop the ones that did start, so a retry does not leave orphan consumers behind.
            await self.stop()
            raise failures[0]
        for publisher in self.publishers:
            await publisher.start()
        self.running = True


async def parse_leniently(
    record: ConsumerRecord[Any, Any],
    original: Callable[[ConsumerRecord[Any, Any]], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream's parsing, except that a header value that is not UTF-8 (another producer's)
    is decoded with replacement characters: FastStream would otherwise drop the whole record
    before any handler or the DLQ saw it."""
    try:
        return await original(record)
    except UnicodeDecodeError:
        headers = [(k, v.decode(errors="replace").encode()) for k, v in record.headers]
        log.warning("event.headers_not_utf8", topic=record.topic, offset=record.offset)
        return await original(dataclasses.replace(record, headers=headers))


def create_broker(
    bootstrap: str,
    *,
    client_id: str,
    retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS,
    dead_letters: DeadLetterStore | None = None,
    doorbell: Doorbell | None = None,
) -> Broker:
    """The service's broker; events its handlers give up on go to `dead_letters`; with a
    `doorbell`, idle consumers pause and events published through it wake them."""
    broker = Broker(
        bootstrap,
        client_id=client_id,
        acks="all",
        parser=parse_leniently,
        # Our own logger, so FastStream's lines go through structlog like everything else.
        logger=logging.getLogger("pix.broker"),
    )
    doorbell = doorbell or Doorbell()
    doorbell.attach(broker)
    broker.doorbell = doorbell
    broker.add_middleware(
        functools.partial(
            DeadLetterMiddleware,
            broker=broker,
            store=dead_letters,
            retry_delays=retry_delays,
            doorbell=doorbell,
        )
    )
    return broker


def subscriber_consumer(subscriber: Any) -> AIOKafkaConsumer | None:
    """The aiokafka consumer behind a started FastStream subscriber (None before its start).

    FastStream keeps it as `subscriber.consumer` without documenting it: this is the one place
    that reads it, and `tests/runtime/test_doorbell.py` fails when a FastStream upgrade moves it.
    """
    consumer = getattr(subscriber, "consumer", None)
    return consumer if isinstance(consumer, AIOKafkaConsumer) else None


class Doorbell:
    """Idle consumers send no fetches; a published event wakes the consumers of its topic.

    Tansu answers a fetch only when its wait runs out, so consumers there fetch with a short
    wait (20 ms) to keep latency low: fifty fetches a second per consumer, some thirty consumers
    in the stack, most of an idle core. Instead a consumer that handled nothing for
    `awake_seconds` pauses its partitions (aiokafka's `pause`: no fetches, heartbeats go on) and
    resumes them (a fetch that finds data is answered at once) when

    - this process publishes to one of its topics (the outbox relay, a dead-letter notice),
    - another process announces a publish (`announce`, e.g. PostgreSQL NOTIFY, delivered here
      through `wake`), or
    - every `poll_seconds`, for a fetch or two, so an event no bell announced (another
      producer, a lost notification) still arrives, only later.
    """

    TICK_SECONDS = 0.25

    def __init__(
        self,
        *,
        poll_seconds: float = IDLE_POLL_SECONDS,
        awake_seconds: float = 2.0,
        probe_seconds: float = 0.1,
    ) -> None:
        self._subscribers: Callable[[], Iterable[Any]] = tuple
        self.poll_seconds = poll_seconds
        self._awake_seconds = awake_seconds
        self._probe_seconds = probe_seconds
        self._awake_until: dict[int, float] = {}
        self._busy: dict[int, int] = {}
        self._to_announce: set[str] = set()
        self._announcing: asyncio.Task[None] | None = None
        self._announce: Callable[[list[str]], Awaitable[None]] | None = None
        self._watching: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.poll_seconds > 0

    def attach(self, broker: KafkaBroker) -> None:
        self._subscribers = lambda: broker.subscribers

    def start(self, announce: Callable[[list[str]], Awaitable[None]] | None = None) -> None:
        """Start pausing idle consumers; `announce(topics)` tells other processes."""
        self._announce = announce
        if self.enabled and self._watching is None:
            self._watching = asyncio.create_task(self._watch(), name="doorbell")

    async def stop(self) -> None:
        for task in (self._watching, self._announcing):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._watching = self._announcing = None
        # Resumed, so a consumer left running after us is not stuck.
        for subscriber in self._subscribers():
            consumer = subscriber_consumer(subscriber)
            if consumer is not None and consumer.paused():
                consumer.resume(*consumer.paused())

    @contextlib.contextmanager
    def busy(self, subscriber: Any) -> Iterator[None]:
        """A handler runs: its consumer stays awake, and for `awake_seconds` after it."""
        key = id(subscriber)
        self._busy[key] = self._busy.get(key, 0) + 1
        try:
            yield
        finally:
            self._busy[key] -= 1
            self._awake_until[key] = time.monotonic() + self._awake_seconds

    def ring(self, topic: str) -> None:
        """This process published to `topic`: wake its consumers here, and tell the others."""
        if not self.enabled:
            return
        self.wake([topic])
        if self._announce is None:
            return
        self._to_announce.add(topic)
        if self._announcing is None or self._announcing.done():
            # After the current step: the relay's batch of publishes goes out as one notice.
            self._announcing = asyncio.get_running_loop().create_task(self._announce_rung())

    async def _announce_rung(self) -> None:
        await asyncio.sleep(0)
        # Until nothing is left: topics rung while a notice is on its way go out in the next.
        while self._to_announce and self._announce is not None:
            topics, self._to_announce = sorted(self._to_announce), set()
            try:
                await self._announce(topics)
            except Exception as exc:
                # Best effort: the consumers elsewhere look for themselves soon anyway.
                log.warning("doorbell.announce_failed", error=repr(exc))

    def wake(self, topics: list[str]) -> None:
        """Events were published to `topics`: the consumers reading them fetch now."""
        wanted = set(topics)
        until = time.monotonic() + self._awake_seconds
        for subscriber in self._subscribers():
            consumer = subscriber_consumer(subscriber)
            if consumer is None or not wanted & consumer.subscription():
                continue
            self._awake_until[id(subscriber)] = until
            if consumer.paused():
                consumer.resume(*consumer.paused())

    def _sleep_if_idle(self, subscriber: Any) -> None:
        consumer = subscriber_consumer(subscriber)
        key = id(subscriber)
        awake = time.monotonic() < self._awake_until.get(key, 0.0)
        if consumer is None or awake or self._busy.get(key):
            return
        if assigned := consumer.assignment():
            consumer.pause(*assigned)

    async def _watch(self) -> None:
        next_probe = time.monotonic() + self.poll_seconds
        while True:
            await asyncio.sleep(self.TICK_SECONDS)
            now = time.monotonic()
            probing = now >= next_probe
            if probing:
                next_probe = now + self.poll_seconds
            for subscriber in self._subscribers():
                consumer = subscriber_consumer(subscriber)
                if consumer is None:
                    continue
                key = id(subscriber)
                if probing and consumer.paused():
                    # A fetch or two, then asleep again (sooner than the next tick).
                    consumer.resume(*consumer.paused())
                    asyncio.get_running_loop().call_later(
                        self._probe_seconds, self._sleep_if_idle, subscriber
                    )
                    continue
                assigned = consumer.assignment()
                paused = consumer.paused()
                if self._busy.get(key) or now < self._awake_until.get(key, 0.0):
                    if paused:
                        consumer.resume(*paused)
                elif assigned - paused:
                    consumer.pause(*assigned)


# A restarted static member gets its partitions back once the broker gives up on its old
# session (it sent no LeaveGroup, by design): a shorter session than Kafka's 10 s default makes
# that ~6 s; heartbeats keep a live member's session across a busy event loop.
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 1500


def static_member(group: str) -> str | None:
    """This process's static membership in `group` (KIP-345), when the process has a stable
    name (`PIX_KAFKA_INSTANCE_ID`: the runner sets `captioning.2`, Kubernetes a StatefulSet's
    pod name). A restarted process then takes its partitions back under the same id: on Tansu,
    which holds a new member's JoinGroup for minutes after others left, a returning static
    member joins in seconds (`tests/perf/tansu_group_join.py --static`); on Kafka it saves a
    rebalance. Without a stable name every start is a new dynamic member."""
    instance = os.environ.get("PIX_KAFKA_INSTANCE_ID")
    return f"{instance}:{group}" if instance else None


def subscribe(
    broker: KafkaBroker, event: type[E], *, group: str, title: str | None = None
) -> Callable[[Callable[[E], Awaitable[None]]], Any]:
    """Subscribe a handler to `event`'s topic in consumer group `group`, at-least-once."""
    return broker.subscriber(
        event.topic,
        group_id=group,
        group_instance_id=static_member(group),
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        title=title or f"{group}:{event.topic}",
    )


def declare_publishers(broker: KafkaBroker, *events: type[Event]) -> None:
    """Document what a service emits (AsyncAPI); the outbox relay does the publishing."""
    for event in events:
        broker.publisher(event.topic, title=f"{event.topic}:publish", schema=event)


async def ensure_topics(bootstrap: str, *, names: list[str] | None = None) -> None:
    """Create every registered topic (and its DLQ) that does not exist yet."""
    wanted = names if names is not None else list(TOPICS) + [t.dead_letter for t in TOPICS.values()]
    partitions = {t.name: t.partitions for t in TOPICS.values()}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="pix-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(name, num_partitions=partitions.get(name, 1), replication_factor=1)
            for name in wanted
            if name not in existing
        ]
        if new:
            # Another service may create them at the same moment.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
    finally:
        await admin.close()
