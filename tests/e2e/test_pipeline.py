"""One real photo through every service, on the stack exactly as `make run` starts it."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer
from client import login, new_client_account, place_order, upload, wait_for, wait_for_gallery
from photos import GPS_IFD, SECRET, jpeg_with_gps, room_photo
from PIL import Image
from pix_contracts import GalleryExported
from stack import Stack


async def test_photo_flows_from_upload_to_export_and_email(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        admin = await login(http, stack.admin_email, stack.admin_password)
        me = await http.get("/api/auth/me", headers=admin)
        assert me.json()["role"] == "admin"

        agent = await new_client_account(http, stack.data_dir / "mail")
        order = await place_order(http, agent)
        gallery_id = order["gallery_id"]
        gallery = await wait_for_gallery(http, agent, gallery_id)
        assert gallery["reference"] == order["reference"]
        assert gallery["assets"] == []

        exports = AIOKafkaConsumer(
            GalleryExported.topic,
            bootstrap_servers=stack.kafka_bootstrap,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=10,
        )
        await exports.start()
        try:
            photo = jpeg_with_gps(room_photo(4000, 3000))
            assert b"Exif" in photo
            assert SECRET.encode() in photo
            started = time.perf_counter()
            completed = await upload(http, agent, gallery_id, "Küche_01.jpg", photo)
            upload_done = time.perf_counter()
            assert completed.status_code == 200, completed.text
            asset = completed.json()
            assert asset["pseudonym"] == "Kitchen_01"
            assert asset["room_type"] == "kitchen"
            assert (asset["width"], asset["height"]) == (4000, 3000)

            async def captioned() -> bool:
                response = await http.get(f"/api/media/assets/{asset['id']}", headers=agent)
                return response.json()["status"] == "captioned"

            await wait_for(captioned)
            captioned_at = time.perf_counter()
            # An admin delivers the gallery with one click (auto-delivery would after a quiet
            # minute); the order follows.
            refused = await http.post(f"/api/media/galleries/{gallery_id}/deliver", headers=agent)
            assert refused.status_code == 403
            delivering = time.perf_counter()
            delivered_now = await http.post(
                f"/api/media/galleries/{gallery_id}/deliver", headers=admin
            )
            assert delivered_now.status_code == 200, delivered_now.text
            event = await asyncio.wait_for(next_export_of(exports, gallery_id), timeout=30)
            exported_at = time.perf_counter()
        finally:
            await exports.stop()
        print(
            f"\nupload+processing {1000 * (upload_done - started):.0f} ms; "
            f"upload-complete → captioned {1000 * (captioned_at - upload_done):.0f} ms; "
            f"deliver → delivered export event {1000 * (exported_at - delivering):.0f} ms"
        )
        assert event.version >= 1
        assert event.delivery == 1
        assert event.complete
        assert event.asset_count == 1
        files = {f.name: f for f in event.files}
        assert {"captions.json", "captions.txt", "openimmo.zip", "bundle-web.zip"} <= set(files)

        # The export, fetched through its signed link, carries the caption.
        captions = (await http.get(files["captions.json"].download_url)).json()
        image = captions["images"][0]
        assert image["name"] == "Kitchen_01"
        assert image["room_type"] == "kitchen"
        assert 0 < len(image["title_de"]) <= 30
        assert 0 < len(image["title_en"]) <= 30
        assert "Küche" in image["title_de"] + image["description_de"]
        text = (await http.get(files["captions.txt"].download_url)).text
        assert text.index("[DE]") < text.index("[EN]")

        # The per-photo caption files in storage.
        storage = stack.data_dir / "storage"
        caption_json = json.loads((storage / f"captions/{gallery_id}/Kitchen_01.json").read_text())
        assert caption_json["model"] == "offline-template-v1"
        assert caption_json["provider"] == "offline"
        assert (
            (storage / f"captions/{gallery_id}/Kitchen_01.txt").read_text().startswith("Kitchen_01")
        )

        # What captioning read (the web rendition) carries no metadata at all.
        web = storage / f"renditions/{gallery_id}/{asset['id']}/web.jpg"
        assert_no_metadata(web)
        for path in (storage / "captions" / gallery_id).iterdir():
            assert SECRET not in path.read_text()

        # The gallery-ready email (and the order confirmation) are in the dev outbox.
        async def mails() -> dict[str, str]:
            ours = {
                p.name.rsplit("_", 2)[-1]: p.read_text()
                for p in (stack.data_dir / "mail").glob("*.eml")
                if order["reference"] in p.read_text()
            }
            return ours if "ready.eml" in ours else {}

        delivered = await wait_for(mails)
        ready = delivered["ready.eml"]
        assert "To: erika@makler-example.de" in ready
        assert f"Subject: Ihre Galerie {order['reference']} ist fertig" in ready
        assert "captions.json" in ready
        assert "confirmation.eml" in delivered

        mail_log = await http.get("/api/notify/mail", headers=admin)
        assert {m["kind"] for m in mail_log.json()} >= {"order_confirmation", "gallery_ready"}
        forbidden = await http.get("/api/notify/mail", headers=agent)
        assert forbidden.status_code == 403

        async def order_delivered() -> bool:
            response = await http.get(f"/api/orders/orders/{order['id']}", headers=agent)
            return response.json()["status"] == "delivered"

        await wait_for(order_delivered)


async def test_photos_uploaded_slowly_make_exactly_one_ready_email(stack: Stack) -> None:
    """Each photo captioned before the next is uploaded (a slow connection): the set is
    complete again and again, and still the client hears once, after the quiet period."""
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        admin = await login(http, stack.admin_email, stack.admin_password)
        agent = await new_client_account(http, stack.data_dir / "mail")
        order = await place_order(http, agent)
        gallery_id = order["gallery_id"]
        await wait_for_gallery(http, agent, gallery_id)
        names = ["Küche_01.jpg", "Bad_01.jpg", "Wohnzimmer_01.jpg", "Flur_01.jpg", "Balkon_01.jpg"]
        for index, name in enumerate(names):
            photo = jpeg_with_gps(room_photo(1600, 1200, colour=(200, 180 - 20 * index, 160)))
            completed = await upload(http, agent, gallery_id, name, photo)
            assert completed.status_code == 200, completed.text
            asset_id = completed.json()["id"]

            async def captioned(asset_id: str = asset_id) -> bool:
                response = await http.get(f"/api/media/assets/{asset_id}", headers=agent)
                return response.json()["status"] == "captioned"

            await wait_for(captioned)

        def ready_mails() -> list[Path]:
            return [
                p
                for p in (stack.data_dir / "mail").glob("*ready.eml")
                if order["reference"] in p.read_text()
            ]

        async def one_ready_mail() -> list[Path]:
            return ready_mails()

        # Auto-delivery waits out the quiet period (a minute by default) after the last caption.
        [mail] = await wait_for(one_ready_mail, timeout=180, interval=0.5)
        assert f"{len(names)} Foto(s)" in mail.read_text()

        async def delivered_state() -> dict[str, object] | None:
            response = await http.get(f"/api/media/galleries/{gallery_id}/delivery", headers=agent)
            state: dict[str, object] = response.json()
            return state if state["delivered"] else None

        state = await wait_for(delivered_state)
        # Delivered once and nothing changed since: no further delivery can mail again.
        assert state["delivery_count"] == 1
        assert state["up_to_date"]
        assert len(ready_mails()) == 1
        exports = (
            await http.get(f"/api/exports/galleries/{gallery_id}/exports", headers=agent)
        ).json()
        delivered = [e for e in exports if e["delivery"] is not None]
        assert [(e["delivery"], e["asset_count"], e["complete"]) for e in delivered] == [
            (1, len(names), True)
        ]
        mail_log = (await http.get("/api/notify/mail", headers=admin)).json()
        to_client = [
            m["kind"]
            for m in mail_log
            if order["reference"] in m["subject"] and m["recipient"] == "erika@makler-example.de"
        ]
        assert sorted(to_client) == ["gallery_ready", "order_confirmation"]


async def next_export_of(consumer: AIOKafkaConsumer, gallery_id: str) -> GalleryExported:
    async for record in consumer:
        event = GalleryExported.model_validate_json(record.value)
        if str(event.gallery_id) == gallery_id:
            headers = dict(record.headers)
            assert headers["ce_type"] == b"immo.pix.export.gallery.exported.v1"
            assert headers["ce_id"] == str(event.event_id).encode()
            return event
    raise AssertionError("consumer stopped")


def assert_no_metadata(path: Path) -> None:
    raw = path.read_bytes()
    assert b"Exif" not in raw
    assert SECRET.encode() not in raw
    assert b"PixTestCam" not in raw
    assert b"http://ns.adobe.com/xap" not in raw
    with Image.open(io.BytesIO(raw)) as image:
        exif = image.getexif()
        assert not exif
        assert not exif.get_ifd(GPS_IFD)
        assert "icc_profile" not in image.info
