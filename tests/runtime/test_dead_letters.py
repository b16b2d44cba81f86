"""Retry-then-DLQ on the real broker: a poison event never blocks its partition."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import ClassVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka.annotations import KafkaMessage
from pix_contracts import Event
from pix_runtime.broker import create_broker, ensure_topics, subscribe
from pix_runtime.db import Database
from pix_stack.embedded import EmbeddedPostgres, Tansu, free_port
from sqlalchemy import text
from sqlalchemy.engine import make_url


class ParcelSent(Event):
    topic: ClassVar[str] = "dlq-test.parcel.sent.v1"
    key_field: ClassVar[str] = "parcel_id"

    parcel_id: uuid.UUID
    weight: int


async def test_poison_and_malformed_events_go_to_the_dlq_and_the_consumer_goes_on(
    tansu: Tansu,
) -> None:
    dlq = ParcelSent.topic + ".dlq"
    await ensure_topics(tansu.bootstrap, names=[ParcelSent.topic, dlq])
    broker = create_broker(tansu.bootstrap, client_id="test-dlq", retry_delays=(0.05, 0.1))
    attempts: dict[int, int] = {}
    handled: list[int] = []
    done = asyncio.Event()

    @subscribe(broker, ParcelSent, group="dlq-test")
    async def deliver(event: ParcelSent) -> None:
        attempts[event.weight] = attempts.get(event.weight, 0) + 1
        if event.weight < 0:
            raise ValueError("negative weight cannot be shipped")
        handled.append(event.weight)
        if event.weight == 3:
            done.set()

    def parcel(weight: int) -> bytes:
        return ParcelSent(parcel_id=uuid.uuid4(), weight=weight).model_dump_json().encode()

    key = b"same-partition"
    await broker.start()
    try:
        await broker.publish(parcel(1), ParcelSent.topic, key=key)
        await broker.publish(b"{not json", ParcelSent.topic, key=key)
        await broker.publish(b'{"parcel_id": "nope"}', ParcelSent.topic, key=key)
        await broker.publish(parcel(-5), ParcelSent.topic, key=key)
        await broker.publish(parcel(3), ParcelSent.topic, key=key)
        await asyncio.wait_for(done.wait(), timeout=30)
    finally:
        await broker.stop()

    assert handled == [1, 3]
    assert attempts[-5] == 3  # the first try and two retries

    consumer = AIOKafkaConsumer(
        dlq, bootstrap_servers=tansu.bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=10
    )
    await consumer.start()
    dead = []
    try:
        async with asyncio.timeout(15):
            async for record in consumer:
                dead.append(record)
                if len(dead) == 3:
                    break
    finally:
        await consumer.stop()
    bodies = [record.value for record in dead]
    assert bodies[0] == b"{not json"
    assert bodies[1] == b'{"parcel_id": "nope"}'
    assert b'"weight":-5' in bodies[2]
    errors = [dict(record.headers) for record in dead]
    assert all(h["dlq_source_topic"] == ParcelSent.topic.encode() for h in errors)
    assert errors[0]["dlq_attempts"] == b"1"
    assert b"negative weight" in errors[2]["dlq_error"]
    assert errors[2]["dlq_attempts"] == b"3"


async def test_dead_letters_can_be_listed_and_replayed_once(tansu: Tansu) -> None:
    from pix_runtime.dead_letters import list_dead_letters, replay_dead_letters

    topic = "dlq-test.replay.sent.v1"
    await ensure_topics(tansu.bootstrap, names=[topic, topic + ".dlq"])
    broker = create_broker(tansu.bootstrap, client_id="test-dlq-replay")
    await broker.start()
    try:
        for n in range(2):
            await broker.publish(
                f'{{"n": {n}}}'.encode(),
                topic + ".dlq",
                key=b"k",
                headers={"ce_id": f"id-{n}", "dlq_error": f"ValueError('boom {n}')"},
            )
    finally:
        await broker.stop()

    letters = await list_dead_letters(tansu.bootstrap, topic)
    assert [letter.error for letter in letters] == ["ValueError('boom 0')", "ValueError('boom 1')"]
    assert await replay_dead_letters(tansu.bootstrap, topic) == 2
    assert await replay_dead_letters(tansu.bootstrap, topic) == 0  # nothing new since

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=tansu.bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=10
    )
    await consumer.start()
    replayed = []
    try:
        async with asyncio.timeout(15):
            async for record in consumer:
                replayed.append(record)
                if len(replayed) == 2:
                    break
    finally:
        await consumer.stop()
    assert [r.value for r in replayed] == [b'{"n": 0}', b'{"n": 1}']
    headers = dict(replayed[0].headers)
    assert headers["ce_id"] == b"id-0"
    assert "dlq_error" not in headers


class Parcel(ParcelSent):
    topic: ClassVar[str] = "outage-test.parcel.sent.v1"


class DatabaseLink:
    """A TCP hop between a service and PostgreSQL that can be cut and restored, like a
    database restart or a network blip as the service sees it."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.streams: list[asyncio.StreamWriter] = []

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.streams:
            writer.close()
        await self.server.wait_closed()
        self.server, self.streams = None, []

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path)
        self.streams += [writer, up_writer]

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))


