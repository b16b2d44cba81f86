"""The watermarked preview of a rendition: what a client sees while its order waits for payment.

"pix.immo · Vorschau" in rows across the whole picture at 30°, white at about a third opacity
with a dark edge, so it shows on a white wall and on a dark floor alike and cannot be cropped
away. The overlay depends only on the picture's long edge, so it is drawn once per edge (the
web renditions' 2000 px, the thumbnails' 400 px) and reused.
"""

from __future__ import annotations

import functools
import io
import math

from PIL import Image, ImageDraw, ImageFont

TEXT = "pix.immo · Vorschau"
ANGLE = 30
QUALITY = 82


@functools.lru_cache(maxsize=4)
def _overlay(edge: int) -> Image.Image:
    """A square RGBA layer carrying the diagonal rows of text, for pictures of this long edge
    (web renditions share one, thumbnails another: they are cropped from it)."""
    font_size = max(10, round(edge / 22))
    font = ImageFont.load_default(size=font_size)
    left, top, right, bottom = font.getbbox(TEXT)
    stamp_w, stamp_h = math.ceil(right - left), math.ceil(bottom - top)
    stroke = max(1, font_size // 16)
    # Draw on a canvas big enough that the rotated rows still cover every corner.
    side = math.ceil(edge * math.sqrt(2)) + stamp_w
    layer = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    step_x, step_y = stamp_w + font_size * 2, stamp_h + font_size * 3
    for row, y in enumerate(range(0, side, step_y)):
        offset = (row % 2) * (step_x // 2)
        for x in range(-offset, side, step_x):
            draw.text(
                (x - left, y - top),
                TEXT,
                font=font,
                fill=(255, 255, 255, 110),
                stroke_width=stroke,
                stroke_fill=(0, 0, 0, 70),
            )
    layer = layer.rotate(ANGLE, resample=Image.Resampling.BILINEAR)
    start = (side - edge) // 2
    return layer.crop((start, start, start + edge, start + edge))


def watermark_jpeg(data: bytes) -> bytes:
    """The rendition (an sRGB JPEG without metadata) with the preview mark, as a JPEG."""
    with Image.open(io.BytesIO(data)) as source:
        picture = source.convert("RGBA")
    width, height = picture.size
    edge = max(width, height)
    x0, y0 = (edge - width) // 2, (edge - height) // 2
    picture.alpha_composite(_overlay(edge).crop((x0, y0, x0 + width, y0 + height)))
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, format="JPEG", quality=QUALITY, progressive=True)
    return buffer.getvalue()
