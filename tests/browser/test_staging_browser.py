"""Virtual staging from the gallery in the browser: an agent orders a shoot, uploads an empty
living room, and once the gallery is delivered to the order's listing chooses "Virtuell
einrichten" with a style on the captioned photo. The page answers at once and shows the
progress while the image model works (the local image-edit server holds its answer until the
test lets it go: a model slower than any proxy's timeout), then the staged photo with its
label, and stops polling.

The whole platform as `make run` starts it, the assistant's image model pointed at the local
OpenAI-compatible fake (tests/assistant/chat_fake.py).
"""

from __future__ import annotations

import base64
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from photos import jpeg_with_gps, room_photo
from playwright.async_api import Page, expect
from stack import Stack, run_stack
from test_orders_gallery_browser import signed_up_and_in

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assistant"))
from chat_fake import ChatFake, ServerThread


@pytest.fixture(scope="module")
def image_model() -> Iterator[ChatFake]:
    fake = ChatFake()
    server = ServerThread(fake)
    server.start()
    yield fake
    fake.image_gate = None
    server.stop()


@pytest.fixture(scope="module")
def staging_stack(scratch: Path, image_model: ChatFake) -> Iterator[Stack]:
    data_dir = scratch / "stack-staging"
    data_dir.mkdir()
    settings = {
        "PIX_ASSISTANT_STAGING_PROVIDER": "openai",
        "PIX_ASSISTANT_STAGING_BASE_URL": image_model.url,
        "PIX_ASSISTANT_STAGING_API_KEY": "image-key",
        "PIX_ASSISTANT_STAGING_MODEL": "image-edit-1",
        # Delivered soon after the photo is captioned (a minute in production).
        "PIX_MEDIA_DELIVERY_QUIET_SECONDS": "2",
    }
    yield from run_stack(data_dir, settings)


async def _order(page: Page, stack: Stack) -> str:
    await page.goto(stack.base_url + "/orders/new")
    await page.get_by_label("Telefon").fill("030 1234567")
    await page.get_by_label("Straße").fill("Lindenallee")
    await page.get_by_label("Hausnr.").fill("5")
    await page.get_by_label("PLZ").fill("10115")
    await page.get_by_label("Ort").fill("Berlin")
    await page.get_by_label("Wohnfläche (m²)").fill("96")
    await page.get_by_label("Zimmer").fill("3,5")
    await page.get_by_label("Kauf").check()
    soon = (date.today() + timedelta(days=9)).isoformat()
    await page.get_by_label("Termin 1", exact=True).fill(soon)
    await page.get_by_role("button", name="Verbindlich bestellen").click()
    await expect(page.get_by_role("status")).to_contain_text("ist eingegangen")
    return (await page.get_by_role("heading", level=1).inner_text()).split()[0]


async def _upload(page: Page, name: str) -> None:
    data = base64.b64encode(jpeg_with_gps(room_photo(1600, 1200, colour=(200, 190, 175)))).decode()
    transfer = await page.evaluate_handle(
        """([name, data]) => {
            const dt = new DataTransfer();
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            dt.items.add(new File([bytes], name, {type: "image/jpeg"}));
            return dt;
        }""",
        [name, data],
    )
    await page.dispatch_event(".dropzone", "drop", {"dataTransfer": transfer})


async def _listing_has_photos(page: Page, stack: Stack, listing_id: str) -> None:
    """Wait until listings took the delivered photos (it learns of the delivery by event)."""
    deadline = time.monotonic() + 90
    while True:
        answer = await page.request.get(f"{stack.base_url}/api/listings/listings/{listing_id}")
        if answer.ok and (await answer.json()).get("media"):
            return
        assert time.monotonic() < deadline, "the delivered photos never reached the listing"
        await page.wait_for_timeout(300)


async def test_staging_a_photo_from_the_gallery(
    page: Page, staging_stack: Stack, image_model: ChatFake
) -> None:
    stack = staging_stack
    await signed_up_and_in(page, stack)
    reference = await _order(page, stack)
    await page.goto(stack.base_url + "/orders")
    await (
        page.locator("[data-test=order-history]")
        .get_by_role("link", name="Zur Galerie")
        .first.click()
    )
    await expect(page.get_by_role("heading", level=1)).to_contain_text(reference)

    # The gallery belongs to the order's listing: the staging panel says where results go.
    panel = page.locator("[data-test=stagings]")
    await expect(panel.locator("[data-test=staging-listing]")).to_contain_text(
        reference, timeout=30_000
    )
    listing_link = panel.locator("[data-test=staging-listing] a")
    listing_id = (await listing_link.get_attribute("href") or "").split("/")[2].split("#")[0]

    await _upload(page, "Wohnzimmer_01.jpg")
    photo = page.locator("[data-test=photo]").first
    await expect(photo).to_have_attribute("data-status", "captioned", timeout=60_000)
    await expect(page.locator("[data-test=delivery-state]")).to_have_attribute(
        "data-delivered", "yes", timeout=60_000
    )
    await _listing_has_photos(page, stack, listing_id)

    # The image model takes its time: the page answers at once and shows the progress.
    gate = threading.Event()
    image_model.image_gate = gate
    try:
        form = page.locator("[data-test=photo]").first.locator("[data-test=gallery-stage]")
        await form.get_by_label("Stil").select_option("scandinavian")
        await form.get_by_role("button", name="Virtuell einrichten").click()
        card = panel.locator("[data-test=staging]")
        await expect(card).to_have_attribute("data-status", "running", timeout=30_000)
        await expect(card).to_contain_text("Wird eingerichtet")
        await expect(card).to_have_attribute("hx-trigger", "every 1s")
        await expect(card.locator("progress")).to_be_visible()
    finally:
        gate.set()
        image_model.image_gate = None

    await expect(card).to_have_attribute("data-status", "done", timeout=30_000)
    await expect(card.locator("[data-test=staged-label]")).to_have_text("Virtuell eingerichtet")
    await expect(card.locator("img")).to_be_visible()
    # Done: the card no longer polls.
    assert await card.get_attribute("hx-trigger") is None
    [edit] = image_model.image_edits
    assert "Scandinavian" in edit["prompt"]

    # The staged photo is the listing's, beside its original there.
    await card.get_by_role("link", name="Zum Objekt").click()
    staged = page.locator("figure.photo-card[data-staged=true]")
    await expect(staged).to_have_count(1)
    await expect(staged.locator("[data-test=staged-label]")).to_have_text("Virtuell eingerichtet")

    # Staging from the listing page follows the job too, and the new photo joins the media.
    original = page.locator("figure.photo-card:not([data-staged=true])").first
    await original.locator("select[name=style]").select_option("classic")
    await original.locator("[data-test=stage-button]").click()
    await expect(staged).to_have_count(2, timeout=30_000)
    assert "classic" in image_model.image_edits[-1]["prompt"]
