"""An original deleted by media's retention: the original-size bundle carries the web version in
its place and says so in originals/RETENTION.txt."""

from __future__ import annotations

import io
import uuid
import zipfile

from export_testkit import caption_ready, export_service, order_placed, uploaded


async def test_the_original_bundle_says_which_originals_the_retention_deleted(
    migrated: set[str],
) -> None:
    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        await svc.publish(order_placed(gallery_id, org_id, "PX-2026-0044"))
        for name in ("Kitchen_01", "Bathroom_01"):
            await svc.publish(await uploaded(svc, gallery_id, org_id, name))
            await svc.publish(caption_ready(gallery_id, org_id, name))
        await svc.deliver(gallery_id, org_id, ["Kitchen_01", "Bathroom_01"])
        await svc.runtime.storage.delete(
            f"originals/{gallery_id}/{uuid.uuid5(gallery_id, 'Bathroom_01')}"
        )
        version = (await svc.versions(gallery_id))[-1]
        async with svc.client() as http:
            made = await http.post(
                f"/galleries/{gallery_id}/exports/{version}/bundle",
                params={"size": "original"},
                headers=svc.headers(org_id),
            )
            assert made.status_code == 200, made.text
        bundle = zipfile.ZipFile(
            io.BytesIO(
                await svc.runtime.storage.get_bytes(
                    f"exports/{gallery_id}/v{version}/bundle-original.zip"
                )
            )
        )
        assert bundle.read("originals/Bathroom_01.jpg") == b"\xff\xd8\xff\xe0web-Bathroom_01"
        note = bundle.read("originals/RETENTION.txt").decode()
        assert "- Bathroom_01" in note
        assert "Kitchen_01" not in note
        assert "web version stands in" in note
