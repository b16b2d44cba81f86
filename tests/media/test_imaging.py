"""Tests for the pure image pipeline (pix_media.imaging) using real files made with Pillow."""

from __future__ import annotations

import io
import pickle
import struct
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image, ImageCms, JpegImagePlugin
from pix_media.imaging import (
    ACCEPTED_TYPES,
    ImageRejected,
    ProcessedImage,
    Rendition,
    process_image,
    sniff_type,
)

RED = (255, 0, 0)
BLUE = (0, 0, 255)
GREEN = (0, 255, 0)
YELLOW = (255, 255, 0)

RGB = tuple[int, int, int]


# --------------------------------------------------------------------------- helpers


def _pixel(img: Image.Image, xy: tuple[int, int]) -> RGB:
    value = img.convert("RGB").getpixel(xy)
    assert isinstance(value, tuple)
    return (int(value[0]), int(value[1]), int(value[2]))


def _close(actual: RGB, expected: RGB, tol: int = 24) -> bool:
    return all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True))


def _open(rendition: Rendition) -> Image.Image:
    img = Image.open(io.BytesIO(rendition.data))
    assert img.format == "JPEG"
    assert img.size == (rendition.width, rendition.height)
    return img


def _assert_no_metadata(rendition: Rendition) -> None:
    data = rendition.data
    for marker in (
        b"Exif",
        b"GPS",
        b"http://ns.adobe.com/xap",
        b"x:xmpmeta",
        b"ICC_PROFILE",
        b"Photoshop 3.0",
        b"8BIM",
        b"Canon",
        b"secret",
        b"\xff\xfe",  # COM segment marker
        b"\xff\xe1",  # APP1 (EXIF / XMP)
        b"\xff\xe2",  # APP2 (ICC / MPF)
        b"\xff\xed",  # APP13 (IPTC)
    ):
        assert marker not in data, marker
    img = _open(rendition)
    for key in ("exif", "xmp", "icc_profile", "comment", "photoshop"):
        assert key not in img.info, key
    assert len(img.getexif()) == 0
    assert isinstance(img, JpegImagePlugin.JpegImageFile)
    assert img.applist == [("APP0", img.applist[0][1])]  # only the JFIF header
    img.load()  # decodes cleanly


