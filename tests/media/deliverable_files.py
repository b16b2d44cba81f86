"""Real floor plan and video files for the tests, made here (no fixtures on disk)."""

from __future__ import annotations

import io

import av
import numpy as np
from PIL import Image, PngImagePlugin


def make_pdf(pages: int = 1, *, info: bool = True, javascript: bool = False) -> bytes:
    """A small but real PDF: each page draws a floor plan's outline (a content stream with
    lines and a label), with a document information dictionary naming an author."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    catalog = b"<< /Type /Catalog /Pages 2 0 R"
    if javascript:
        catalog += b" /OpenAction << /S /JavaScript /JS (app.alert(1)) >>"
    objects.append(catalog + b" >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    font_ref = 3 + 2 * pages
    for i in range(pages):
        content = (
            b"2 w 50 50 m 550 50 l 550 350 l 50 350 l h S 300 50 m 300 350 l S "
            b"BT /F1 18 Tf 80 300 Td (Wohnen) Tj ET"
        )
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 400] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_ref} 0 R >> >> >>".encode()
        )
        objects.append(
            f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream"
        )
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    if info:
        objects.append(b"<< /Author (Max Mustermann) /Producer (Plan-o-matic) >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R"
    if info:
        trailer += f" /Info {len(objects)} 0 R"
    out.write(f"trailer\n{trailer} >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def make_png(width: int = 320, height: int = 200) -> bytes:
    """A line drawing on a transparent background, with a text chunk naming its author."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[10, 10 : width - 10] = (0, 0, 0, 255)
    pixels[height - 10, 10 : width - 10] = (0, 0, 0, 255)
    pixels[10 : height - 10, 10] = (0, 0, 0, 255)
    pixels[10 : height - 10, width - 10] = (0, 0, 0, 255)
    image = Image.fromarray(pixels, "RGBA")
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Max Mustermann")
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


SVG_PLAN = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200" viewBox="0 0 300 200">
  <rect x="10" y="10" width="280" height="180" fill="none" stroke="black" stroke-width="3"/>
  <line x1="150" y1="10" x2="150" y2="190" stroke="black"/>
  <text x="30" y="40" font-size="14">Wohnen</text>
</svg>
"""

SVG_WITH_SCRIPT = b"""<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">
  <rect width="100" height="100"/><script>alert(document.cookie)</script>
</svg>
"""

SVG_WITH_EXTERNAL_IMAGE = b"""<svg xmlns="http://www.w3.org/2000/svg"
  xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="100">
  <image xlink:href="https://tracker.example/pixel.png" width="100" height="100"/>
</svg>
"""

SVG_WITH_ANIMATED_LINK = b"""<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">
  <a href="#plan"><rect width="100" height="100"/>
  <set attributeName="href" to="java&#x09;script:alert(1)"/></a>
</svg>
"""

SVG_WITH_SCRIPT_LINK = b"""<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">
  <a href=" JaVa Script:alert(1)"><rect width="100" height="100"/></a>
</svg>
"""

SVG_WITH_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>
"""


def make_mp4(
    *, frames: int = 20, rate: int = 10, size: tuple[int, int] = (64, 48), gps: bool = True
) -> bytes:
    """A real H.264 MP4 made with PyAV, carrying a GPS location and a creation time (as a
    phone's video does) that delivery must not pass on."""
    width, height = size
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        if gps:
            out.metadata["location"] = "+52.5200+013.4050/"
            out.metadata["creation_time"] = "2026-01-01T10:00:00Z"
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            pixels = np.full((height, width, 3), (i * 10) % 255, np.uint8)
            pixels[:, : width // 2, 0] = 200
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()
