"""Uploads and asynchronous processing through the media HTTP API on the real database and
local storage: multipart resume, 202 + worker, duplicates under concurrency, status feed,
delete, org checks, a crashed worker's job taken over. The processing jobs are driven step by
step (`runtime.jobs.run_due()`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from photos import jpeg_with_gps, room_photo
from pix_contracts.events import AssetDeleted
from pix_media.app import create_app
from pix_media.models import assets, galleries, jobs, outbox
from pix_media.processing import PROCESS
from pix_media.settings import MediaSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.storage import LocalStorage
from sqlalchemy import func, select, update

MiB = 1024 * 1024


class Media:
    def __init__(self, runtime: ServiceRuntime, http: httpx.AsyncClient):
        self.runtime, self.http = runtime, http
        self.org = uuid.uuid4()
        self.gallery = uuid.uuid4()

    def headers(self, org: uuid.UUID | None = None) -> dict[str, str]:
        who = Identity(
            user_id=uuid.uuid4(), org_id=org or self.org, role="client", email="a@b.de", name="A"
        )
        return {IDENTITY_HEADER: sign_identity(who, self.runtime.internal_key)}

    async def start(self, name: str, size: int) -> dict[str, Any]:
        response = await self.http.post(
            f"/galleries/{self.gallery}/uploads",
            headers=self.headers(),
            json={"file_name": name, "byte_size": size},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def put(self, url: str, data: bytes) -> httpx.Response:
        # Signed URLs point at the gateway's /api/media prefix; this app is media itself.
        return await self.http.put(url.replace("http://testserver/api/media", ""), content=data)

    async def single(self, name: str, data: bytes) -> str:
        ticket = await self.start(name, len(data))
        assert (await self.put(ticket["upload_url"], data)).status_code == 200
        return str(ticket["asset_id"])

    async def complete(self, asset_id: str, **body: Any) -> httpx.Response:
        return await self.http.post(
            f"/assets/{asset_id}/complete", headers=self.headers(), json=body or None
        )

    async def process(self) -> int:
        """Run the processing jobs that are due, as the service's job queue would."""
        return await self.runtime.jobs.run_due()

    async def asset(self, asset_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/assets/{asset_id}", headers=self.headers())
        result: dict[str, Any] = response.json()
        return result


def multipart_folders(storage: LocalStorage) -> set[str]:
    """The unfinished multipart uploads on disk (other tests' share the session's storage)."""
    base = storage.root / ".multipart"
    return {p.name for p in base.iterdir()} if base.exists() else set()


@pytest.fixture
async def media(migrated: set[str]) -> AsyncIterator[Media]:
    settings = MediaSettings(multipart_threshold_bytes=6 * MiB, part_bytes=5 * MiB)
    app, runtime = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        media = Media(runtime, http)
        async with runtime.db.transaction() as session:
            await session.execute(
                galleries.insert().values(
                    id=media.gallery,
                    org_id=media.org,
                    order_id=uuid.uuid4(),
                    reference="PIX-1",
                    title="Lindenallee 5",
                )
            )
        yield media
    await runtime.db.dispose()


async def test_multipart_upload_resumes_only_the_missing_parts(media: Media) -> None:
    # A real photo padded past the threshold (decoders stop at the JPEG end marker): 3 parts.
    data = jpeg_with_gps(room_photo(800, 600)) + bytes(11 * MiB)
    storage = media.runtime.storage
    assert isinstance(storage, LocalStorage)
    before = multipart_folders(storage)
    ticket = await media.start("Küche.jpg", len(data))
    assert ticket["upload_url"] is None
    plan = ticket["multipart"]
    assert (plan["part_size"], plan["part_count"]) == (5 * MiB, 3)
    urls = {p["part_number"]: p["url"] for p in plan["missing"]}
    size = plan["part_size"]

    first = await media.put(urls[1], data[:size])
    assert first.status_code == 200
    assert first.headers["etag"].strip('"') == first.json()["etag"]
    # The connection drops here; a part URL is bound to its number and upload.
    assert (
        await media.put(urls[1].replace("partNumber=1", "partNumber=2"), b"x")
    ).status_code == 403

    early = await media.complete(ticket["asset_id"])
    assert early.status_code == 422
    assert early.json()["error"]["code"] == "parts_missing"

    resumed = (
        await media.http.get(f"/assets/{ticket['asset_id']}/parts", headers=media.headers())
    ).json()
    assert [p["part_number"] for p in resumed["uploaded"]] == [1]
    assert [p["part_number"] for p in resumed["missing"]] == [2, 3]
    for part in resumed["missing"]:
        n = part["part_number"]
        response = await media.put(part["url"], data[(n - 1) * size : n * size])
        assert response.status_code == 200

    done = await media.complete(ticket["asset_id"])
    assert done.status_code == 202, done.text
    assert done.json()["status"] == "queued"
    assert storage.path(f"originals/{media.gallery}/{ticket['asset_id']}").read_bytes() == data
    assert multipart_folders(storage) <= before  # this upload's parts are gone

    assert await media.process()
    asset = await media.asset(ticket["asset_id"])
    assert asset["status"] == "processed"
    assert asset["pseudonym"] == "Kitchen_01"
    assert asset["faces_blurred"] == 0


async def test_complete_is_quick_and_refuses_non_images_at_once(media: Media) -> None:
    text = await media.single("notes.jpg", b"not a photo at all\n" * 50)
    refused = await media.complete(text)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "not_an_image"
    assert (await media.asset(text))["status"] == "rejected"

    broken = await media.single("broken.jpg", jpeg_with_gps(room_photo(300, 200))[:600])
    queued = await media.complete(broken)
    assert queued.status_code == 202
    assert (await media.complete(broken)).json()["status"] == "queued"  # idempotent
    assert await media.process()
    asset = await media.asset(broken)
    assert (asset["status"], asset["error_code"]) == ("rejected", "corrupt_image")
    assert not await media.process()


async def test_concurrent_uploads_of_the_same_photo_keep_one(media: Media) -> None:
    photo = jpeg_with_gps(room_photo(1600, 1200, colour=(120, 90, 60)))
    ids = [await media.single(f"Bad {i}.jpg", photo) for i in range(3)]
    completed = await asyncio.gather(*(media.complete(i) for i in ids))
    assert [r.status_code for r in completed] == [202, 202, 202]
    # Three workers at once: all hash the same bytes before any of them commits.
    assert sum(await asyncio.gather(*(media.process() for _ in ids))) == len(ids)
    states = [await media.asset(i) for i in ids]
    assert sorted(s["status"] for s in states) == ["processed", "rejected", "rejected"]
    assert {s["error_code"] for s in states if s["status"] == "rejected"} == {"duplicate"}


async def test_pseudonyms_number_each_room_and_never_reuse_a_number(media: Media) -> None:
    """Küche_01.jpg and a second kitchen processed at the same moment get distinct numbers;
    a photo without a room gets its own series; after a delete the next number is new."""

    async def processed(names: list[str], colour_base: int) -> list[str]:
        ids = [
            await media.single(
                name, jpeg_with_gps(room_photo(640, 480, colour=(colour_base + 9 * i, 80, 60)))
            )
            for i, name in enumerate(names)
        ]
        for asset_id in ids:
            assert (await media.complete(asset_id)).status_code == 202
        assert sum(await asyncio.gather(*(media.process() for _ in ids))) == len(ids)
        return ids

    first = await processed(["Küche_01.jpg", "Kitchen 2.jpg", "IMG_0001.jpg"], 20)
    names = {i: (await media.asset(i))["pseudonym"] for i in first}
    assert sorted(names.values()) == ["Kitchen_01", "Kitchen_02", "Photo_01"]

    newest = max(first[:2], key=lambda i: str(names[i]))
    deleted = await media.http.delete(f"/assets/{newest}", headers=media.headers())
    assert deleted.status_code == 204
    [again] = await processed(["kueche.jpg"], 120)
    assert (await media.asset(again))["pseudonym"] == "Kitchen_03"


async def test_status_feed_delete_and_other_organisations(media: Media) -> None:
    before = await media.http.get(f"/galleries/{media.gallery}/status", headers=media.headers())
    assert before.status_code == 200
    cursor = before.json()["cursor"]
    asset_id = await media.single("Bad_1.jpg", jpeg_with_gps(room_photo(640, 480)))
    await media.complete(asset_id)
    feed = (
        await media.http.get(
            f"/galleries/{media.gallery}/status", params={"since": cursor}, headers=media.headers()
        )
    ).json()
    assert [(a["id"], a["status"]) for a in feed["assets"]] == [(asset_id, "queued")]
    assert feed["counts"] == {"queued": 1}
    await media.process()

    stranger = media.headers(uuid.uuid4())
    for method, path in [
        ("GET", f"/galleries/{media.gallery}/status"),
        ("GET", f"/assets/{asset_id}/parts"),
        ("POST", f"/assets/{asset_id}/complete"),
        ("DELETE", f"/assets/{asset_id}"),
        ("POST", f"/galleries/{media.gallery}/uploads"),
    ]:
        response = await media.http.request(
            method, path, headers=stranger, json={"file_name": "x.jpg", "byte_size": 10}
        )
        assert response.status_code == 404, (method, path)

    row = await media.asset(asset_id)
    storage = media.runtime.storage
    assert isinstance(storage, LocalStorage)
    web = storage.path(f"renditions/{media.gallery}/{asset_id}/web.jpg")
    assert web.is_file()
    deleted = await media.http.delete(f"/assets/{asset_id}", headers=media.headers())
    assert deleted.status_code == 204
    assert not web.exists()
    assert not storage.path(f"originals/{media.gallery}/{asset_id}").exists()
    assert (await media.http.get(f"/assets/{asset_id}", headers=media.headers())).status_code == 404
    async with media.runtime.db.sessions() as session:
        payload = await session.scalar(
            select(outbox.c.payload).where(
                outbox.c.topic == AssetDeleted.topic,
                func.encode(outbox.c.payload, "escape").contains(asset_id),
            )
        )
    event = AssetDeleted.model_validate_json(payload)
    assert event.pseudonym == row["pseudonym"]


async def test_stalled_processing_is_queued_again_and_abandoned_uploads_go(media: Media) -> None:
    asset_id = await media.single("Flur.jpg", jpeg_with_gps(room_photo(640, 480, colour=(1, 2, 3))))
    await media.complete(asset_id)
    # A worker claimed the photo's job and died: its lease ran out an hour ago.
    async with media.runtime.db.transaction() as session:
        await session.execute(
            update(jobs)
            .where(jobs.c.kind == PROCESS, jobs.c.key == asset_id)
            .values(
                status="running",
                attempts=1,
                locked_by="a-dead-worker",
                locked_until=datetime.now(UTC) - timedelta(hours=1),
            )
        )
    assert (await media.asset(asset_id))["status"] == "queued"
    assert await media.process()
    assert (await media.asset(asset_id))["status"] == "processed"

    uploads = media.runtime.storage
    assert isinstance(uploads, LocalStorage)
    before = multipart_folders(uploads)
    ticket = await media.start("big.jpg", 12 * MiB)
    async with media.runtime.db.transaction() as session:
        await session.execute(
            update(assets)
            .where(assets.c.id == uuid.UUID(ticket["asset_id"]))
            .values(created_at=datetime.now(UTC) - timedelta(days=2))
        )
    assert multipart_folders(uploads) - before  # the abandoned upload's folder
    from pix_media.service import MediaLibrary
    from pix_media.uploads import Uploads  # the job app.py schedules

    library = MediaLibrary(media.runtime.db, uploads, MediaSettings())
    job = Uploads(media.runtime.db, uploads, MediaSettings(), library)
    assert await job.clean_abandoned() >= 1
    assert not multipart_folders(uploads) - before
    assert (
        await media.http.get(f"/assets/{ticket['asset_id']}", headers=media.headers())
    ).status_code == 404
