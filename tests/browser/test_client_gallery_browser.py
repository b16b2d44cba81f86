"""The client's gallery in the browser: the agent arranges the photos (move buttons and
dragging), picks the title picture and shares the gallery with a PIN; a stranger opens the
link in a private window on a phone, enters the PIN, pages through the lightbox with the
keyboard and downloads a portal-ready photo; the agent sees the view counted."""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import date, timedelta

from conftest import ARTIFACTS, snap
from photos import jpeg_with_gps, room_photo
from PIL import Image
from playwright.async_api import Browser, Page, expect
from stack import Stack
from test_orders_gallery_browser import signed_up_and_in

PORTAL_MAX_BYTES = 5_000_000


async def order_and_open_gallery(page: Page, stack: Stack) -> None:
    await page.goto(stack.base_url + "/orders/new")
    await page.get_by_label("Telefon").fill("030 1234567")
    await page.get_by_label("Straße").fill("Lindenallee")
    await page.get_by_label("Hausnr.").fill("7")
    await page.get_by_label("PLZ").fill("10115")
    await page.get_by_label("Ort").fill("Berlin")
    await page.get_by_label("Wohnfläche (m²)").fill("96")
    await page.get_by_label("Zimmer").fill("3")
    await page.get_by_label("Kauf").check()
    soon = (date.today() + timedelta(days=9)).isoformat()
    await page.get_by_label("Termin 1", exact=True).fill(soon)
    await page.get_by_role("button", name="Verbindlich bestellen").click()
    await expect(page.get_by_role("status")).to_contain_text("ist eingegangen")
    await page.get_by_role("link", name="Aufträge", exact=True).click()
    await (
        page.locator("[data-test=order-history]")
        .get_by_role("link", name="Zur Galerie")
        .first.click()
    )


