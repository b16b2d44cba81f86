"""pix_runtime.erasure on a service's own schema: which rows and objects go, and which stay."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pix_contracts import OrganisationErasureDue
from pix_contracts.privacy import MediaOrganisationErased
from pix_runtime.db import Database
from pix_runtime.dead_letters import dead_letters_table
from pix_runtime.erasure import OrganisationData, OrganisationEraser, Prefix, Through
from pix_runtime.inbox import inbox_table
from pix_runtime.jobs import jobs_table
from pix_runtime.outbox import decode_payload, outbox_table
from pix_runtime.storage import LocalStorage, MultipartError, S3Storage
from pix_stack.embedded import EmbeddedPostgres, free_port
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    func,
    insert,
    select,
    text,
    update,
)


class Schema:
    def __init__(self, name: str) -> None:
        self.metadata = MetaData(schema=name)
        m = self.metadata
        self.galleries = Table(
            "galleries", m, Column("id", Uuid, primary_key=True), Column("org_id", Uuid)
        )
        # No org_id: belongs through its foreign key.
        self.photos = Table(
            "photos",
            m,
            Column("id", Uuid, primary_key=True),
            Column("gallery_id", Uuid, ForeignKey(f"{name}.galleries.id"), nullable=False),
            Column("key", String(200), nullable=False),
        )
        # No org_id and no foreign key: belongs through a declared link.
        self.predictions = Table(
            "predictions", m, Column("id", Integer, primary_key=True), Column("photo_id", Uuid)
        )
        self.settings = Table(
            "settings", m, Column("name", String(40), primary_key=True), Column("value", String)
        )
        self.inbox = inbox_table(m)
        self.outbox = outbox_table(m)
        self.jobs = jobs_table(m)
        self.dead_letters = dead_letters_table(m)
        self.data = OrganisationData(
            m,
            inbox=self.inbox,
            outbox=self.outbox,
            through=(Through(self.predictions.c.photo_id, self.photos.c.id),),
            object_keys=(self.photos.c.key,),
            prefixes=(Prefix("captions/{}/", self.galleries.c.id),),
            keep=frozenset({"settings"}),
        )


@pytest.fixture
async def service(postgres: EmbeddedPostgres) -> AsyncIterator[tuple[Database, Schema]]:
    schema = Schema(f"erasure_{uuid.uuid4().hex[:8]}")
    db = Database(postgres.url, schema="public", application_name="test-erasure")
    async with db.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema.metadata.schema}"'))
        await conn.run_sync(schema.metadata.create_all)
    yield db, schema
    await db.dispose()


async def organisation(
    db: Database, schema: Schema, storage: LocalStorage | S3Storage, photos: int
) -> tuple[uuid.UUID, uuid.UUID]:
    org_id, gallery_id = uuid.uuid4(), uuid.uuid4()
    async with db.transaction() as session:
        await session.execute(insert(schema.galleries).values(id=gallery_id, org_id=org_id))
        for index in range(photos):
            photo_id = uuid.uuid4()
            key = f"originals/{gallery_id}/{photo_id}"
            await storage.put_bytes(key, b"jpeg", "image/jpeg")
            await storage.put_bytes(f"captions/{gallery_id}/Photo_{index}.txt", b"t", "text/plain")
            await session.execute(
                insert(schema.photos).values(id=photo_id, gallery_id=gallery_id, key=key)
            )
            await session.execute(insert(schema.predictions).values(photo_id=photo_id))
        # A published event about the organisation, and a job for one of its photos.
        await session.execute(
            insert(schema.outbox).values(
                event_id=uuid.uuid4(),
                topic="media.asset.uploaded.v1",
                key=str(gallery_id).encode(),
                payload=f'{{"org_id": "{org_id}"}}'.encode(),
                headers={},
                published_at=func.now(),
            )
        )
        await session.execute(
            insert(schema.jobs).values(
                kind="media.process", key=str(photo_id), payload={}, run_at=func.now()
            )
        )
        # An event about it that a handler gave up on: replayed later, it would bring rows back.
        await session.execute(
            insert(schema.dead_letters).values(
                consumer_group="media.galleries",
                topic="orders.order.placed.v1",
                payload=f'{{"org_id": "{org_id}", "gallery_id": "{gallery_id}"}}'.encode(),
                headers={},
                error="boom",
            )
        )
    return org_id, gallery_id


async def count(db: Database, table: Table) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_everything_of_the_organisation_goes_and_nothing_of_another(
    service: tuple[Database, Schema], tmp_path: Path
) -> None:
    db, schema = service
    storage = LocalStorage(tmp_path, public_base="http://x", signing_key=b"k" * 32)
    async with db.transaction() as session:
        await session.execute(insert(schema.settings).values(name="global", value="stays"))
    erased_org, erased_gallery = await organisation(db, schema, storage, 3)
    kept_org, kept_gallery = await organisation(db, schema, storage, 2)
    eraser = OrganisationEraser(
        schema.data, db=db, storage=storage, report=MediaOrganisationErased, source="/pix/test"
    )
    owned = [t.name for t in schema.data.owned_tables()]
    assert sorted(owned) == ["galleries", "photos", "predictions"]

    due = OrganisationErasureDue(org_id=erased_org, erasure_id=uuid.uuid4())
    counts = await eraser.erase(due)
    assert counts is not None
    # 1 gallery + 3 photos + 3 predictions + the sent event + the job + the dead letter.
    assert counts.rows == 10
    # 3 originals by their key column, 3 caption files by their gallery's folder.
    assert counts.objects == 6
    assert await eraser.erase(due) is None  # redelivered: nothing more, no second report

    assert not list((tmp_path / "originals" / str(erased_gallery)).glob("*"))
    assert not (tmp_path / "captions" / str(erased_gallery)).exists()
    assert len(list((tmp_path / "originals" / str(kept_gallery)).glob("*"))) == 2
    assert len(list((tmp_path / "captions" / str(kept_gallery)).glob("*"))) == 2
    assert await count(db, schema.galleries) == 1
    assert await count(db, schema.photos) == 2
    assert await count(db, schema.predictions) == 2
    assert await count(db, schema.settings) == 1
    assert await count(db, schema.jobs) == 1
    assert await count(db, schema.dead_letters) == 1
    async with db.sessions() as session:
        sent = [
            decode_payload(row.payload)
            for row in await session.execute(select(schema.outbox.c.payload, schema.outbox.c.topic))
        ]
    # The other organisation's event stays; the report carries ids and counts only.
    assert sorted(s["org_id"] for s in sent) == sorted([str(kept_org), str(erased_org)])
    [report] = [s for s in sent if s["org_id"] == str(erased_org)]
    assert set(report) == {"event_id", "occurred_at", "org_id", "erasure_id", "rows", "objects"}
    assert (report["rows"], report["objects"]) == (10, 6)


async def test_an_unpublished_event_about_the_organisation_is_still_sent(
    service: tuple[Database, Schema], tmp_path: Path
) -> None:
    db, schema = service
    storage = LocalStorage(tmp_path, public_base="http://x", signing_key=b"k" * 32)
    org_id, _ = await organisation(db, schema, storage, 1)
    async with db.transaction() as session:
        await session.execute(update(schema.outbox).values(published_at=None))
    eraser = OrganisationEraser(
        schema.data, db=db, storage=storage, report=MediaOrganisationErased, source="/pix/test"
    )
    await eraser.erase(OrganisationErasureDue(org_id=org_id, erasure_id=uuid.uuid4()))
    assert await count(db, schema.outbox) == 2  # the pending one and the report


@pytest.fixture
def s3() -> Iterator[S3Storage]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its buckets per process, not per server: a name of this test's own.
    bucket = f"erasure-{uuid.uuid4().hex[:8]}"
    try:
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="eu-central-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        yield S3Storage(
            bucket,
            endpoint_url=endpoint,
            region="eu-central-1",
            access_key="testing",
            secret_key="testing",
        )
    finally:
        server.stop()


async def test_s3_deletes_a_folder_page_by_page(s3: S3Storage) -> None:
    for index in range(1001):  # more than one DeleteObjects page (1000)
        await s3.put_bytes(f"captions/g1/{index}.txt", b"t", "text/plain")
    await s3.put_bytes("captions/g10/kept.txt", b"t", "text/plain")
    assert await s3.delete_prefix("captions/g1/") == 1001
    assert await s3.exists("captions/g10/kept.txt")
    assert await s3.delete_prefix("captions/g1/") == 0


async def test_s3_aborts_the_unfinished_uploads_under_a_folder(s3: S3Storage) -> None:
    gone = await s3.create_multipart("originals/g1/film.mp4", "video/mp4")
    kept = await s3.create_multipart("originals/g2/film.mp4", "video/mp4")
    await s3.delete_prefix("originals/g1/")
    with pytest.raises(MultipartError):
        await s3.list_parts("originals/g1/film.mp4", gone)
    assert await s3.list_parts("originals/g2/film.mp4", kept) == []
