"""Interim previews are debounced on the service's clock (a burst of 40 captions makes a
handful), the delivered version carries every photo; redeliveries and failures behave.

Time is the service's clock, moved by the test: a busy machine cannot turn a short real pause
into a quiet period.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from export_testkit import caption_failed, caption_ready, export_service, uploaded
from pix_export.models import jobs
from pix_export.service import BUILD_GALLERY
from sqlalchemy import select


async def test_a_burst_of_40_captions_makes_a_handful_of_previews_and_one_delivered_version(
    migrated: set[str],
) -> None:
    async with export_service(debounce_quiet_seconds=5, debounce_max_seconds=20) as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        names = [f"Room_{i:02d}" for i in range(1, 41)]
        uploads = [await uploaded(svc, gallery_id, org_id, n) for n in names]
        for event in uploads:
            await svc.publish(event)
        for name in names:
            # A 40-photo gallery captioned over 80 s of the service's time; the periodic
            # job runs after each caption.
            await svc.publish(caption_ready(gallery_id, org_id, name))
            svc.runtime.clock.advance(timedelta(seconds=2))
            await svc.desk.flush_due()

        previews = await svc.versions(gallery_id)
        assert 2 <= len(previews) <= 8, previews  # every 20 s at the latest: 80 s / 20 s
        assert previews == list(range(1, len(previews) + 1))
        await svc.deliver(gallery_id, org_id, names)
        versions = await svc.versions(gallery_id)
        assert versions == [*previews, len(previews) + 1]

        events = await svc.exported(gallery_id)
        assert [e.version for e in events] == versions
        final = events[-1]
        assert final.asset_count == 40
        assert final.complete
        assert final.delivery == 1
        assert not any(e.complete or e.delivery for e in events[:-1])

        # Redelivered uploads, captions and the delivery change nothing: no version, no event;
        # the delivered version showed everything, so no preview of the same follows.
        for event in uploads[:5]:
            await svc.publish(event)
        await svc.publish(caption_ready(gallery_id, org_id, names[0]))
        await svc.deliver(gallery_id, org_id, names)
        svc.runtime.clock.advance(timedelta(minutes=5))
        await svc.desk.flush_due()
        assert await svc.versions(gallery_id) == versions

        files = {f.name: f for f in final.files}
        document = json.loads(
            await svc.runtime.storage.get_bytes(files["captions.json"].storage_key)
        )
        assert [i["name"] for i in document["images"]] == names
        assert {f"{n}.txt" for n in names} <= set(files)


async def test_a_failed_caption_is_delivered_as_listed_not_exported(
    migrated: set[str],
) -> None:
    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        for name in ("Kitchen_01", "Bathroom_01"):
            await svc.publish(await uploaded(svc, gallery_id, org_id, name))
        await svc.publish(caption_ready(gallery_id, org_id, "Kitchen_01"))
        # Media delivers once captioning gave up on Bathroom_01; its failure reaches export
        # after the delivery (another topic), twice.
        await svc.deliver(
            gallery_id, org_id, ["Kitchen_01", "Bathroom_01"], failed=("Bathroom_01",)
        )
        assert await svc.versions(gallery_id) == []  # Bathroom_01 still on its way here
        failed = caption_failed(gallery_id, org_id, "Bathroom_01")
        await svc.publish(failed)
        await svc.publish(failed)
        assert await svc.versions(gallery_id) == [1]  # the delivered one, at once
        async with svc.client() as http:
            listed = (
                await http.get(f"/galleries/{gallery_id}/exports", headers=svc.headers(org_id))
            ).json()
            photos = (
                await http.get(f"/galleries/{gallery_id}/photos", headers=svc.headers(org_id))
            ).json()
        assert listed[0]["complete"]
        assert listed[0]["delivery"] == 1
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


async def test_a_change_plants_the_build_that_runs_once_the_gallery_is_quiet(
    migrated: set[str],
) -> None:
    """No loop polls for due previews: each change plants a job due when the gallery will have
    been quiet; changes close together share one."""
    async with export_service(debounce_quiet_seconds=5, debounce_max_seconds=60) as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        names = ["Kitchen_01", "Bathroom_01", "Living_01"]
        for name in names:
            await svc.publish(await uploaded(svc, gallery_id, org_id, name))
        for name in names[:2]:
            await svc.publish(caption_ready(gallery_id, org_id, name))
            svc.runtime.clock.advance(timedelta(seconds=2))
        last_change = svc.runtime.clock.now() - timedelta(seconds=2)

        async def planted() -> list[tuple[str, object]]:
            async with svc.runtime.db.sessions() as session:
                rows = await session.execute(
                    select(jobs.c.status, jobs.c.run_at).where(
                        jobs.c.kind == BUILD_GALLERY, jobs.c.key.startswith(f"{gallery_id}:")
                    )
                )
                return [(r.status, r.run_at) for r in rows]

        queued = [run_at for status, run_at in await planted() if status == "queued"]
        assert 1 <= len(queued) <= 2  # two changes 2 s apart: one job each at most
        assert max(queued) >= last_change + timedelta(seconds=5)  # type: ignore[operator]
        await svc.runtime.jobs.run_due()  # not due yet (another test's sweep may be)
        assert await svc.versions(gallery_id) == []

        svc.runtime.clock.advance(timedelta(seconds=6))
        assert await svc.runtime.jobs.run_due() >= 1
        assert await svc.versions(gallery_id) == [1]
        assert not [s for s, _ in await planted() if s == "queued"]
