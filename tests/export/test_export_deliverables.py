"""Floor plans and videos in the exports: the delivery names them (media's
`GalleryDelivered.deliverables`), export puts the delivered files into OpenImmo (GRUNDRISS,
FILM and a FILMLINK), the onOffice and Propstack mappings and the bundles, never an original."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import uuid
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import openimmo_schema
from export_testkit import Service, caption_ready, export_service, order_placed, uploaded
from pix_contracts import DeliverableInSet, GalleryDelivered, PhotoInSet

sys.path.insert(0, str(Path(__file__).parent.parent / "media"))
from deliverable_files import make_mp4, make_pdf

NAMES = ["Kitchen_01", "Exterior_01"]


async def stored(
    svc: Service, gallery_id: uuid.UUID, kind: str, name: str, data: bytes, media_type: str
) -> DeliverableInSet:
    """The delivered file where media keeps it, and what the delivery says of it."""
    asset_id = uuid.uuid5(gallery_id, name)
    key = f"renditions/{gallery_id}/{asset_id}/file.{name.rsplit('.', 1)[1]}"
    await svc.runtime.storage.put_bytes(key, data, media_type)
    # The original (a phone's video with its GPS track) must never reach an export.
    await svc.runtime.storage.put_bytes(
        f"originals/{gallery_id}/{asset_id}", b"ORIGINAL WITH GPS", media_type
    )
    return DeliverableInSet(
        asset_id=asset_id,
        kind=kind,  # type: ignore[arg-type]
        name=name,
        file_key=key,
        media_type=media_type,
        byte_size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        duration_seconds=2.0 if kind == "video" else None,
    )


async def test_floor_plans_and_videos_reach_openimmo_the_crms_and_the_bundles(
    migrated: set[str],
) -> None:
    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        await svc.publish(order_placed(gallery_id, org_id, "PX-2026-0077"))
        for name in NAMES:
            await svc.publish(await uploaded(svc, gallery_id, org_id, name))
            await svc.publish(caption_ready(gallery_id, org_id, name))
        pdf, film = make_pdf(), make_mp4()
        plan = await stored(
            svc, gallery_id, "floor_plan", "FloorPlan_01.pdf", pdf, "application/pdf"
        )
        video = await stored(svc, gallery_id, "video", "Video_01.mp4", film, "video/mp4")
        await svc.publish(
            GalleryDelivered(
                gallery_id=gallery_id,
                org_id=org_id,
                order_id=uuid.uuid4(),
                delivery=1,
                set_version=3,
                photos=[
                    PhotoInSet(
                        asset_id=uuid.uuid5(gallery_id, n),
                        version=1,
                        outcome="captioned",
                        caption_version=1,
                    )
                    for n in NAMES
                ],
                deliverables=[plan, video],
                automatic=True,
            )
        )
        assert await svc.versions(gallery_id) == [1]
        [event] = await svc.exported(gallery_id)
        assert event.delivery == 1
        assert event.asset_count == 2  # photos; the plan and the film ride along
        files = {f.name: await svc.runtime.storage.get_bytes(f.storage_key) for f in event.files}

        archive = zipfile.ZipFile(io.BytesIO(files["openimmo.zip"]))
        root = ElementTree.fromstring(archive.read("openimmo.xml"))  # noqa: S314 (our own output)
        assert openimmo_schema.problems(root) == []
        attachments = [
            (a.get("location"), a.get("gruppe"), a.findtext("format"), a.findtext("daten/pfad"))
            for a in root.iter("anhang")
        ]
        assert ("INTERN", "GRUNDRISS", "application/pdf", "FloorPlan_01.pdf") in attachments
        assert ("INTERN", "FILM", "video/mp4", "Video_01.mp4") in attachments
        [link] = [a for a in attachments if a[1] == "FILMLINK"]
        assert link[0] == "EXTERN"
        assert link[3] is not None
        assert video.file_key in link[3]  # a signed link to the delivered file
        assert archive.read("FloorPlan_01.pdf") == pdf
        assert archive.read("Video_01.mp4") == film
        titles = {a.findtext("daten/pfad"): a.findtext("anhangtitel") for a in root.iter("anhang")}
        assert titles["FloorPlan_01.pdf"] == "Grundriss 01"

        onoffice = json.loads(files["onoffice-uploadfile.json"])
        arts = {f["image"]: f["parameters"]["Art"] for f in onoffice["files"]}
        assert arts["FloorPlan_01.pdf"] == "Grundriss"
        assert arts["Video_01.mp4"] == "Film"
        propstack = json.loads(files["propstack-images.json"])
        plans = [i["image"] for i in propstack if i["image"]["is_floorplan"]]
        assert [p["photo"] for p in plans] == ["FloorPlan_01.pdf"]

        web = zipfile.ZipFile(io.BytesIO(files["bundle-web.zip"]))
        assert web.read("files/FloorPlan_01.pdf") == pdf
        assert web.read("files/Video_01.mp4") == film

        async with svc.client() as http:
            made = await http.post(
                f"/galleries/{gallery_id}/exports/1/bundle",
                params={"size": "original"},
                headers=svc.headers(org_id),
            )
            assert made.status_code == 200, made.text
        original = zipfile.ZipFile(
            io.BytesIO(
                await svc.runtime.storage.get_bytes(f"exports/{gallery_id}/v1/bundle-original.zip")
            )
        )
        assert original.read("files/Video_01.mp4") == film
        assert not any(b"ORIGINAL WITH GPS" in original.read(name) for name in original.namelist())