async def test_a_database_outage_is_waited_out_not_dead_lettered(
    tansu: Tansu, postgres: EmbeddedPostgres
) -> None:
    """The normal retry budget here is 0.15 s; the database is away for 2 s (its pooled
    connection cut, new ones refused). The events wait, are handled once the database is
    back, each exactly once, and nothing reaches the DLQ."""
    topic, dlq = Parcel.topic, Parcel.topic + ".dlq"
    await ensure_topics(tansu.bootstrap, names=[topic, dlq])
    url = make_url(postgres.url)  # PostgreSQL listens on a unix socket in the tests
    link = DatabaseLink(f"{url.query['host']}/.s.PGSQL.5432")
    db = Database(
        url.set(host="127.0.0.1", port=link.port, query={}).render_as_string(hide_password=False),
        schema="public",
        application_name="outage-test",
    )
    broker = create_broker(tansu.bootstrap, client_id="test-outage", retry_delays=(0.05, 0.1))
    handled: list[int] = []
    tries: dict[int, int] = {}

    @subscribe(broker, Parcel, group="outage-test")
    async def deliver(event: Parcel) -> None:
        tries[event.weight] = tries.get(event.weight, 0) + 1
        async with db.transaction() as session:
            await session.execute(text("SELECT 1"))
        handled.append(event.weight)

    await link.up()
    await broker.start()
    try:
        await broker.publish(
            Parcel(parcel_id=uuid.uuid4(), weight=1).model_dump_json().encode(), topic
        )
        async with asyncio.timeout(30):
            while handled != [1]:
                await asyncio.sleep(0.05)
        await link.down()  # the pooled connection is cut, new ones are refused
        for weight in (2, 3):
            await broker.publish(
                Parcel(parcel_id=uuid.uuid4(), weight=weight).model_dump_json().encode(), topic
            )
        await asyncio.sleep(2)
        assert handled == [1]
        assert tries[2] >= 3  # more than the retry budget, and still not dead-lettered
        await link.up()
        async with asyncio.timeout(30):
            while len(handled) < 3:
                await asyncio.sleep(0.05)
    finally:
        await broker.stop()
        await db.dispose()
        if link.server is not None:
            await link.down()
    assert handled == [1, 2, 3]

    consumer = AIOKafkaConsumer(
        dlq, bootstrap_servers=tansu.bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=10
    )
    await consumer.start()
    try:
        assert (await consumer.getmany(timeout_ms=2000)) == {}
    finally:
        await consumer.stop()


class Letter(ParcelSent):
    topic: ClassVar[str] = "header-test.parcel.sent.v1"


async def test_a_header_that_is_not_utf8_does_not_make_the_event_vanish(tansu: Tansu) -> None:
    """Another producer's binary header value: FastStream alone drops such a record before any
    handler or the DLQ sees it; ours decodes the value with replacement characters."""
    await ensure_topics(tansu.bootstrap, names=[Letter.topic, Letter.topic + ".dlq"])
    broker = create_broker(tansu.bootstrap, client_id="test-headers", retry_delays=(0.05,))
    handled: list[tuple[int, str]] = []

    @subscribe(broker, Letter, group="header-test")  # type: ignore[arg-type]  # FastStream injects the message
    async def deliver(event: Letter, message: KafkaMessage) -> None:
        handled.append((event.weight, str(message.headers.get("x-origin", ""))))

    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap)
    await producer.start()
    try:
        for weight, origin in ((7, b"\xff\xfelegacy"), (8, b"ok")):
            body = Letter(parcel_id=uuid.uuid4(), weight=weight).model_dump_json().encode()
            await producer.send_and_wait(
                Letter.topic, body, key=b"same", headers=[("x-origin", origin)]
            )
    finally:
        await producer.stop()
    await broker.start()
    try:
        async with asyncio.timeout(30):
            while len(handled) < 2:
                await asyncio.sleep(0.05)
    finally:
        await broker.stop()
    assert handled == [(7, "\ufffd\ufffdlegacy"), (8, "ok")]
