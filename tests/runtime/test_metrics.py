"""The scraped figures on the real PostgreSQL and Tansu: outbox backlog, open dead letters,
consumer lag per group, a work queue's depth, request durations by route and status, and
readiness that includes storage for a service that uses it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata, TopicPartition
from fastapi import FastAPI
from pix_runtime import metrics
from pix_runtime.broker import ensure_topics
from pix_runtime.db import Database
from pix_runtime.dead_letters import dead_letters_table
from pix_runtime.http import create_base_app
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.metrics import ServiceMetrics
from pix_runtime.outbox import outbox_table
from pix_runtime.settings import PlatformSettings, ServiceSettings
from pix_runtime.storage import LocalStorage
from pix_stack.embedded import EmbeddedPostgres, Tansu
from prometheus_client import REGISTRY
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, text


@dataclass
class Schema:
    name: str
    db: Database
    outbox: Table
    dead_letters: Table
    photos: Table


@pytest.fixture
async def schema(postgres: EmbeddedPostgres) -> AsyncIterator[Schema]:
    name = f"metrics_{uuid.uuid4().hex[:8]}"
    metadata = MetaData(schema=name)
    outbox = outbox_table(metadata)
    letters = dead_letters_table(metadata)
    photos = Table(
        "photos",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("status", String(20), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    db = Database(postgres.url, schema=name, application_name="test-metrics")
    async with db.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{name}"'))
        await conn.run_sync(metadata.create_all)
    yield Schema(name, db, outbox, letters, photos)
    async with db.engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    await db.dispose()


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_outbox_dead_letters_and_queue_depth_are_read_from_the_database(
    schema: Schema,
) -> None:
    service = schema.name
    scraped = ServiceMetrics(
        service, schema.db, outbox=schema.outbox, dead_letters=schema.dead_letters
    )
    scraped.count_waiting(
        "photos",
        schema.photos,
        schema.photos.c.status == "queued",
        since=schema.photos.c.updated_at,
    )
    now = datetime.now(UTC)
    async with schema.db.transaction() as session:
        await session.execute(
            schema.outbox.insert(),
            [
                {
                    "event_id": uuid.uuid4(),
                    "topic": "t",
                    "key": b"k",
                    "payload": b"{}",
                    "headers": {},
                    "created_at": now - timedelta(seconds=age),
                    "published_at": now if published else None,
                    "attempts": attempts,
                }
                for age, published, attempts in [(120, False, 0), (30, False, 5), (900, True, 0)]
            ],
        )
        await session.execute(
            schema.dead_letters.insert(),
            [
                {"consumer_group": g, "topic": t, "payload": b"{}", "headers": {}, "error": "e"}
                | {"status": status}
                for g, t, status in [
                    ("media", "orders.order.placed.v1", "open"),
                    ("media", "orders.order.placed.v1", "open"),
                    ("notify", "orders.order.placed.v1", "open"),
                    ("notify", "media.asset.uploaded.v1", "replayed"),
                ]
            ],
        )
        await session.execute(
            schema.photos.insert(),
            [
                {"id": 1, "status": "queued", "updated_at": now - timedelta(seconds=45)},
                {"id": 2, "status": "queued", "updated_at": now},
                {"id": 3, "status": "processed", "updated_at": now - timedelta(hours=1)},
            ],
        )

    await scraped.read_database()

    assert sample("pix_outbox_backlog", service=service) == 2
    assert sample("pix_outbox_parked", service=service) == 1
    oldest = sample("pix_outbox_oldest_unpublished_seconds", service=service)
    assert oldest is not None
    assert oldest >= 120
    open_letters = "pix_dead_letters_open"
    topic = "orders.order.placed.v1"
    assert sample(open_letters, service=service, group="media", topic=topic) == 2
    assert sample(open_letters, service=service, group="notify", topic=topic) == 1
    assert (
        sample(open_letters, service=service, group="notify", topic="media.asset.uploaded.v1")
        is None
    )
    assert sample("pix_queue_depth", service=service, queue="photos") == 2
    waited = sample("pix_queue_oldest_seconds", service=service, queue="photos")
    assert waited is not None
    assert waited >= 45

    # Resolved: the letters drop to 0 (not a gap), the backlog empties.
    async with schema.db.transaction() as session:
        await session.execute(schema.dead_letters.update().values(status="discarded"))
        await session.execute(schema.outbox.update().values(published_at=now))
    await scraped.read_database()
    assert sample(open_letters, service=service, group="media", topic=topic) == 0
    assert sample("pix_outbox_backlog", service=service) == 0
    assert sample("pix_outbox_oldest_unpublished_seconds", service=service) == 0


async def test_consumer_lag_is_end_offsets_minus_the_groups_committed_offsets(
    tansu: Tansu,
) -> None:
    topic = f"metrics-test.{uuid.uuid4().hex[:8]}.v1"
    await ensure_topics(tansu.bootstrap, names=[topic])
    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap)
    await producer.start()
    try:
        for index in range(7):
            await producer.send_and_wait(topic, b"x", key=str(index).encode(), partition=0)
    finally:
        await producer.stop()
    # Group `reader` read 3 of the 7; group `fresh` never committed anything.
    committer = AIOKafkaConsumer(
        bootstrap_servers=tansu.bootstrap, group_id="metrics-test.reader", enable_auto_commit=False
    )
    await committer.start()
    try:
        partition = TopicPartition(topic, 0)
        committer.assign([partition])
        await committer.commit({partition: OffsetAndMetadata(3, "")})
    finally:
        await committer.stop()

    lag = metrics.ConsumerLag(tansu.bootstrap, client_id="test-metrics")
    try:
        read = await lag.read(
            {"metrics-test.reader": {topic}, "metrics-test.fresh": {topic, "no-such-topic"}}
        )
    finally:
        await lag.close()

    assert read == {("metrics-test.reader", topic): 4, ("metrics-test.fresh", topic): 7}


async def test_a_scrape_refreshes_once_per_period_and_durations_carry_the_status(
    schema: Schema,
) -> None:
    service = schema.name
    scraped = ServiceMetrics(service, schema.db, outbox=schema.outbox)
    app: FastAPI = create_base_app(title="metrics test", lifespan=None, checks={})
    app.state.metrics = scraped

    @app.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/things/1")).status_code == 200
        assert (await client.get("/things/x")).status_code == 422
        body = (await client.get("/metrics")).text
        assert f'pix_outbox_backlog{{service="{service}"}} 0.0' in body
        async with schema.db.transaction() as session:
            await session.execute(
                schema.outbox.insert().values(
                    event_id=uuid.uuid4(), topic="t", key=b"k", payload=b"{}", headers={}
                )
            )
        # Within the period the previous reading answers; no query per scrape.
        body = (await client.get("/metrics")).text
        assert f'pix_outbox_backlog{{service="{service}"}} 0.0' in body

    route = "/things/{thing_id}"
    for status in ("200", "422"):
        count = sample(
            "pix_http_request_duration_seconds_count", method="GET", route=route, status=status
        )
        assert count is not None
        assert count >= 1


def _runtime(
    tmp_path: Path, postgres: EmbeddedPostgres, tansu: Tansu, storage: str
) -> ServiceRuntime:
    platform = PlatformSettings(
        database_url=postgres.url, kafka_bootstrap=tansu.bootstrap, storage_url=storage
    )
    return ServiceRuntime(ServiceSettings(service_name="readyz_test", platform=platform))


async def test_readiness_checks_storage_only_where_the_service_uses_it(
    tmp_path: Path, postgres: EmbeddedPostgres, tansu: Tansu
) -> None:
    without = _runtime(tmp_path, postgres, tansu, f"file://{tmp_path / 'unused'}")
    with_storage = _runtime(tmp_path, postgres, tansu, f"file://{tmp_path / 'store'}")
    assert with_storage.storage is not None  # the service takes its storage
    gone = _runtime(tmp_path, postgres, tansu, f"file://{tmp_path / 'gone'}")
    gone_storage = gone.storage
    assert isinstance(gone_storage, LocalStorage)
    gone_storage.root.rmdir()

    async def checks(runtime: ServiceRuntime) -> dict[str, str]:
        app = runtime.create_app(title="readyz test")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer: dict[str, str] = (await client.get("/readyz")).json()["checks"]
        await runtime.db.dispose()
        return answer

    assert "storage" not in await checks(without)
    assert (await checks(with_storage))["storage"] == "ok"
    assert (await checks(gone))["storage"].startswith("failed")
