"""Dead letters on the real broker and PostgreSQL: a poison event never blocks its partition,
becomes a letter of the group that failed in the service's own database, outlives the broker,
and a replay reaches that group only, once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar, Literal

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pix_contracts import Event
from pix_runtime.broker import create_broker, ensure_topics, subscribe
from pix_runtime.db import Database
from pix_runtime.dead_letters import DeadLetterBoard, DeadLetterStore, dead_letters_table
from pix_runtime.dead_letters_routes import dead_letters_router
from pix_runtime.http import create_base_app
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_stack.embedded import EmbeddedPostgres, Tansu, free_port, start_tansu
from sqlalchemy import MetaData, text
from sqlalchemy.engine import make_url


@pytest.fixture
async def letters(postgres: EmbeddedPostgres) -> AsyncIterator[DeadLetterStore]:
    """A service's dead-letter table in a fresh schema."""
    name = f"dlq_{uuid.uuid4().hex[:8]}"
    metadata = MetaData(schema=name)
    table = dead_letters_table(metadata)
    db = Database(postgres.url, schema=name, application_name="test-dead-letters")
    async with db.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{name}"'))
        await conn.run_sync(metadata.create_all)
    yield DeadLetterStore(db, table)
    async with db.engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    await db.dispose()


class ParcelSent(Event):
    topic: ClassVar[str] = "dlq-test.parcel.sent.v1"
    key_field: ClassVar[str] = "parcel_id"

    parcel_id: uuid.UUID
    weight: int


async def test_poison_and_malformed_events_become_letters_of_the_group_that_failed(
    tansu: Tansu, letters: DeadLetterStore
) -> None:
    """Two groups read the topic; only `shipping` refuses negative weights. Both dead-letter
    the malformed events at once; the poison event is a letter of `shipping` alone, after its
    retries, and both consumers go on."""
    dlq = ParcelSent.topic + ".dlq"
    await ensure_topics(tansu.bootstrap, names=[ParcelSent.topic, dlq])
    broker = create_broker(
        tansu.bootstrap, client_id="test-dlq", retry_delays=(0.05, 0.1), dead_letters=letters
    )
    attempts: dict[int, int] = {}
    handled: list[int] = []
    audited: list[int] = []

    @subscribe(broker, ParcelSent, group="dlq-test.shipping")
    async def deliver(event: ParcelSent) -> None:
        attempts[event.weight] = attempts.get(event.weight, 0) + 1
        if event.weight < 0:
            raise ValueError("negative weight cannot be shipped")
        handled.append(event.weight)

    @subscribe(broker, ParcelSent, group="dlq-test.audit")
    async def audit(event: ParcelSent) -> None:
        audited.append(event.weight)

    poison = ParcelSent(parcel_id=uuid.uuid4(), weight=-5)

    def parcel(weight: int) -> bytes:
        return ParcelSent(parcel_id=uuid.uuid4(), weight=weight).model_dump_json().encode()

    key = b"same-partition"
    await broker.start()
    try:
        await broker.publish(parcel(1), ParcelSent.topic, key=key)
        await broker.publish(b"{not json", ParcelSent.topic, key=key)
        await broker.publish(b'{"parcel_id": "nope"}', ParcelSent.topic, key=key)
        await broker.publish(poison.model_dump_json().encode(), ParcelSent.topic, key=key)
        await broker.publish(parcel(3), ParcelSent.topic, key=key)
        async with asyncio.timeout(30):
            while handled != [1, 3] or audited != [1, -5, 3]:
                await asyncio.sleep(0.05)
            while len(await letters.find(limit=500)) < 5:
                await asyncio.sleep(0.05)
    finally:
        await broker.stop()

    assert attempts[-5] == 3  # the first try and two retries
    shipping = await letters.find(group="dlq-test.shipping")
    assert [letter.payload for letter in shipping] == [
        "{not json",
        '{"parcel_id": "nope"}',
        poison.model_dump_json(),
    ]
    assert all(letter.topic == ParcelSent.topic for letter in shipping)
    assert all(letter.key == "same-partition" for letter in shipping)
    assert [letter.attempts for letter in shipping] == [1, 1, 3]
    assert shipping[0].event_id is None  # too malformed to say which event it was
    assert shipping[2].event_id == str(poison.event_id)
    assert "negative weight" in shipping[2].error
    assert shipping[2].traceback is not None
    assert "ValueError" in shipping[2].traceback
    assert shipping[2].first_failed_at <= shipping[2].last_failed_at
    assert all(letter.status == "open" for letter in shipping)
    audit_letters = await letters.find(group="dlq-test.audit")
    assert [letter.payload for letter in audit_letters] == ["{not json", '{"parcel_id": "nope"}']

    # The topic still carries a notification of each letter, naming the group.
    consumer = AIOKafkaConsumer(
        dlq, bootstrap_servers=tansu.bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=10
    )
    await consumer.start()
    announced = []
    try:
        async with asyncio.timeout(15):
            async for record in consumer:
                announced.append(dict(record.headers))
                if len(announced) == 5:
                    break
    finally:
        await consumer.stop()
    poison_notes = [h for h in announced if h.get("dlq_attempts") == b"3"]
    assert [h["dlq_group"] for h in poison_notes] == [b"dlq-test.shipping"]
    assert poison_notes[0]["dlq_source_topic"] == ParcelSent.topic.encode()


