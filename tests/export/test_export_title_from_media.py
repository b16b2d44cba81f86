"""Export follows the client's title picture from media (media.gallery.arranged.v1): it becomes
the cover of the next version (OpenImmo TITELBILD) and a later arrangement replaces it."""

from __future__ import annotations

import uuid

from export_testkit import caption_ready, export_service, order_placed, uploaded
from pix_contracts.galleries import GalleryArranged


async def test_the_title_picture_chosen_in_media_is_the_exports_cover(
    migrated: set[str],
) -> None:
    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        await svc.publish(order_placed(gallery_id, org_id, "PX-2026-0077"))
        for name in ("Bathroom_01", "Kitchen_01", "Exterior_01"):
            await svc.publish(await uploaded(svc, gallery_id, org_id, name))
            await svc.publish(caption_ready(gallery_id, org_id, name))

        async def cover() -> tuple[str | None, bool]:
            async with svc.client() as http:
                view = (
                    await http.get(f"/galleries/{gallery_id}/photos", headers=svc.headers(org_id))
                ).json()
            names = {p["asset_id"]: p["name"] for p in view["photos"]}
            return names.get(view["cover_asset_id"]), view["cover_chosen"]

        assert await cover() == ("Exterior_01", False)
        bathroom = uuid.uuid5(gallery_id, "Bathroom_01")
        arranged = GalleryArranged(
            gallery_id=gallery_id,
            org_id=org_id,
            asset_ids=[bathroom],
            title_asset_id=bathroom,
            revision=1,
        )
        await svc.publish(arranged)
        await svc.publish(arranged)  # a redelivery changes nothing twice
        assert await cover() == ("Bathroom_01", True)

        await svc.publish(
            GalleryArranged(
                gallery_id=gallery_id, org_id=org_id, asset_ids=[], title_asset_id=None, revision=2
            )
        )
        assert await cover() == ("Exterior_01", False)