def _quadrants(size: tuple[int, int] = (96, 64)) -> Image.Image:
    """Upright reference: red | blue on top, green | yellow at the bottom (landscape)."""
    w, h = size
    img = Image.new("RGB", size)
    img.paste(RED, (0, 0, w // 2, h // 2))
    img.paste(BLUE, (w // 2, 0, w, h // 2))
    img.paste(GREEN, (0, h // 2, w // 2, h))
    img.paste(YELLOW, (w // 2, h // 2, w, h))
    return img


def _assert_upright_quadrants(img: Image.Image) -> None:
    w, h = img.size
    assert w > h
    assert _close(_pixel(img, (w // 4, h // 4)), RED)
    assert _close(_pixel(img, (3 * w // 4, h // 4)), BLUE)
    assert _close(_pixel(img, (w // 4, 3 * h // 4)), GREEN)
    assert _close(_pixel(img, (3 * w // 4, 3 * h // 4)), YELLOW)


def _app_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _insert_after_soi(jpeg: bytes, *segments: bytes) -> bytes:
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def _s15f16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _display_p3_icc() -> bytes:
    """A genuine Display P3 matrix/TRC ICC v2 profile assembled byte by byte.

    ImageCms can only *create* sRGB/LAB/XYZ profiles and no P3/Adobe RGB .icc files ship
    on this machine, so the profile is built from the published D50-adapted Display P3
    colorants (as in Apple's profile) and the sRGB tone curve (parametric type 3).
    """

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + _s15f16(x) + _s15f16(y) + _s15f16(z)

    text = b"Display P3 (test)"
    desc = (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(text) + 1)
        + text
        + b"\0"
        + struct.pack(">II", 0, 0)
        + struct.pack(">HB", 0, 0)
        + b"\0" * 67
    )
    cprt = b"text\0\0\0\0No copyright, test data\0"
    trc = (
        b"para\0\0\0\0"
        + struct.pack(">HH", 3, 0)
        + b"".join(_s15f16(v) for v in (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045))
    )
    tags: list[tuple[bytes, bytes]] = [
        (b"desc", desc),
        (b"cprt", cprt),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.515121, 0.241196, -0.001053)),
        (b"gXYZ", xyz(0.291977, 0.692245, 0.041885)),
        (b"bXYZ", xyz(0.157104, 0.066574, 0.784073)),
        (b"rTRC", trc),
        (b"gTRC", trc),
        (b"bTRC", trc),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    table = struct.pack(">I", len(tags))
    body = b""
    for signature, data in tags:
        padded = data + b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += padded
    size = 128 + table_size + len(body)
    header = (
        struct.pack(">I", size)
        + b"\0\0\0\0"
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 24  # platform, flags, manufacturer, model, attributes
        + struct.pack(">I", 0)  # perceptual
        + _s15f16(0.9642)
        + _s15f16(1.0)
        + _s15f16(0.8249)
        + b"\0" * 48  # creator, profile id, reserved
    )
    assert len(header) == 128
    return header + table + body


def _p3_to_srgb(rgb: RGB) -> RGB:
    """Independent reference: Display P3 → sRGB with the D65 matrices (no lcms)."""

    def to_linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    def to_gamma(c: float) -> float:
        c = min(1.0, max(0.0, c))
        return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055

    p3_to_xyz = (
        (0.4865709, 0.2656677, 0.1982173),
        (0.2289746, 0.6917385, 0.0792869),
        (0.0000000, 0.0451134, 1.0439444),
    )
    xyz_to_srgb = (
        (3.2404542, -1.5371385, -0.4985314),
        (-0.9692660, 1.8760108, 0.0415560),
        (0.0556434, -0.2040259, 1.0572252),
    )
    lin = [to_linear(c / 255) for c in rgb]
    xyz = [sum(m * v for m, v in zip(row, lin, strict=True)) for row in p3_to_xyz]
    out = [sum(m * v for m, v in zip(row, xyz, strict=True)) for row in xyz_to_srgb]
    r, g, b = (round(to_gamma(c) * 255) for c in out)
    return (r, g, b)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bilevel_png(path: Path, width: int, height: int) -> None:
    """A *valid* 1-bit PNG of width×height written row by row with zlib (tiny on disk,
    and the test never holds the pixels in memory either)."""
    row = b"\0" + b"\0" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _rejected(path: Path, **kwargs: int) -> ImageRejected:
    with pytest.raises(ImageRejected) as info:
        process_image(path, **kwargs)
    err = info.value
    assert err.message
    assert err.message.endswith(".")
    return err


# --------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\0\x10JFIF\0", "image/jpeg"),
        (b"\xff\xd8\xff\xe1\x12\x34Exif\0\0", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "image/png"),
        (b"RIFF\x24\0\0\0WEBPVP8 ", "image/webp"),
        (b"II*\0\x08\0\0\0", "image/tiff"),
        (b"MM\0*\0\0\0\x08", "image/tiff"),
        (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", "image/heic"),
        (b"\0\0\0\x18ftypheix\0\0\0\0mif1heix", "image/heic"),
        (b"\0\0\0\x18ftyphevc\0\0\0\0msf1hevc", "image/heic"),
        (b"\0\0\0\x18ftypmif1\0\0\0\0mif1heic", "image/heic"),
        (b"\0\0\0\x14ftypmif1\0\0\0\0mif1", "image/heif"),
        (b"\0\0\0\x14ftypmsf1\0\0\0\0msf1", "image/heif"),
        (b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf", None),
        (b"\0\0\0\x18ftypisom\0\0\0\0isommp41", None),  # MP4 video
        (b"GIF89a\x01\0\x01\0", None),
        (b"BM\x36\0\0\0\0\0\0\0\x36\0\0\0", None),
        (b"%PDF-1.7\n", None),
        (b"hello, I am a text file", None),
        (b"", None),
        (b"\xff\xd8", None),
    ],
)
def test_sniff_type(head: bytes, expected: str | None) -> None:
    assert sniff_type(head) == expected
    if expected is not None:
        assert expected in ACCEPTED_TYPES.values()


def test_accepted_types() -> None:
    assert set(ACCEPTED_TYPES.values()) == {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/tiff",
        "image/heic",
        "image/heif",
    }


# --------------------------------------------------------------------------- metadata


def test_jpeg_metadata_is_stripped(tmp_path: Path) -> None:
    img = _quadrants((640, 480))
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "Canon EOS secret"  # Model
    exif[0x0131] = "secret-software"  # Software
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"  # GPSLatitudeRef
    gps[2] = (52.0, 31.0, 12.0)  # GPSLatitude
    gps[3] = "E"  # GPSLongitudeRef
    gps[4] = (13.0, 24.0, 18.0)  # GPSLongitude
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        b'xmp:CreatorTool="secret"/></rdf:RDF></x:xmpmeta>'
    )
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=95, exif=exif, xmp=xmp, icc_profile=icc, comment=b"secret")
    iptc = b"\x1c\x02\x50\x00\x06secret"  # IPTC 2:80 By-line
    app13 = b"Photoshop 3.0\x008BIM\x04\x04\0\0" + struct.pack(">I", len(iptc)) + iptc
    data = _insert_after_soi(buf.getvalue(), _app_segment(0xED, app13))
    path = tmp_path / "gps.jpg"
    path.write_bytes(data)

    # The fixture really carries all of it.
    with Image.open(path) as src:
        assert src.getexif().get_ifd(0x8825)[1] == "N"
        assert src.getexif()[0x010F] == "Canon"
        assert "xmp" in src.info
        assert "icc_profile" in src.info
        assert src.info["comment"] == b"secret"
    for marker in (b"Exif", b"GPS" if b"GPS" in data else b"N\0", b"http://ns.adobe.com/xap"):
        assert marker in data
    assert b"ICC_PROFILE" in data
    assert b"Photoshop 3.0" in data

    result = process_image(path)
    assert result.content_type == "image/jpeg"
    assert (result.original_width, result.original_height) == (640, 480)
    _assert_no_metadata(result.web)
    _assert_no_metadata(result.thumb)
    _assert_upright_quadrants(_open(result.web))


# --------------------------------------------------------------------------- orientation


# For each EXIF orientation, how the *stored* pixels relate to the upright picture
# (EXIF 2.3 §4.6.4 "Orientation": where row 0 / column 0 of the stored image belong).
# Pillow's ROTATE_90 is counter-clockwise.
_STORED_FROM_UPRIGHT: dict[int, Callable[[Image.Image], Image.Image]] = {
    1: lambda im: im,
    2: lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),  # row0 top, col0 right
    3: lambda im: im.transpose(Image.Transpose.ROTATE_180),  # row0 bottom, col0 right
    4: lambda im: im.transpose(Image.Transpose.FLIP_TOP_BOTTOM),  # row0 bottom, col0 left
    5: lambda im: im.transpose(Image.Transpose.TRANSPOSE),  # row0 left, col0 top
    # row0 right, col0 top: viewer rotates 90° clockwise, so stored = rotated counter-cw
    6: lambda im: im.transpose(Image.Transpose.ROTATE_90),
    7: lambda im: im.transpose(Image.Transpose.TRANSVERSE),  # row0 right, col0 bottom
    # row0 left, col0 bottom: viewer rotates 90° counter-cw, so stored = rotated cw
    8: lambda im: im.transpose(Image.Transpose.ROTATE_270),
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation(tmp_path: Path, orientation: int) -> None:
    upright = _quadrants((96, 64))
    stored = _STORED_FROM_UPRIGHT[orientation](upright)
    assert stored.size == ((64, 96) if orientation >= 5 else (96, 64))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    stored.save(path, quality=95, exif=exif)

    result = process_image(path)
    assert (result.original_width, result.original_height) == (96, 64)
    for rendition in (result.web, result.thumb):
        assert (rendition.width, rendition.height) == (96, 64)
        _assert_no_metadata(rendition)
        _assert_upright_quadrants(_open(rendition))


def test_orientation_with_big_rotated_jpeg_uses_upright_dims(tmp_path: Path) -> None:
    stored = _STORED_FROM_UPRIGHT[6](_quadrants((4800, 3200)))  # stored as 3200×4800
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    stored.save(path, quality=85, exif=exif)

    result = process_image(path)
    assert (result.original_width, result.original_height) == (4800, 3200)
    assert (result.web.width, result.web.height) == (2000, 1333)
    assert (result.thumb.width, result.thumb.height) == (400, 267)
    _assert_upright_quadrants(_open(result.web))
    _assert_upright_quadrants(_open(result.thumb))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_heic_orientation_is_not_applied_twice(tmp_path: Path, orientation: int) -> None:
    # pillow-heif turns EXIF orientation into HEIF irot/imir boxes on save; libheif applies
    # them on decode and pillow-heif then reports orientation 1 — so no double rotation.
    stored = _STORED_FROM_UPRIGHT[orientation](_quadrants((96, 64)))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.heic"
    stored.save(path, format="HEIF", quality=95, exif=exif.tobytes())

    result = process_image(path)
    assert result.content_type == "image/heic"
    assert (result.original_width, result.original_height) == (96, 64)
    _assert_no_metadata(result.web)
    _assert_upright_quadrants(_open(result.web))


# --------------------------------------------------------------------------- formats


def _save_png_rgba(path: Path) -> None:
    img = _quadrants((300, 200)).convert("RGBA")
    img.putalpha(Image.new("L", img.size, 255))
    img.paste((0, 0, 0, 0), (0, 0, 30, 30))  # fully transparent black corner
    img.save(path, format="PNG")


def _save_webp(path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 3
    _STORED_FROM_UPRIGHT[3](_quadrants((300, 200))).save(path, format="WEBP", quality=95, exif=exif)


def _save_tiff(path: Path) -> None:
    _quadrants((300, 200)).save(path, format="TIFF", compression="tiff_lzw")


def _save_tiff_big_endian_cmyk(path: Path) -> None:
    _quadrants((300, 200)).convert("CMYK").save(path, format="TIFF")


def _save_heic(path: Path) -> None:
    pillow_heif.from_pillow(_quadrants((300, 200))).save(path, quality=95)


def _save_heic_via_pillow(path: Path) -> None:
    _quadrants((300, 200)).save(path, format="HEIF", quality=95)


def _save_jpeg_cmyk(path: Path) -> None:
    _quadrants((300, 200)).convert("CMYK").save(path, format="JPEG", quality=95)


def _save_jpeg_gray(path: Path) -> None:
    _quadrants((300, 200)).convert("L").save(path, format="JPEG", quality=95)


def _save_png_palette_transparent(path: Path) -> None:
    img = _quadrants((300, 200)).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    img.save(path, format="PNG", transparency=0)


def _save_png_la(path: Path) -> None:
    img = Image.new("LA", (300, 200), (0, 0))  # fully transparent → white
    img.save(path, format="PNG")


def _save_png_16bit_gray(path: Path) -> None:
    img = Image.linear_gradient("L").resize((300, 200)).convert("I")
    img.point(lambda v: v * 257).convert("I;16").save(path, format="PNG")


@pytest.mark.parametrize(
    ("writer", "filename", "content_type", "check_colours"),
    [
        (_save_png_rgba, "alpha.png", "image/png", True),
        (_save_webp, "rot180.webp", "image/webp", True),
        (_save_tiff, "lzw.tif", "image/tiff", True),
        (_save_tiff_big_endian_cmyk, "cmyk.tif", "image/tiff", True),
        (_save_heic, "photo.heic", "image/heic", True),
        (_save_heic_via_pillow, "photo2.heic", "image/heic", True),
        (_save_jpeg_cmyk, "cmyk.jpg", "image/jpeg", True),
        (_save_jpeg_gray, "gray.jpg", "image/jpeg", False),
        (_save_png_palette_transparent, "palette.png", "image/png", False),
        (_save_png_la, "la.png", "image/png", False),
        (_save_png_16bit_gray, "gray16.png", "image/png", False),
    ],
)
def test_formats_and_modes_are_rendered(
    tmp_path: Path,
    writer: Callable[[Path], None],
    filename: str,
    content_type: str,
    check_colours: bool,
) -> None:
    path = tmp_path / filename
    writer(path)
    result = process_image(path)
    assert isinstance(result, ProcessedImage)
    assert result.content_type == content_type
    assert (result.original_width, result.original_height) == (300, 200)
    assert (result.web.width, result.web.height) == (300, 200)  # not upscaled
    for rendition in (result.web, result.thumb):
        _assert_no_metadata(rendition)
        assert _open(rendition).mode == "RGB"
        if check_colours:
            _assert_upright_quadrants(_open(rendition))


def test_alpha_is_flattened_onto_white(tmp_path: Path) -> None:
    path = tmp_path / "alpha.png"
    _save_png_rgba(path)
    web = _open(process_image(path).web)
    assert _close(_pixel(web, (5, 5)), (255, 255, 255), tol=6)

    path = tmp_path / "la.png"
    _save_png_la(path)
    assert _close(_pixel(_open(process_image(path).web), (150, 100)), (255, 255, 255), 4)


def test_16bit_gray_keeps_tonal_range(tmp_path: Path) -> None:
    path = tmp_path / "gray16.png"
    _save_png_16bit_gray(path)
    with Image.open(path) as src:
        assert src.mode.startswith("I")
    web = _open(process_image(path).web)
    # linear_gradient runs from black (top) to white (bottom)
    top, middle, bottom = (_pixel(web, (150, y))[0] for y in (3, 100, 196))
    assert top < 20
    assert 100 < middle < 160
    assert bottom > 235


# --------------------------------------------------------------------------- colour


def test_display_p3_profile_is_converted_to_srgb(tmp_path: Path) -> None:
    p3 = _display_p3_icc()
    profile = ImageCms.ImageCmsProfile(io.BytesIO(p3))  # lcms accepts our profile
    assert "Display P3" in ImageCms.getProfileDescription(profile)

    colour: RGB = (200, 100, 50)
    expected = _p3_to_srgb(colour)
    assert max(abs(a - b) for a, b in zip(expected, colour, strict=True)) > 10

    path = tmp_path / "p3.png"  # lossless source so only the conversion is measured
    Image.new("RGB", (64, 64), colour).save(path, icc_profile=p3)
    result = process_image(path)
    got = _pixel(_open(result.web), (32, 32))
    assert _close(got, expected, tol=4), (got, expected)
    assert not _close(got, colour, tol=8)  # i.e. it was not just passed through
    _assert_no_metadata(result.web)

    # Same through a JPEG source (ICC in APP2 segments).
    jpg = tmp_path / "p3.jpg"
    Image.new("RGB", (64, 64), colour).save(jpg, quality=100, subsampling=0, icc_profile=p3)
    got = _pixel(_open(process_image(jpg).web), (32, 32))
    assert _close(got, expected, tol=5), (got, expected)


def test_srgb_profile_is_a_no_op(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    colour: RGB = (200, 100, 50)
    path = tmp_path / "srgb.png"
    Image.new("RGB", (64, 64), colour).save(path, icc_profile=srgb)
    got = _pixel(_open(process_image(path).web), (32, 32))
    assert _close(got, colour, tol=4), got


def test_broken_icc_profile_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "broken-icc.png"
    Image.new("RGB", (64, 64), (200, 100, 50)).save(path, icc_profile=b"not a profile" * 10)
    got = _pixel(_open(process_image(path).web), (32, 32))
    assert _close(got, (200, 100, 50), tol=4), got


# --------------------------------------------------------------------------- rejections


def test_text_named_jpg_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "holiday.jpg"
    path.write_text("this is definitely not a photo\n" * 20)
    err = _rejected(path)
    assert err.code == "not_an_image"


def test_empty_file_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert _rejected(path).code == "not_an_image"


def test_gif_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "anim.jpg"
    _quadrants().save(path, format="GIF")
    err = _rejected(path)
    assert err.code == "unsupported_type"
    assert "GIF" in err.message


def test_truncated_jpeg_is_corrupt(tmp_path: Path) -> None:
    src = tmp_path / "full.jpg"
    noise = Image.merge(
        "RGB", [Image.effect_noise((800, 600), 60) for _ in range(3)]
    )  # incompressible so that the cut lands in entropy-coded data
    noise.save(src, quality=90)
    data = src.read_bytes()
    path = tmp_path / "half.jpg"
    path.write_bytes(data[: len(data) // 2])
    assert _rejected(path).code == "corrupt_image"


def test_truncated_png_is_corrupt(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.merge("RGB", [Image.effect_noise((400, 300), 60) for _ in range(3)]).save(
        buf, format="PNG"
    )
    path = tmp_path / "half.png"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    assert _rejected(path).code == "corrupt_image"


def test_garbage_after_magic_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50)
    assert _rejected(path).code == "corrupt_image"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    _bilevel_png(path, 10_000, 10_000)  # 100 megapixels
    assert path.stat().st_size < 100_000
    with Image.open(path) as probe:
        assert probe.size == (10_000, 10_000)

    started = time.perf_counter()
    err = _rejected(path)
    elapsed = time.perf_counter() - started
    assert err.code == "too_many_pixels"
    assert "100.0 megapixels" in err.message
    assert elapsed < 2.0, elapsed


def test_huge_bomb_beyond_pillow_limit_is_refused(tmp_path: Path) -> None:
    # 400 MP: Pillow itself raises DecompressionBombError in Image.open.
    path = tmp_path / "bomb400.png"
    _bilevel_png(path, 20_000, 20_000)
    started = time.perf_counter()
    assert _rejected(path).code == "too_many_pixels"
    assert time.perf_counter() - started < 2.0


def test_max_pixels_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    _quadrants((100, 100)).save(path)
    assert _rejected(path, max_pixels=9_999).code == "too_many_pixels"
    assert process_image(path, max_pixels=10_000).original_width == 100


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("size", "web", "thumb"),
    [
        ((5000, 2500), (2000, 1000), (400, 200)),
        ((2500, 5000), (1000, 2000), (200, 400)),
        ((2001, 1000), (2000, 1000), (400, 200)),
        ((3001, 1000), (2000, 666), (400, 133)),
        ((1200, 900), (1200, 900), (400, 300)),
        ((300, 100), (300, 100), (300, 100)),
        ((1, 1), (1, 1), (1, 1)),
    ],
)
def test_rendition_sizes(
    tmp_path: Path, size: tuple[int, int], web: tuple[int, int], thumb: tuple[int, int]
) -> None:
    path = tmp_path / "sized.jpg"
    Image.linear_gradient("L").resize(size).convert("RGB").save(path, quality=90)
    result = process_image(path)
    assert (result.original_width, result.original_height) == size
    assert (result.web.width, result.web.height) == web
    assert (result.thumb.width, result.thumb.height) == thumb
    assert max(web) <= 2000
    assert max(thumb) <= 400


def test_custom_edges(tmp_path: Path) -> None:
    path = tmp_path / "sized.png"
    _quadrants((1000, 500)).save(path)
    result = process_image(path, web_edge=640, thumb_edge=128, quality=70)
    assert (result.web.width, result.web.height) == (640, 320)
    assert (result.thumb.width, result.thumb.height) == (128, 64)
    _assert_upright_quadrants(_open(result.thumb))


def test_image_rejected_is_picklable_and_readable() -> None:
    err = ImageRejected("too_large", "The file is too large.")
    copy = pickle.loads(pickle.dumps(err))  # noqa: S301 - our own bytes
    assert (copy.code, copy.message) == ("too_large", "The file is too large.")
    assert str(copy) == "The file is too large."


def test_concurrent_use_from_threads(tmp_path: Path) -> None:
    paths = []
    for i, colour in enumerate((RED, GREEN, BLUE, YELLOW)):
        path = tmp_path / f"c{i}.jpg"
        Image.new("RGB", (2400, 1600), colour).save(path, quality=90)
        paths.append((path, colour))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda item: process_image(item[0]), paths * 3))
    for result, (_, colour) in zip(results, paths * 3, strict=True):
        assert _close(_pixel(_open(result.thumb), (200, 133)), colour, tol=6)


def test_invalid_arguments(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    _quadrants().save(path)
    with pytest.raises(ValueError, match="quality"):
        process_image(path, quality=0)


# --------------------------------------------------------------------------- timing


def test_timing_12_megapixel_jpeg(tmp_path: Path) -> None:
    w, h = 4000, 3000
    gradient = Image.linear_gradient("L")
    bands = [
        Image.blend(
            gradient.resize((w, h)).rotate(angle, expand=False),
            Image.effect_noise((w, h), 40),
            0.35,
        )
        for angle in (0, 90, 180)
    ]
    path = tmp_path / "12mp.jpg"
    Image.merge("RGB", bands).save(path, quality=92)
    size_mb = path.stat().st_size / 1e6

    timings = []
    result = process_image(path)
    for _ in range(3):
        started = time.perf_counter()
        result = process_image(path)
        timings.append(time.perf_counter() - started)
    print(
        f"\nprocess_image 12 MP JPEG ({size_mb:.1f} MB): "
        f"best {min(timings) * 1000:.0f} ms, all {[round(t * 1000) for t in timings]} ms; "
        f"web {len(result.web.data) / 1e3:.0f} kB, thumb {len(result.thumb.data) / 1e3:.0f} kB"
    )
    assert (result.web.width, result.web.height) == (2000, 1500)
    assert (result.thumb.width, result.thumb.height) == (400, 300)
    assert min(timings) < 10.0  # sanity only; the number above is what matters
