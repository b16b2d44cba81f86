"""Floor plans (PDF, PNG, SVG): checked by their content, cleaned, and previewed.

Pure functions, no HTTP, broker or database. The type is decided by the bytes, never by the
file name: `%PDF-` is parsed by pypdf (structure, page count, no encryption, no scripts), a
PNG is fully decoded by Pillow (pixel limit first), an SVG is parsed by defusedxml (no DTD,
entities or external fetches) and refused when it carries scripts, event handlers, foreign
objects or references outside itself. What is delivered is a cleaned copy: the PDF rewritten
without its document information and XMP metadata, the PNG re-encoded without text chunks, the
SVG as uploaded (it passed the checks; it is served with its own media type, never inlined).

Previews are JPEGs on white like a photo's renditions: the PDF's first page rendered by pdfium
(the `pypdfium2` wheel; the libvips bundled here has no pdfload), the SVG by libvips' svgload
(librsvg, which fetches nothing: external references were refused before), the PNG resized.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Final
from xml.etree.ElementTree import Element

import pypdf
import pypdfium2  # type: ignore[import-untyped]
import pyvips
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import (  # type: ignore[import-untyped]
    fromstring as parse_xml,
)
from PIL import Image
from pypdf.generic import DictionaryObject

from pix_media.files import FileRejected
from pix_media.imaging import Rendition, _encode_jpeg, _fit

PDF_MAGIC: Final = b"%PDF-"
PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
SVG_NS: Final = "{http://www.w3.org/2000/svg}"
XLINK_HREF: Final = "{http://www.w3.org/1999/xlink}href"
# Elements that run code or pull in another document.
REFUSED_ELEMENTS: Final = frozenset({"script", "foreignObject", "iframe", "embed", "object"})
ANIMATIONS: Final = frozenset({"set", "animate", "animateMotion", "animateTransform"})
_SCRIPT_URL = re.compile(r"(java|vb)script:")
# url(...) in styles may point only inside the document (#id) or be inline data.
_STYLE_URL = re.compile(r"url\(\s*['\"]?\s*([^'\")\s]*)", re.IGNORECASE)

MEDIA_TYPES: Final = {"pdf": "application/pdf", "png": "image/png", "svg": "image/svg+xml"}


@dataclass(frozen=True)
class FloorPlan:
    """A checked floor plan: the file to deliver and its previews."""

    extension: str
    media_type: str
    data: bytes
    width: int
    height: int
    page_count: int
    web: Rendition
    thumb: Rendition


def sniff_floor_plan(head: bytes) -> str | None:
    """pdf, png or svg by the first bytes; None for anything else."""
    if head.startswith(PDF_MAGIC):
        return "pdf"
    if head.startswith(PNG_MAGIC):
        return "png"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith((b"<?xml", b"<svg", b"<!--")) and b"<svg" in head:
        return "svg"
    return None


def accepted_floor_plan(head: bytes) -> str:
    """The media type of an acceptable floor plan, or FileRejected."""
    found = sniff_floor_plan(head)
    if found is None:
        raise FileRejected(
            "unsupported_type", "a floor plan must be a PDF, PNG or SVG file (checked by content)"
        )
    return MEDIA_TYPES[found]


def _flatten(img: Image.Image) -> Image.Image:
    """RGB on white (plans are often transparent line drawings)."""
    img = img.convert("RGBA")
    canvas = Image.new("RGB", img.size, (255, 255, 255))
    canvas.paste(img, mask=img.getchannel("A"))
    return canvas


def _renditions(img: Image.Image, web_edge: int, thumb_edge: int) -> tuple[Rendition, Rendition]:
    flat = _flatten(img)
    web = flat.resize(_fit(flat.size, web_edge), Image.Resampling.LANCZOS)
    thumb = web.resize(_fit(web.size, thumb_edge), Image.Resampling.LANCZOS)
    return (
        Rendition(data=_encode_jpeg(web, 85), width=web.width, height=web.height),
        Rendition(data=_encode_jpeg(thumb, 80), width=thumb.width, height=thumb.height),
    )


# --- PDF --------------------------------------------------------------------------------------


def _pdf_has_scripts(reader: pypdf.PdfReader) -> bool:
    root = reader.root_object
    names = root.get("/Names")
    if names is not None:
        resolved_names = names.get_object()
        if isinstance(resolved_names, DictionaryObject) and "/JavaScript" in resolved_names:
            return True
    action = root.get("/OpenAction")
    if action is not None:
        resolved = action.get_object()
        if isinstance(resolved, DictionaryObject) and resolved.get("/S") in (
            "/JavaScript",
            "/Launch",
        ):
            return True
    return "/AA" in root


def _clean_pdf(data: bytes, max_pages: int) -> tuple[bytes, int]:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise FileRejected("corrupt_file", "the PDF is encrypted; upload it without a password")
        pages = len(reader.pages)
        if _pdf_has_scripts(reader):
            raise FileRejected("unsafe_file", "the PDF contains scripts or actions")
        writer = pypdf.PdfWriter(clone_from=reader)
        # Author, producer, dates and XMP travel no further than here.
        writer.metadata = None
        if "/Metadata" in writer.root_object:
            del writer.root_object["/Metadata"]
        out = io.BytesIO()
        writer.write(out)
    except FileRejected:
        raise
    except Exception as exc:  # pypdf raises many kinds for a broken file
        raise FileRejected("corrupt_file", "the PDF could not be read") from exc
    if pages < 1:
        raise FileRejected("corrupt_file", "the PDF has no pages")
    if pages > max_pages:
        raise FileRejected("too_many_pages", f"a floor plan PDF may have at most {max_pages} pages")
    return out.getvalue(), pages


def _render_pdf_page(data: bytes, edge: int) -> Image.Image:
    try:
        document = pypdfium2.PdfDocument(data)
        try:
            page = document[0]
            width, height = page.get_size()
            scale = edge / max(width, height, 1.0)
            image: Image.Image = page.render(scale=scale).to_pil()
            page.close()
        finally:
            document.close()
    except Exception as exc:
        raise FileRejected("corrupt_file", "the PDF's first page could not be rendered") from exc
    return image


# --- SVG --------------------------------------------------------------------------------------


def _local_reference(value: str) -> bool:
    value = value.strip()
    return value == "" or value.startswith("#") or value.lower().startswith("data:image/")


def _check_svg_element(element: Element) -> None:
    tag = element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""
    if tag in REFUSED_ELEMENTS:
        raise FileRejected("unsafe_file", f"the SVG contains a <{tag}> element")
    if tag in ANIMATIONS and element.attrib.get("attributeName", "").endswith("href"):
        # <set>/<animate> can turn a harmless link into a script's address after the check.
        raise FileRejected("unsafe_file", "the SVG animates a link")
    for name, value in element.attrib.items():
        local = name.rsplit("}", 1)[-1].lower()
        if _SCRIPT_URL.search("".join(value.split()).lower()):
            raise FileRejected("unsafe_file", "the SVG contains a script address")
        if local.startswith("on"):
            raise FileRejected("unsafe_file", f"the SVG contains an event handler ({local})")
        if local == "href" and not _local_reference(value):
            raise FileRejected("unsafe_file", "the SVG refers to another document")
        if local == "style" and any(not _local_reference(u) for u in _STYLE_URL.findall(value)):
            raise FileRejected("unsafe_file", "the SVG's styles refer to another document")
    if tag == "style" and element.text:
        css = element.text
        if "@import" in css.lower() or any(
            not _local_reference(u) for u in _STYLE_URL.findall(css)
        ):
            raise FileRejected("unsafe_file", "the SVG's styles refer to another document")


def check_svg(data: bytes) -> None:
    """Refuse anything in the SVG that runs or fetches; FileRejected says what."""
    try:
        root = parse_xml(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FileRejected("unsafe_file", "the SVG declares a DTD or entities") from exc
    except Exception as exc:
        raise FileRejected("corrupt_file", "the SVG is not well-formed XML") from exc
    if root.tag != f"{SVG_NS}svg":
        raise FileRejected("unsupported_type", "the file is XML but not an SVG image")
    for element in root.iter():
        _check_svg_element(element)


def _render_svg(data: bytes, edge: int, max_pixels: int) -> Image.Image:
    try:
        probe = pyvips.Image.svgload_buffer(data, unlimited=False)
        scale = edge / max(probe.width, probe.height, 1)
        if probe.width * probe.height * scale * scale > max_pixels:
            raise FileRejected("too_many_pixels", "the SVG is too large to render")
        image = pyvips.Image.svgload_buffer(data, scale=scale, unlimited=False)
        if image.bands < 4:
            image = image.bandjoin(255) if image.bands == 3 else image.colourspace("srgb")
        if image.bands == 3:
            image = image.bandjoin(255)
        raw = image.cast("uchar").write_to_memory()
        return Image.frombytes("RGBA", (image.width, image.height), raw)
    except FileRejected:
        raise
    except pyvips.Error as exc:
        raise FileRejected("corrupt_file", "the SVG could not be rendered") from exc


# --- PNG --------------------------------------------------------------------------------------


def _clean_png(data: bytes, max_pixels: int) -> tuple[bytes, Image.Image]:
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as probe:
            if probe.width * probe.height > max_pixels:
                raise FileRejected(
                    "too_many_pixels", f"the image has more than {max_pixels} pixels"
                )
            probe.load()
            image = probe.copy()
    except FileRejected:
        raise
    except Exception as exc:
        raise FileRejected("corrupt_file", "the PNG could not be decoded") from exc
    out = io.BytesIO()
    # Without pnginfo and exif Pillow writes no text, time or eXIf chunks.
    image.info = {}
    image.save(out, format="PNG", optimize=False)
    return out.getvalue(), image


def process_floor_plan(
    data: bytes, *, max_pixels: int, max_pages: int, web_edge: int, thumb_edge: int
) -> FloorPlan:
    """Check, clean and preview a floor plan; FileRejected with a stable code otherwise."""
    found = sniff_floor_plan(data[:512])
    if found == "pdf":
        cleaned, pages = _clean_pdf(data, max_pages)
        first = _render_pdf_page(cleaned, web_edge)
        web, thumb = _renditions(first, web_edge, thumb_edge)
        return FloorPlan(
            "pdf", MEDIA_TYPES["pdf"], cleaned, first.width, first.height, pages, web, thumb
        )
    if found == "png":
        cleaned, image = _clean_png(data, max_pixels)
        web, thumb = _renditions(image, web_edge, thumb_edge)
        return FloorPlan(
            "png", MEDIA_TYPES["png"], cleaned, image.width, image.height, 1, web, thumb
        )
    if found == "svg":
        check_svg(data)
        drawn = _render_svg(data, web_edge, max_pixels)
        web, thumb = _renditions(drawn, web_edge, thumb_edge)
        return FloorPlan("svg", MEDIA_TYPES["svg"], data, drawn.width, drawn.height, 1, web, thumb)
    raise FileRejected(
        "unsupported_type", "a floor plan must be a PDF, PNG or SVG file (checked by content)"
    )
