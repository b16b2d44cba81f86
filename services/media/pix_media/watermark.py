"""The watermarked preview of a rendition: what a client sees while its order waits for payment.

"pix.immo · Vorschau" in rows across the whole picture at 30°, white at about a third opacity
with a dark edge, so it shows on a white wall and on a dark floor alike and cannot be cropped
away. The overlay depends only on the picture's size, so it is drawn once per size and reused.
"""

from __future__ import annotations

import functools
import io
import math

from PIL import Image, ImageDraw, ImageFont

TEXT = "pix.immo · Vorschau"
ANGLE = 30
QUALITY = 82


@functools.lru_cache(maxsize=8)
def _overlay(size: tuple[int, int]) -> Image.Image:
    """An RGBA layer of the picture's size carrying the diagonal rows of text."""
    width, height = size
    font_size = max(10, round(max(width, height) / 22))
    font = ImageFont.load_default(size=font_size)
    left, top, right, bottom = font.getbbox(TEXT)
    stamp_w, stamp_h = math.ceil(right - left), math.ceil(bottom - top)
    stroke = max(1, font_size // 16)
    # Draw on a square canvas big enough that the rotated rows still cover every corner.
    side = math.ceil(math.hypot(width, height)) + stamp_w
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
    x0, y0 = (side - width) // 2, (side - height) // 2
    return layer.crop((x0, y0, x0 + width, y0 + height))


def watermark_jpeg(data: bytes) -> bytes:
    """The rendition (an sRGB JPEG without metadata) with the preview mark, as a JPEG."""
    with Image.open(io.BytesIO(data)) as source:
        picture = source.convert("RGBA")
    picture.alpha_composite(_overlay(picture.size))
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, format="JPEG", quality=QUALITY, progressive=True)
    return buffer.getvalue()
