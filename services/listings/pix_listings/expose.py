"""Exposé PDFs: rendered by a job, stored in object storage, one version per request.

Decision (measured here, 20 photos of 2000 px, one core): fpdf2 embeds JPEGs as they are
(DCT passthrough) and built the document in ~60 ms of CPU; ReportLab's platypus re-encoded
the images and needed ~3.3 s. Photos are first scaled to `expose_photo_px` (Pillow's JPEG
draft mode decodes at 1/2 or 1/4 scale), which keeps the PDF small enough to email. The
core Helvetica font in Windows-1252 covers German (ä ö ü ß € „ “ – ²) without shipping a font.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import qrcode  # type: ignore[import-untyped]
from fpdf import FPDF
from PIL import Image
from pix_contracts.rooms import RoomType

from pix_listings.expose_words import WORDS
from pix_listings.records import Listing, MediaItem

INK = (31, 42, 46)
MUTED = (93, 106, 111)
BRAND = (15, 92, 77)
SOFT = (228, 240, 236)
LINE = (227, 221, 211)
# Energy efficiency classes with the colours of the German label (A+ green .. H red).
CLASS_COLOURS = {
    "A+": (0, 150, 64),
    "A": (76, 175, 80),
    "B": (139, 195, 74),
    "C": (205, 220, 57),
    "D": (255, 235, 59),
    "E": (255, 193, 7),
    "F": (255, 152, 0),
    "G": (244, 81, 30),
    "H": (211, 47, 47),
}


def safe(text: str) -> str:
    """Text the core font can draw: anything outside Windows-1252 becomes '?'."""
    return text.encode("cp1252", "replace").decode("cp1252")


def scaled_jpeg(data: bytes, long_edge: int) -> tuple[bytes, int, int]:
    """The photo as a JPEG no larger than `long_edge`, and its size."""
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (long_edge, long_edge))
        rgb = image.convert("RGB")
        rgb.thumbnail((long_edge, long_edge), Image.Resampling.BILINEAR, reducing_gap=2.0)
        out = io.BytesIO()
        rgb.save(out, "JPEG", quality=80, optimize=False, progressive=False)
        return out.getvalue(), rgb.width, rgb.height


def qr_png(url: str) -> bytes:
    code = qrcode.QRCode(border=1, box_size=6, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white")
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def _num(value: float, locale: str) -> str:
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    if locale == "de":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


def _eur(value: int, locale: str) -> str:
    grouped = f"{value:,}"
    return grouped.replace(",", ".") + " €" if locale == "de" else "€" + grouped


@dataclass(frozen=True)
class Photo:
    item: MediaItem
    jpeg: bytes
    width: int
    height: int


class ExposeDocument(FPDF):
    def __init__(self, footer_text: str, page_word: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.core_fonts_encoding = "cp1252"
        self._footer_text = footer_text
        self._page_word = page_word
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(15, 15, 15)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("helvetica", size=8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, safe(self._footer_text), align="L")
        self.set_x(-40)
        self.cell(25, 5, f"{self._page_word} {self.page_no()}", align="R")


def render_expose(
    listing: Listing,
    photos: list[Photo],
    locale: str,
    *,
    organisation: str = "pix.immo",
) -> tuple[bytes, int]:
    """The PDF and its page count."""
    w = WORDS["en" if locale == "en" else "de"]
    title = listing.title or w["expose"]
    pdf = ExposeDocument(
        f"{w['expose']} · {w['reference']} {listing.reference} · {organisation}", w["page"]
    )
    pdf.set_title(safe(title))
    pdf.set_creator("pix.immo listings")
    width = pdf.epw
    cover = next((p for p in photos if p.item.is_title), None) or next(
        (p for p in photos if p.item.room_type != RoomType.FLOOR_PLAN), None
    )

    # --- page 1: title, title picture, key facts ---
    pdf.add_page()
    pdf.set_fill_color(*BRAND)
    pdf.rect(0, 0, 210, 10, style="F")
    pdf.set_y(16)
    pdf.set_font("helvetica", size=9)
    pdf.set_text_color(*MUTED)
    kind = w.get(listing.property_type or "", "")
    pdf.cell(0, 5, safe(f"{w['expose'].upper()} · {kind} · {w['reference']} {listing.reference}"))
    pdf.ln(7)
    pdf.set_font("helvetica", style="B", size=20)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, 9, safe(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=11)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 6, safe(listing.address))
    pdf.ln(9)
    if cover is not None:
        _image(pdf, cover, width, 120)
        if cover.item.staged:
            _staged_note(pdf, w)
    pdf.ln(5)
    _facts_table(pdf, listing, w, locale)
    pdf.ln(2)
    _heading(pdf, w["energy"])
    _energy(pdf, listing, w, locale)

    # --- page 2: description, features ---
    pdf.add_page()
    description = listing.description_en if locale == "en" else listing.description_de
    description = description or (listing.description_de or listing.description_en)
    if description:
        _heading(pdf, w["description"])
        pdf.set_font("helvetica", size=10.5)
        pdf.set_text_color(*INK)
        pdf.multi_cell(0, 5.4, safe(description), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    if listing.features:
        _heading(pdf, w["features"])
        pdf.set_font("helvetica", size=10.5)
        pdf.set_text_color(*INK)
        for feature in listing.features:
            pdf.cell(5, 5.6, "\u2022")
            pdf.cell(0, 5.6, safe(feature), new_x="LMARGIN", new_y="NEXT")

    # --- room photos with their captions, flowing two to a page ---
    rooms = [p for p in photos if p.item.room_type != RoomType.FLOOR_PLAN and p is not cover]
    for index, photo in enumerate(rooms):
        if pdf.get_y() + 100 + 22 > pdf.h - pdf.b_margin:
            pdf.add_page()
        if index == 0:
            pdf.ln(4)
            _heading(pdf, w["photos"])
        _image(pdf, photo, width, 100)
        caption_title = photo.item.title_en if locale == "en" else photo.item.title_de
        caption = photo.item.caption_en if locale == "en" else photo.item.caption_de
        pdf.ln(1.5)
        pdf.set_font("helvetica", style="B", size=10)
        pdf.set_text_color(*INK)
        pdf.cell(0, 5, safe(caption_title or photo.item.name), new_x="LMARGIN", new_y="NEXT")
        if photo.item.staged:
            _staged_note(pdf, w)
        pdf.set_font("helvetica", size=9)
        pdf.set_text_color(*MUTED)
        pdf.multi_cell(0, 4.4, safe(_shorten(caption, 260)), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)

    # --- floor plans, one a page ---
    for photo in (p for p in photos if p.item.room_type == RoomType.FLOOR_PLAN):
        pdf.add_page()
        _heading(pdf, w["floor_plan"])
        _image(pdf, photo, width, 230, contain=True)

    # --- contact and QR codes ---
    pdf.add_page()
    _heading(pdf, w["contact"])
    pdf.set_font("helvetica", style="B", size=12)
    pdf.set_text_color(*INK)
    pdf.cell(0, 7, safe(listing.contact_name or organisation), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=10.5)
    for line in (listing.contact_phone, listing.contact_email):
        if line:
            pdf.cell(0, 6, safe(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    codes = [(w["video"], listing.video_url), (w["tour"], listing.tour_url)]
    x = pdf.l_margin
    top = pdf.get_y()
    for label, url in codes:
        if not url:
            continue
        pdf.image(io.BytesIO(qr_png(url)), x=x, y=top, w=40, h=40)
        pdf.set_xy(x, top + 42)
        pdf.set_font("helvetica", style="B", size=10)
        pdf.set_text_color(*INK)
        pdf.cell(60, 5, safe(label))
        pdf.set_xy(x, top + 47)
        pdf.set_font("helvetica", size=7.5)
        pdf.set_text_color(*MUTED)
        pdf.multi_cell(80, 3.6, safe(_shorten(url, 90)))
        x += 90
    pdf.set_y(-30)
    pdf.set_font("helvetica", size=8)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(0, 4, safe(w["disclaimer"]))
    return bytes(pdf.output()), pdf.page_no()


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _staged_note(pdf: FPDF, w: dict[str, str]) -> None:
    """The marking a virtually furnished photo needs beside it (besides the one in its
    corner)."""
    pdf.set_font("helvetica", style="B", size=9)
    pdf.set_text_color(*BRAND)
    pdf.cell(0, 4.6, safe(w["staged"]), new_x="LMARGIN", new_y="NEXT")


def _heading(pdf: FPDF, text: str) -> None:
    pdf.set_font("helvetica", style="B", size=13)
    pdf.set_text_color(*BRAND)
    pdf.cell(0, 8, safe(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(*LINE)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
    pdf.ln(3)


def _image(pdf: FPDF, photo: Photo, max_w: float, max_h: float, *, contain: bool = False) -> None:
    ratio = photo.width / photo.height
    w, h = max_w, max_w / ratio
    if h > max_h:
        h, w = max_h, max_h * ratio
    if pdf.get_y() + h > pdf.h - pdf.b_margin:
        pdf.add_page()
    x = pdf.l_margin + (max_w - w) / 2
    pdf.image(io.BytesIO(photo.jpeg), x=x, y=pdf.get_y(), w=w, h=h)
    pdf.set_y(pdf.get_y() + h)


def _facts_table(pdf: FPDF, x: Listing, w: dict[str, str], locale: str) -> None:
    rows: list[tuple[str, str]] = []
    if x.price_eur is not None:
        label = w["rent"] if x.marketing == "rent" else w["sale"]
        suffix = w["per_month"] if x.marketing == "rent" else ""
        rows.append((label, _eur(x.price_eur, locale) + suffix))
    if x.service_charge_eur is not None:
        rows.append((w["service_charge"], _eur(x.service_charge_eur, locale) + w["per_month"]))
    if x.deposit_eur is not None:
        rows.append((w["deposit"], _eur(x.deposit_eur, locale)))
    if x.property_type:
        rows.append((w["type"], w.get(x.property_type, x.property_type)))
    if x.rooms is not None:
        rows.append((w["rooms"], _num(x.rooms, locale)))
    if x.living_area_m2 is not None:
        rows.append((w["living_area"], f"{_num(x.living_area_m2, locale)} m²"))
    if x.plot_area_m2 is not None:
        rows.append((w["plot_area"], f"{_num(x.plot_area_m2, locale)} m²"))
    if x.year_built is not None:
        rows.append((w["year_built"], str(x.year_built)))
    if x.available_from:
        rows.append((w["available"], x.available_from))
    if x.energy_class:
        rows.append((w["class"], x.energy_class))
    _heading(pdf, w["facts"])
    half = (len(rows) + 1) // 2
    col = pdf.epw / 2
    top = pdf.get_y()
    for column, chunk in enumerate((rows[:half], rows[half:])):
        pdf.set_y(top)
        for label, value in chunk:
            pdf.set_x(pdf.l_margin + column * col)
            pdf.set_font("helvetica", size=9.5)
            pdf.set_text_color(*MUTED)
            pdf.cell(col * 0.48, 6.4, safe(label))
            pdf.set_font("helvetica", style="B", size=10)
            pdf.set_text_color(*INK)
            pdf.cell(col * 0.48, 6.4, safe(value), new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(top + 6.4 * half + 2)


def _energy(pdf: FPDF, x: Listing, w: dict[str, str], locale: str) -> None:
    if not (x.energy_certificate_type or x.energy_value_kwh is not None or x.energy_class):
        pdf.set_font("helvetica", size=10)
        pdf.set_text_color(*MUTED)
        pdf.cell(0, 6, safe(w["no_certificate"]), new_x="LMARGIN", new_y="NEXT")
        return
    rows = []
    if x.energy_certificate_type:
        rows.append((w["certificate"], w[x.energy_certificate_type]))
    if x.energy_value_kwh is not None:
        rows.append((w["value"], f"{_num(x.energy_value_kwh, locale)} kWh/(m²·a)"))
    if x.energy_class:
        rows.append((w["class"], x.energy_class))
    if x.energy_carrier:
        rows.append((w["carrier"], x.energy_carrier))
    for label, value in rows:
        pdf.set_font("helvetica", size=9.5)
        pdf.set_text_color(*MUTED)
        pdf.cell(45, 6, safe(label))
        pdf.set_font("helvetica", style="B", size=10)
        pdf.set_text_color(*INK)
        pdf.cell(0, 6, safe(value), new_x="LMARGIN", new_y="NEXT")
    # The colour scale with the listing's class marked.
    pdf.ln(2)
    cell = pdf.epw / len(CLASS_COLOURS)
    y = pdf.get_y()
    for index, (name, colour) in enumerate(CLASS_COLOURS.items()):
        pdf.set_fill_color(*colour)
        pdf.rect(pdf.l_margin + index * cell, y, cell, 7, style="F")
        pdf.set_xy(pdf.l_margin + index * cell, y + 1)
        pdf.set_font("helvetica", style="B", size=9)
        pdf.set_text_color(255, 255, 255) if name in ("A+", "G", "H") else pdf.set_text_color(*INK)
        pdf.cell(cell, 5, name, align="C")
        if name == x.energy_class:
            pdf.set_draw_color(*INK)
            pdf.set_line_width(0.8)
            pdf.rect(pdf.l_margin + index * cell, y - 1, cell, 9)
            pdf.set_line_width(0.2)
    pdf.set_y(y + 10)


@dataclass
class RenderedExpose:
    data: bytes
    pages: int
    render_ms: int


def build(
    listing: Listing,
    images: dict[uuid.UUID, bytes],
    locale: str,
    *,
    photo_px: int,
    organisation: str = "pix.immo",
    clock: Callable[[], float] = time.perf_counter,
) -> RenderedExpose:
    """Scale the photos and lay out the document (CPU only: run it in a worker thread)."""
    started = clock()
    photos = []
    for item in listing.media:
        data = images.get(item.id)
        if data is None:
            continue
        jpeg, width, height = scaled_jpeg(data, photo_px)
        photos.append(Photo(item, jpeg, width, height))
    document, pages = render_expose(listing, photos, locale, organisation=organisation)
    return RenderedExpose(document, pages, round((clock() - started) * 1000))


__all__ = ["RenderedExpose", "build", "render_expose"]
