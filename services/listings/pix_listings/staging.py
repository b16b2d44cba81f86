"""Staged photos: the label every virtually furnished picture carries in its corner.

The listings service stamps it itself, whoever sends the picture: in Germany a staged photo
must be marked as such, so no path into a listing's media may skip it.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError
from pix_runtime.errors import Invalid, TooLarge

from pix_listings.records import STAGED_LABEL

# Large enough for a 4K picture as JPEG; an image model's answer is far below it.
MAX_STAGED_BYTES = 20 * 1024 * 1024
MAX_SIDE = 4096


def labelled_jpeg(data: bytes, label: str = STAGED_LABEL) -> bytes:
    """The picture as JPEG with the label in its lower left corner, white on a dark band
    legible on any picture."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if max(image.size) > MAX_SIDE:
                raise TooLarge("image_too_large", f"at most {MAX_SIDE} px a side")
            picture = image.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise Invalid("not_an_image", "the body is not a JPEG, PNG or WebP picture") from exc
    draw = ImageDraw.Draw(picture, "RGBA")
    size = max(14, picture.width // 40)
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    pad = size // 2
    box = (0, picture.height - (bottom - top) - 2 * pad, right - left + 2 * pad, picture.height)
    draw.rectangle(box, fill=(0, 0, 0, 170))
    draw.text((pad - left, box[1] + pad - top), label, font=font, fill=(255, 255, 255, 255))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=88)
    return out.getvalue()
