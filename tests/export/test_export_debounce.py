"""Debounced export versions: a burst of 40 captions makes a handful of versions, the last
one with every photo; redeliveries and failures behave."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

from export_testkit import caption_failed, caption_ready, export_service, uploaded
from pix_contracts import GalleryExported
from pix_export.models import outbox
from sqlalchemy import func, select


async def test_a_burst_of_40_captions_makes_a_handful_of_versions_and_a_final_one(
    migrated: set[str],
) -> None:
    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        names = [f"Room_{i:02d}" for i in range(1, 41)]
        uploads = [await uploaded(svc, gallery_id, org_id, n) for n in names]
        for event in uploads:
            await svc.publish(event)

        async def flusher() -> None:  # what runtime.every does in the service
            while True:
                await svc.desk.flush_due()
                await asyncio.sleep(0.05)

        job = asyncio.create_task(flusher())
        try:
            for name in names:
                await svc.publish(caption_ready(gallery_id, org_id, name))
                await asyncio.sleep(0.04)  # a 40-photo gallery captioned over ~2 s
        finally:
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job

        versions = await svc.versions(gallery_id)
        assert 2 <= len(versions) <= 8, versions
        assert versions == list(range(1, len(versions) + 1))
        async with svc.runtime.db.sessions() as session:
            payloads = (
                await session.execute(
                    select(outbox.c.payload).where(
                        outbox.c.topic == GalleryExported.topic,
                        func.encode(outbox.c.payload, "escape").contains(str(gallery_id)),
                    )
                )
            ).scalars()
            events = sorted(
                (GalleryExported.model_validate_json(p) for p in payloads), key=lambda e: e.version
            )
        assert [e.version for e in events] == versions
        final = events[-1]
        assert final.asset_count == 40
        assert final.complete
        assert not any(e.complete for e in events[:-1])

        # Redelivered uploads and captions change nothing: no version, no event.
        for event in uploads[:5]:
            await svc.publish(event)
        await svc.publish(caption_ready(gallery_id, org_id, names[0]))
        await svc.desk.flush_due()
        assert await svc.versions(gallery_id) == versions

        files = {f.name: f for f in final.files}
        document = json.loads(
            await svc.runtime.storage.get_bytes(files["captions.json"].storage_key)
        )
        assert [i["name"] for i in document["images"]] == names
        assert {f"{n}.txt" for n in names} <= set(files)


async def test_a_failed_caption_completes_the_gallery_and_is_listed_not_exported(
    migrated: set[str],
) -> None:
    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        for name in ("Kitchen_01", "Bathroom_01"):
            await svc.publish(await uploaded(svc, gallery_id, org_id, name))
        await svc.publish(caption_ready(gallery_id, org_id, "Kitchen_01"))
        assert await svc.versions(gallery_id) == []  # Bathroom_01 still on its way
        failed = caption_failed(gallery_id, org_id, "Bathroom_01")
        await svc.publish(failed)
        await svc.publish(failed)
        assert await svc.versions(gallery_id) == [1]  # the final one, at once
        async with svc.client() as http:
            listed = (
                await http.get(f"/galleries/{gallery_id}/exports", headers=svc.headers(org_id))
            ).json()
            photos = (
                await http.get(f"/galleries/{gallery_id}/photos", headers=svc.headers(org_id))
            ).json()
        assert listed[0]["complete"]
        assert listed[0]["failed_count"] == 1
        assert listed[0]["asset_count"] == 1
        assert {p["name"]: p["status"] for p in photos["photos"]} == {
            "Bathroom_01": "failed",
            "Kitchen_01": "ready",
        }
        captions = next(f for f in listed[0]["files"] if f["name"] == "captions.json")
        key = f"exports/{gallery_id}/v1/captions.json"
        assert captions["sha256"]
        document = json.loads(await svc.runtime.storage.get_bytes(key))
        assert [i["name"] for i in document["images"]] == ["Kitchen_01"]
        assert document["failed"][0]["name"] == "Bathroom_01"
