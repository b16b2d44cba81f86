"""Floor plans and videos in the browser: a client orders photos, a floor plan and a video,
opens the order's gallery and drops a real PDF floor plan, an SVG carrying a script and a real
MP4 onto their own uploaders (progress bars as for photos). The plan gets its preview and the
video its poster frame; the SVG is refused with the reason in German. An order without those
services shows no such uploader."""

from __future__ import annotations

import asyncio
import base64
import re
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from conftest import snap
from playwright.async_api import Page, expect
from stack import Stack
from staff import BERLIN, ORDER, api
from test_orders_gallery_browser import signed_up_and_in

sys.path.insert(0, str(Path(__file__).parent.parent / "media"))
from deliverable_files import SVG_WITH_SCRIPT, make_mp4, make_pdf


async def drop(page: Page, kind: str, name: str, media_type: str, data: bytes) -> None:
    transfer = await page.evaluate_handle(
        """([data, name, type]) => {
            const dt = new DataTransfer();
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            dt.items.add(new File([bytes], name, {type}));
            return dt;
        }""",
        [base64.b64encode(data).decode(), name, media_type],
    )
    await page.dispatch_event(
        f"[data-test=upload-{kind}] .dropzone", "drop", {"dataTransfer": transfer}
    )


async def gallery_opened(page: Page, gallery_id: str) -> None:
    """Media opens the gallery when it hears of the order (an event): wait for it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, _ = await api(page, "GET", f"/api/media/galleries/{gallery_id}")
        if status == 200:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"gallery {gallery_id} was not opened")


async def test_a_floor_plan_and_a_video_are_uploaded_through_the_gallery_page(
    page: Page, stack: Stack
) -> None:
    email = await signed_up_and_in(page, stack)
    soon = (datetime.now(BERLIN).date() + timedelta(days=9)).isoformat()
    body = {
        **ORDER,
        "services": ["photos", "floorplan", "video"],
        "contact_email": email,
        "street": "Grundrissweg",
        "preferred_slots": [{"date": soon, "window": "morning"}],
    }
    status, order = await api(page, "POST", "/api/orders/orders", body)
    assert status == 201, order
    await gallery_opened(page, order["gallery_id"])
    await page.goto(f"{stack.base_url}/galleries/{order['gallery_id']}")
    await expect(page.locator("[data-test=upload-floor_plan] h2")).to_have_text(
        "Grundrisse hochladen"
    )

    await drop(page, "floor_plan", "Grundriss EG.pdf", "application/pdf", make_pdf(pages=2))
    bar = page.locator("[data-test=upload-floor_plan] .upload-list progress")
    await expect(bar.first).to_have_js_property("value", 1, timeout=30_000)
    plan = page.locator("[data-test=floor_plan]").first
    await expect(plan).to_have_attribute("data-status", "ready", timeout=45_000)
    await expect(plan).to_contain_text("FloorPlan_01")
    await expect(plan).to_contain_text("2 Seite(n)")
    preview = plan.locator("[data-test=floor_plan-preview]")
    await expect(preview).to_have_js_property("complete", True)
    assert await preview.evaluate("img => img.naturalWidth") == 400

    await drop(page, "floor_plan", "plan.svg", "image/svg+xml", SVG_WITH_SCRIPT)
    refused = page.locator("[data-test=floor_plan][data-status=rejected]")
    await expect(refused).to_have_count(1, timeout=45_000)
    await expect(refused).to_contain_text("enthält Skripte")

    await drop(page, "video", "Rundgang.mp4", "video/mp4", make_mp4(frames=30))
    film = page.locator("[data-test=video]").first
    await expect(film).to_have_attribute("data-status", "ready", timeout=45_000)
    await expect(film).to_contain_text("Video_01")
    await expect(film.locator("[data-test=video-preview]")).to_have_js_property("complete", True)
    await expect(film.locator("[data-test=video-file]")).to_have_attribute(
        "href", re.compile(r"/api/media/storage/renditions/")
    )
    await snap(page, "80-deliverables")

    # The photo grid shows photos only.
    await expect(page.locator("[data-test=photo]")).to_have_count(0)

    # An order of photos only: no floor plan or video uploader, and media refuses one.
    status, photos_only = await api(
        page,
        "POST",
        "/api/orders/orders",
        {**body, "services": ["photos"], "street": "Fotostraße"},
    )
    assert status == 201, photos_only
    await gallery_opened(page, photos_only["gallery_id"])
    await page.goto(f"{stack.base_url}/galleries/{photos_only['gallery_id']}")
    await expect(page.locator("[data-test=upload-floor_plan]")).to_have_count(0)
    status, refusal = await api(
        page,
        "POST",
        f"/api/media/galleries/{photos_only['gallery_id']}/uploads",
        {"file_name": "plan.pdf", "byte_size": 1000, "kind": "floor_plan"},
    )
    assert status == 422
    assert refusal["error"]["code"] == "service_not_ordered"