async def drop_photos(page: Page, photos: list[tuple[str, Image.Image]]) -> None:
    files = [
        {"name": name, "data": base64.b64encode(jpeg_with_gps(image)).decode()}
        for name, image in photos
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


async def order_of(page: Page) -> list[str]:
    names = page.locator("[data-test=photo] .links strong")
    return [name.strip() for name in await names.all_inner_texts()]


async def test_share_a_gallery_with_a_pin_and_download_for_the_portals(
    page: Page, browser: Browser, stack: Stack
) -> None:
    await signed_up_and_in(page, stack)
    await order_and_open_gallery(page, stack)
    await drop_photos(
        page,
        [
            ("Wohnzimmer_01.jpg", room_photo(1600, 1200, colour=(190, 160, 120))),
            ("Küche_01.jpg", room_photo(1600, 1200, colour=(220, 200, 170))),
            ("Bad_01.jpg", room_photo(2400, 1600, colour=(200, 215, 230))),
        ],
    )
    cards = page.locator("[data-test=photo]")
    await expect(cards).to_have_count(3, timeout=30_000)
    for index in range(3):
        await expect(cards.nth(index)).to_have_attribute("data-status", "captioned", timeout=60_000)
    await expect(page.locator("#photos")).to_have_attribute("data-busy", "no", timeout=30_000)
    await page.reload()
    # Uploads run side by side: the photos come in whatever order they finished.
    first, second, third = await order_of(page)

    # The keyboard's way: the last photo one place up.
    last = cards.filter(has_text=third)
    await last.get_by_role("button", name=f"{third} eine Position nach vorn").click()
    await expect(cards.first).to_be_visible()
    assert await order_of(page) == [first, third, second]
    # Dragging: the last photo onto the first place; saved at once.
    await cards.filter(has_text=second).drag_to(cards.first, target_position={"x": 10, "y": 60})
    await expect(page.locator("[data-test=arrange-status]")).to_have_text(
        "Reihenfolge gespeichert."
    )
    await page.reload()
    assert await order_of(page) == [second, first, third]
    arranged = [second, first, third]

    # The bathroom (not export's default choice) becomes the title picture.
    titled = cards.filter(has_text="Bathroom_01")
    await titled.get_by_role("button", name="Als Titelbild").click()
    await expect(
        cards.filter(has_text="Bathroom_01").locator("[data-test=title-badge]")
    ).to_be_visible()
    await snap(page, "22-client-gallery-arranged")

    # Two photos chosen, downloaded as one ZIP in the web size.
    await cards.filter(has_text=first).get_by_label("Auswählen").check()
    await cards.filter(has_text="Bathroom_01").get_by_label("Auswählen").check()
    await page.locator("[data-test=selection-size]").select_option("web")
    async with page.expect_download() as zipping:
        await page.get_by_role("button", name="Auswahl herunterladen (ZIP)").click()
    bundle = (await (await zipping.value).path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        chosen = sorted(archive.namelist())
    assert chosen == sorted({f"{first}-web.jpg", "Bathroom_01-web.jpg"})

    # A share link with a PIN for a co-broker.
    form = page.locator("[data-test=share-form]")
    await form.get_by_label("Für wen (optional)").fill("Co-Makler Weber")
    await form.get_by_label("PIN (optional, 4–8 Ziffern)").fill("4711")
    await form.get_by_role("button", name="Link erstellen").click()
    link = page.locator("[data-test=share-link]").first
    await expect(link).to_contain_text("Co-Makler Weber")
    await expect(link).to_contain_text("mit PIN")
    await expect(link.locator("[data-test=share-views]")).to_have_attribute("data-views", "0")
    url = await link.locator("[data-test=share-url]").input_value()
    assert "/s/" in url
    await snap(page, "23-share-link-created")

    # A private window on a phone: no session, no cookies.
    private = await browser.new_context(
        locale="de-DE",
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        accept_downloads=True,
    )
    try:
        visitor = await private.new_page()
        problems: list[str] = []
        visitor.on("pageerror", lambda error: problems.append(str(error)))
        await visitor.goto(url)
        await expect(visitor.get_by_role("heading", level=1)).to_have_text(
            "Diese Galerie ist geschützt"
        )
        await visitor.get_by_label("PIN").fill("0000")
        await visitor.get_by_role("button", name="Galerie öffnen").click()
        await expect(visitor.locator("[data-test=pin-error]")).to_have_text("Die PIN stimmt nicht.")
        await visitor.get_by_label("PIN").fill("4711")
        await visitor.get_by_role("button", name="Galerie öffnen").click()
        shown = visitor.locator("[data-test=shared-photo]")
        await expect(shown).to_have_count(3)
        await expect(visitor.get_by_role("heading", level=1)).to_contain_text("Lindenallee 7")
        # The title picture leads; then the client's order.
        names = await shown.locator(".name").all_inner_texts()
        others = [n for n in arranged if n != "Bathroom_01"]
        assert [n.split()[0] for n in names] == ["Bathroom_01", *others]
        # Nothing of the order or the company on the page.
        body = await visitor.locator("main").inner_text()
        assert "Muster Immobilien" not in body
        assert "030 1234567" not in body
        await snap(visitor, "24-shared-gallery-phone")

        # The lightbox, paged with the keyboard.
        await shown.first.locator("a[data-lightbox]").click()
        box = visitor.locator("[data-test=lightbox]")
        await expect(box).to_be_visible()
        counter = box.locator("[data-test=lightbox-counter]")
        await expect(counter).to_have_text("1 von 3")
        await expect(box.locator("[data-test=lightbox-name]")).to_have_text("Bathroom_01")
        await visitor.keyboard.press("ArrowRight")
        await expect(counter).to_have_text("2 von 3")
        await expect(box.locator("[data-test=lightbox-name]")).to_have_text(others[0])
        await visitor.keyboard.press("ArrowRight")
        await visitor.keyboard.press("ArrowRight")
        await expect(counter).to_have_text("1 von 3")
        await visitor.keyboard.press("ArrowLeft")
        await expect(counter).to_have_text("3 von 3")
        await visitor.keyboard.press("ArrowRight")
        await expect(box.locator("[data-test=lightbox-image]")).to_have_js_property(
            "complete", True
        )
        # What the screen shows (a full-page shot would stretch the fixed dialog).
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await visitor.screenshot(path=str(ARTIFACTS / "25-shared-lightbox-phone.png"))

        # The portal-ready size of the title picture (2400 px uploaded).
        async with visitor.expect_download() as downloading:
            await box.locator("a.lb-download[data-size=portal]").click()
        download = await downloading.value
        data = (await download.path()).read_bytes()
        assert len(data) <= PORTAL_MAX_BYTES
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG"
            assert image.size == (1920, 1280)
        await visitor.keyboard.press("Escape")
        await expect(box).to_be_hidden()
        assert not problems
    finally:
        await private.close()

    # The agent sees the view.
    await page.reload()
    views = page.locator("[data-test=share-link]").first.locator("[data-test=share-views]")
    await expect(views).to_have_attribute("data-views", "1")
    await expect(views).to_contain_text("zuletzt")

    # Revoked, the link says so.
    await (
        page.locator("[data-test=share-link]")
        .first.get_by_role("button", name="Widerrufen")
        .click()
    )
    await expect(page.locator("[data-test=share-link]").first).to_have_attribute(
        "data-active", "no"
    )
    gone = await browser.new_context(locale="de-DE")
    try:
        stranger = await gone.new_page()
        answer = await stranger.goto(url)
        assert answer is not None
        assert answer.status == 410
        await expect(stranger.locator("[data-test=share-gone]")).to_contain_text("zurückgezogen")
    finally:
        await gone.close()
