"""A deleted photo leaves the next export version, and a late caption cannot bring it back."""

from __future__ import annotations

import json
import uuid

from export_testkit import asset_id, caption_ready, export_service, uploaded
from pix_contracts import AssetDeleted
from pix_export.models import exports


async def test_a_deleted_photo_leaves_the_export_for_good(migrated: set[str]) -> None:
    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        for name in ("Kitchen_01", "Bathroom_01"):
            await svc.publish(await uploaded(svc, gallery_id, org_id, name))
        for name in ("Kitchen_01", "Bathroom_01"):
            await svc.publish(caption_ready(gallery_id, org_id, name))
        await svc.deliver(gallery_id, org_id, ["Kitchen_01", "Bathroom_01"])
        before = await svc.versions(gallery_id)
        assert before

        deleted = AssetDeleted(
            asset_id=asset_id(gallery_id, "Kitchen_01"),
            gallery_id=gallery_id,
            org_id=org_id,
            pseudonym="Kitchen_01",
            deleted_by=uuid.uuid4(),
        )
        await svc.publish(deleted)
        await svc.publish(deleted)  # redelivered
        # Media delivers the gallery again without it (an update).
        await svc.deliver(gallery_id, org_id, ["Bathroom_01"], delivery=2)
        after = await svc.versions(gallery_id)
        assert after == [*before, before[-1] + 1]

        # The caption of the deleted photo arrives late (another topic, no ordering).
        await svc.publish(caption_ready(gallery_id, org_id, "Kitchen_01", version=2))
        assert await svc.versions(gallery_id) == after

        async with svc.runtime.db.sessions() as session:
            files = (
                (
                    await session.execute(
                        exports.select().where(
                            exports.c.gallery_id == gallery_id, exports.c.version == after[-1]
                        )
                    )
                )
                .mappings()
                .one()["files"]
            )
        key = next(f["storage_key"] for f in files if f["name"] == "captions.json")
        document = json.loads(await svc.runtime.storage.get_bytes(key))
        assert [image["name"] for image in document["images"]] == ["Bathroom_01"]
