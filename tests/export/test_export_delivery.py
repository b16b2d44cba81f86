"""Delivered versions: export builds exactly the photo set media delivered, once its captions
have arrived here, whatever order the topics deliver in; only delivered versions go to
webhooks and CRMs."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from export_testkit import Service, caption_ready, export_service, uploaded
from pix_export.models import crm_pushes, webhook_deliveries
from sqlalchemy import func, select

NAMES = ["Kitchen_01", "Bathroom_01", "Exterior_01"]


async def forget_webhooks(svc: Service, org_id: uuid.UUID) -> None:
    """The test's endpoints go, with their queued deliveries, so no other test sends them."""
    async with svc.client() as http:
        for hook in (await http.get("/webhooks", headers=svc.headers(org_id))).json():
            await http.delete(f"/webhooks/{hook['id']}", headers=svc.headers(org_id))


async def outgoing(svc: Service, org_id: uuid.UUID, gallery_id: uuid.UUID) -> tuple[int, int]:
    """(webhook deliveries of the organisation, CRM pushes of the gallery) queued so far."""
    async with svc.runtime.db.sessions() as session:
        hooks = await session.scalar(
            select(func.count()).where(webhook_deliveries.c.org_id == org_id)
        )
        pushes = await session.scalar(
            select(func.count()).where(crm_pushes.c.gallery_id == gallery_id)
        )
    return int(hooks or 0), int(pushes or 0)


async def titles(svc: Service, gallery_id: uuid.UUID, version: int) -> dict[str, str]:
    key = f"exports/{gallery_id}/v{version}/captions.json"
    document = json.loads(await svc.runtime.storage.get_bytes(key))
    return {i["name"]: i["title_de"] for i in document["images"]}


async def test_a_delivery_ahead_of_its_captions_waits_for_them_then_builds_once(
    migrated: set[str],
) -> None:
    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        async with svc.client() as http:
            hook = await http.post(
                "/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=svc.headers(org_id)
            )
            assert hook.status_code == 201, hook.text
        # The delivery overtakes everything: captions first, uploads last, some twice.
        delivered = await svc.deliver(gallery_id, org_id, NAMES)
        await svc.publish(delivered)
        for name in NAMES[:2]:
            await svc.publish(caption_ready(gallery_id, org_id, name))
        assert await svc.versions(gallery_id) == []
        for name in NAMES:
            await svc.publish(await uploaded(svc, gallery_id, org_id, name))
        await svc.publish(caption_ready(gallery_id, org_id, NAMES[0]))
        assert await svc.versions(gallery_id) == []  # Exterior_01's caption still missing
        await svc.publish(caption_ready(gallery_id, org_id, NAMES[2]))
        assert await svc.versions(gallery_id) == [1]
        await svc.publish(caption_ready(gallery_id, org_id, NAMES[2]))
        await svc.publish(delivered)
        svc.runtime.clock.advance(timedelta(minutes=5))
        await svc.desk.flush_due()
        assert await svc.versions(gallery_id) == [1]
        [event] = await svc.exported(gallery_id)
        assert event.delivery == 1
        assert event.complete
        assert event.asset_count == 3
        assert await outgoing(svc, org_id, gallery_id) == (1, 0)
        await forget_webhooks(svc, org_id)


async def test_previews_stay_inside_and_a_newer_delivery_waits_for_the_edited_caption(
    migrated: set[str],
) -> None:
    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        async with svc.client() as http:
            await http.post(
                "/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=svc.headers(org_id)
            )
        for name in NAMES:
            await svc.publish(await uploaded(svc, gallery_id, org_id, name))
            await svc.publish(caption_ready(gallery_id, org_id, name))
        svc.runtime.clock.advance(timedelta(minutes=1))
        await svc.desk.flush_due()
        [preview] = await svc.exported(gallery_id)
        assert not preview.complete
        assert preview.delivery is None
        assert await outgoing(svc, org_id, gallery_id) == (0, 0)  # previews never leave

        await svc.deliver(gallery_id, org_id, NAMES)
        # The client edits a caption; media delivers the update with caption version 2 before
        # the edit reaches export, and an old copy of delivery 1 comes again.
        update = await svc.deliver(
            gallery_id, org_id, NAMES, delivery=2, caption_versions={"Kitchen_01": 2}
        )
        first = await svc.deliver(gallery_id, org_id, NAMES)
        assert await svc.versions(gallery_id) == [1, 2]
        await svc.publish(
            caption_ready(gallery_id, org_id, "Kitchen_01", version=2).model_copy(
                update={
                    "caption": caption_ready(gallery_id, org_id, "Kitchen_01").caption.model_copy(
                        update={"title_de": "Küche mit Ausblick"}
                    )
                }
            )
        )
        assert await svc.versions(gallery_id) == [1, 2, 3]
        assert (await titles(svc, gallery_id, 3))["Kitchen_01"] == "Küche mit Ausblick"
        events = await svc.exported(gallery_id)
        assert [e.delivery for e in events] == [None, 1, 2]
        assert await outgoing(svc, org_id, gallery_id) == (2, 0)
        await forget_webhooks(svc, org_id)
        assert update.delivery == 2
        assert first.delivery == 1


async def test_a_photo_deleted_after_the_delivery_does_not_hold_it(migrated: set[str]) -> None:
    from export_testkit import asset_id
    from pix_contracts import AssetDeleted

    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        for name in NAMES[:2]:
            await svc.publish(await uploaded(svc, gallery_id, org_id, name))
            await svc.publish(caption_ready(gallery_id, org_id, name))
        await svc.deliver(gallery_id, org_id, NAMES)
        await svc.publish(
            AssetDeleted(
                asset_id=asset_id(gallery_id, NAMES[2]),
                gallery_id=gallery_id,
                org_id=org_id,
                pseudonym=NAMES[2],
                deleted_by=uuid.uuid4(),
            )
        )
        assert await svc.versions(gallery_id) == [1]
        assert set(await titles(svc, gallery_id, 1)) == set(NAMES[:2])


async def test_a_restart_between_the_delivery_and_the_last_caption_builds_it_once(
    migrated: set[str],
) -> None:
    gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
    async with export_service() as svc:
        await svc.publish(await uploaded(svc, gallery_id, org_id, NAMES[0]))
        await svc.deliver(gallery_id, org_id, NAMES[:2])
        await svc.publish(caption_ready(gallery_id, org_id, NAMES[0]))
        assert await svc.versions(gallery_id) == []
    async with export_service() as svc:
        await svc.publish(await uploaded(svc, gallery_id, org_id, NAMES[1]))
        await svc.publish(caption_ready(gallery_id, org_id, NAMES[1]))
        await svc.publish(caption_ready(gallery_id, org_id, NAMES[1]))
        await svc.desk.flush_due()
        assert await svc.versions(gallery_id) == [1]
        [event] = await svc.exported(gallery_id)
        assert event.delivery == 1
        assert event.asset_count == 2
