"""The all-in-one ZIP: every format's files plus the photos, web-size or original."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

# Originals keep their upload format; the extension comes from the bytes (keys carry none).
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, ".jpg"),
    (b"\x89PNG", 0, ".png"),
    (b"WEBP", 8, ".webp"),
    (b"II*\x00", 0, ".tif"),
    (b"MM\x00*", 0, ".tif"),
    (b"ftyphei", 4, ".heic"),
    (b"ftyphev", 4, ".heic"),
    (b"ftypmif1", 4, ".heic"),
)


def image_extension(data: bytes) -> str:
    for magic, offset, ext in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return ext
    return ".bin"


def build_zip(files: Iterable[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files:
            # Images and nested ZIPs do not compress: store them, deflate the text.
            compress = not path.endswith((".jpg", ".png", ".webp", ".tif", ".heic", ".zip"))
            info = zipfile.ZipInfo(path)
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            archive.writestr(info, data)
    return buffer.getvalue()