class Shipment(ParcelSent):
    topic: ClassVar[str] = "replay-test.parcel.sent.v1"


def signed(role: Literal["admin", "client"]) -> dict[str, str]:
    identity = Identity(
        user_id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        role=role,
        email="ops@pix.immo",
        name="Operator",
    )
    return {IDENTITY_HEADER: sign_identity(identity, os.environ["PIX_INTERNAL_KEY"].encode())}


def admin_app(board: DeadLetterBoard) -> FastAPI:
    """The admin routes as `ServiceRuntime.create_app` mounts them."""
    app = create_base_app(title="dead letters", lifespan=None, checks={})
    app.state.internal_key = os.environ["PIX_INTERNAL_KEY"].encode()
    app.state.dead_letter_board = board
    app.include_router(dead_letters_router)
    return app


async def end_offset(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def test_a_letter_outlives_the_broker_and_replays_to_its_group_only_once(
    letters: DeadLetterStore, tmp_path: Path
) -> None:
    """The broker is killed and a new empty one started; the letter is still there, a replay
    runs the `shipping` handler once and nothing else (`audit` saw the event once, nothing is
    published), a second replay is refused."""
    port = free_port()
    tansu = start_tansu(port, log_file=tmp_path / "tansu.log")
    bootstrap = tansu.bootstrap
    carrier_down = True
    shipped: list[uuid.UUID] = []
    audited: list[uuid.UUID] = []

    def service_broker() -> KafkaBroker:
        broker = create_broker(
            bootstrap, client_id="test-replay", retry_delays=(0.05,), dead_letters=letters
        )

        @subscribe(broker, Shipment, group="replay-test.shipping")
        async def ship(event: Shipment) -> None:
            if carrier_down:
                raise RuntimeError("the carrier refused the label")
            shipped.append(event.event_id)

        @subscribe(broker, Shipment, group="replay-test.audit")
        async def audit(event: Shipment) -> None:
            audited.append(event.event_id)

        return broker

    event = Shipment(parcel_id=uuid.uuid4(), weight=2)
    broker = service_broker()
    try:
        await ensure_topics(bootstrap, names=[Shipment.topic, Shipment.topic + ".dlq"])
        await broker.start()
        await broker.publish(event.model_dump_json().encode(), Shipment.topic, key=b"k")
        async with asyncio.timeout(30):
            while audited != [event.event_id] or not await letters.find():
                await asyncio.sleep(0.05)
        await broker.stop()
        tansu.process.kill()  # kill -9: the broker keeps nothing
        tansu.process.wait()
        tansu = start_tansu(port, log_file=tmp_path / "tansu.log")
        await ensure_topics(bootstrap, names=[Shipment.topic, Shipment.topic + ".dlq"])
        broker = service_broker()  # the service as it comes back
        await broker.start()
        published_before = await end_offset(bootstrap, Shipment.topic)

        app = admin_app(DeadLetterBoard(letters, broker))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            refused = await client.get("/admin/dead-letters", headers=signed("client"))
            assert refused.status_code == 403
            listed = (await client.get("/admin/dead-letters", headers=signed("admin"))).json()
            assert [(x["consumer_group"], x["topic"]) for x in listed] == [
                ("replay-test.shipping", Shipment.topic)
            ]
            letter = listed[0]
            assert letter["event_id"] == str(event.event_id)
            assert letter["attempts"] == 2
            assert "carrier refused" in letter["error"]
            replay = f"/admin/dead-letters/{letter['id']}/replay"

            still_failing = await client.post(replay, headers=signed("admin"))
            assert still_failing.json() == {
                "id": letter["id"],
                "replayed": False,
                "error": "RuntimeError('the carrier refused the label')",
            }
            carrier_down = False
            replayed = await client.post(replay, headers=signed("admin"))
            assert replayed.json() == {"id": letter["id"], "replayed": True, "error": None}
            assert shipped == [event.event_id]
            assert audited == [event.event_id]  # the other group never saw it again

            again = await client.post(replay, headers=signed("admin"))
            assert again.status_code == 409
            everything = await client.post(
                "/admin/dead-letters/replay-all", headers=signed("admin")
            )
            assert everything.json() == {"replayed": 0, "failed": 0, "outcomes": []}
            done = await client.get(
                "/admin/dead-letters", params={"status": "replayed"}, headers=signed("admin")
            )
            assert [(x["id"], x["attempts"]) for x in done.json()] == [(letter["id"], 3)]
            assert done.json()[0]["replayed_at"] is not None
            missing = await client.post(
                "/admin/dead-letters/999999/replay", headers=signed("admin")
            )
            assert missing.status_code == 404
        assert shipped == [event.event_id]
        # A replay publishes nothing: no subscriber of the topic can receive it again.
        assert await end_offset(bootstrap, Shipment.topic) == published_before
    finally:
        await broker.stop()
        tansu.stop()


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
