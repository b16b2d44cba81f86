"""A person orders a shoot, finds it in the history, uploads photos into its gallery, watches
them get captioned, edits a caption and downloads the export."""

from __future__ import annotations

import base64
import io
import uuid
import zipfile
from datetime import date, timedelta
from pathlib import Path

from conftest import snap
from dev_outbox import wait_for_link
from photos import jpeg_with_gps, room_photo
from playwright.async_api import Page, expect
from stack import Stack

PASSWORD = "Blauer-Fensterladen-31"


async def signed_up_and_in(page: Page, stack: Stack) -> str:
    address = f"agent-{uuid.uuid4().hex[:8]}@immobilien-example.de"
    await page.goto(stack.base_url + "/register")
    await page.get_by_label("Ihr Name").fill("Erika Muster")
    await page.get_by_label("Firma / Maklerbüro").fill("Muster Immobilien GmbH")
    await page.get_by_label("E-Mail").fill(address)
    await page.get_by_label("Passwort").fill(PASSWORD)
    await page.get_by_role("button", name="Registrieren").click()
    await expect(page.get_by_role("status")).to_contain_text("Fast geschafft")
    # Ordering needs a confirmed address: follow the link from the mail.
    await page.goto(await wait_for_link(stack.data_dir / "mail", address, "/verify-email"))
    await expect(page.get_by_role("status")).to_contain_text("bestätigt")
    await page.goto(stack.base_url + "/login")
    await page.get_by_label("E-Mail").fill(address)
    await page.get_by_label("Passwort").fill(PASSWORD)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page).to_have_url(stack.base_url + "/dashboard")
    return address


async def test_order_upload_caption_edit_and_download(page: Page, stack: Stack) -> None:
    await signed_up_and_in(page, stack)
    await page.get_by_role("link", name="Shooting bestellen").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Shooting bestellen")

    # First try with mistakes: the form answers inline, field by field.
    await page.get_by_label("Telefon").fill("12")
    await page.get_by_label("PLZ").fill("1234")
    await page.get_by_role("button", name="Verbindlich bestellen").click()
    await expect(page.locator("#contact_phone-error")).to_be_visible()
    await expect(page.locator("#postcode-error")).to_be_visible()
    await expect(page.locator("#street-error")).to_be_visible()
    await snap(page, "11-order-errors")

    await page.get_by_label("Telefon").fill("030 1234567")
    await page.get_by_label("Straße").fill("Lindenallee")
    await page.get_by_label("Hausnr.").fill("5")
    await page.get_by_label("PLZ").fill("10115")
    await page.get_by_label("Ort").fill("Berlin")
    await page.get_by_label("Wohnfläche (m²)").fill("96")
    await page.get_by_label("Zimmer").fill("3,5")
    await page.get_by_label("Kauf").check()
    await page.get_by_text("Grundriss").click()
    soon = (date.today() + timedelta(days=9)).isoformat()
    await page.get_by_label("Termin 1", exact=True).fill(soon)
    await page.get_by_role("button", name="Verbindlich bestellen").click()
    await expect(page.get_by_role("status")).to_contain_text("ist eingegangen")
    reference = (await page.get_by_role("heading", level=1).inner_text()).split()[0]
    await snap(page, "12-order-placed")

    await page.get_by_role("link", name="Aufträge", exact=True).click()
    history = page.locator("[data-test=order-history]")
    await expect(history).to_contain_text(reference)
    await expect(history).to_contain_text("Lindenallee 5")
    await snap(page, "13-order-history")
    await history.get_by_role("link", name="Zur Galerie").first.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(reference)

    # Three photos dropped at once.
    names = ["Küche_01.jpg", "Wohnzimmer_01.jpg", "Bad_01.jpg"]
    colours = [(220, 200, 170), (170, 150, 120), (230, 235, 240)]
    files = [
        {
            "name": n,
            "data": base64.b64encode(jpeg_with_gps(room_photo(1600, 1200, colour=c))).decode(),
        }
        for n, c in zip(names, colours, strict=True)
    ]
    transfer = await page.evaluate_handle(
        """files => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), c => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, {type: "image/jpeg"}));
            }
            return dt;
        }""",
        files,
    )
    await page.dispatch_event(".dropzone", "drop", {"dataTransfer": transfer})
    bars = page.locator(".upload-list progress")
    await expect(bars).to_have_count(3)
    for index in range(3):
        await expect(bars.nth(index)).to_have_js_property("value", 1, timeout=30_000)
    await expect(page.locator("[data-test=total-progress]")).to_have_js_property("value", 1)
    statuses = page.locator("[data-test=photo]")
    await expect(statuses).to_have_count(3, timeout=30_000)
    for index in range(3):
        await expect(statuses.nth(index)).to_have_attribute(
            "data-status", "captioned", timeout=45_000
        )
    await expect(page.locator("[data-test=photo]").first.locator("img")).to_be_visible()
    # Media judges the photo set complete (auto-delivery follows after a quiet minute).
    await expect(page.locator("[data-test=delivery-state]")).to_have_attribute(
        "data-state", "complete", timeout=30_000
    )
    await snap(page, "14-gallery-captioned")

    # Edit a caption inline: a new version, shown at once.
    kitchen = page.locator("[data-test=photo]", has_text="Kitchen_01")
    await kitchen.get_by_role("button", name="Text bearbeiten").click()
    await expect(kitchen.get_by_label("Titel (DE)")).to_be_editable(timeout=30_000)
    await kitchen.get_by_label("Titel (DE)").fill("Offene Küche mit Licht")
    await kitchen.get_by_role("button", name="Speichern").click()
    # A save goes through the gateway to captioning and back: on a busy machine that can take
    # longer than Playwright's 5 s default.
    await expect(
        page.locator("[data-test=photo]", has_text="Kitchen_01").locator("[data-test=caption]")
    ).to_contain_text("Offene Küche mit Licht", timeout=30_000)

    # Everything settled: the grid rests instead of re-rendering every 2 s.
    await expect(page.locator("#photos")).to_have_attribute("data-busy", "no", timeout=30_000)
    # "Neu mit KI" says what happened, even when the model suggests the same text.
    await kitchen.get_by_role("button", name="Neu mit KI").click()
    await expect(kitchen.locator("[data-test=caption-notice]")).to_contain_text(
        "Version", timeout=30_000
    )

    # The export follows the edit; its ZIP unzips to the expected files.
    files_list = page.locator("[data-test=export-files]")
    await expect(files_list).to_contain_text("openimmo", timeout=30_000)
    async with page.expect_download() as download_info:
        await page.locator("[data-test='download-bundle-web.zip']").click()
    download = await download_info.value
    data = Path(await download.path()).read_bytes()
    names_in_zip = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert any(n.endswith("Kitchen_01.jpg") for n in names_in_zip)
    assert any(n.endswith("captions.json") for n in names_in_zip)
    await snap(page, "15-gallery-exports")
