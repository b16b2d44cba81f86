"""Real image files for tests: JPEGs with camera EXIF and GPS, corrupt files, bombs."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw

GPS_IFD = 0x8825
SECRET = "Musterstrasse 12 Berlin"  # must never reach a rendition or caption


def room_photo(
    width: int = 2400, height: int = 1600, *, colour: tuple[int, int, int] = (200, 170, 130)
) -> Image.Image:
    """A plausible interior: a warm gradient wall, a floor, a window, and sensor noise."""
    image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    for y in range(0, height, 8):
        shade = int(40 * y / height)
        draw.rectangle([0, y, width, y + 8], fill=tuple(max(0, c - shade) for c in colour))
    draw.rectangle([0, int(height * 0.7), width, height], fill=(120, 90, 60))
    draw.rectangle(
        [int(width * 0.6), int(height * 0.15), int(width * 0.85), int(height * 0.5)],
        fill=(235, 240, 250),
    )
    noise = Image.effect_noise((width, height), 12).convert("RGB")
    return Image.blend(image, noise, 0.08)


def jpeg_with_gps(image: Image.Image | None = None, *, quality: int = 90) -> bytes:
    """A JPEG carrying what a phone writes: make, model, GPS position, a description."""
    image = image or room_photo()
    exif = Image.Exif()
    exif[0x010F] = "PixTestCam"  # Make
    exif[0x0110] = "Model 7"  # Model
    exif[0x010E] = SECRET  # ImageDescription
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.0)
    gps[3] = "E"
    gps[4] = (13.0, 24.0, 36.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif)
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    data = jpeg_with_gps(room_photo(800, 600))
    return data[: len(data) // 2]


def decompression_bomb_png(width: int = 10_000, height: int = 10_000) -> bytes:
    """A valid 100-megapixel 1-bit PNG that compresses to a few kilobytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
