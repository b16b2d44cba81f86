"""Codec anchor worker: `python tests/perf/codec_anchor.py DIR ROUNDS` (run by
test_codec_anchor_bench.py in a fresh process pinned to one core; prints one JSON line).

DIR holds one folder per size (`12MP/`, `24MP/`) of photo-like JPEGs with EXIF orientation.
Every pipeline turns each photo into the service's two renditions (long edge 2000 and 400 px,
quality 82, 4:2:0, no metadata), the thumbnail from the web rendition:

- `service, faces off|on`: what the media job runs in its thread pool
  (`pix_media.processing._hash_and_render`: sniff, header and pixel-count check, EXIF
  orientation, JPEG draft, decode, turn, sRGB, resize, faces when on, encode both, SHA-256);
- `Pillow + draft`: decode scaled in the DCT domain to at least 2000 px, resize, turn the
  smaller image, encode (progressive, as the service);
- `pyvips shrink-on-load`: jpegload with the same shrink, lanczos3, autorot, jpegsave
  (progressive; the wheel's libvips is built with mozjpeg);
- `libjpeg-turbo (simplejpeg)`: scaled decode and encode by libjpeg-turbo itself; it has no
  resampler (libvips's lanczos3 does that, and the turn) and writes baseline JPEG only, so it is
  compared with `Pillow + draft, baseline` too;
- `Pillow + draft, libvips resize`: the fastest part of each (libjpeg-turbo's scaled decode,
  libvips's resampler, the encoder Pillow bundles).

The pipelines take turns photo by photo (the order rotating), so a neighbour's load on the
shared machine falls on all of them alike. Figures: CPU ms of the whole process per photo
(every thread) and wall ms, as medians; per round the median too, to show the spread.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# libvips would otherwise start a worker per core; the figures are per core for all of them.
os.environ.setdefault("VIPS_CONCURRENCY", "1")

import numpy as np
import pyvips
import simplejpeg
from PIL import Image

WEB_EDGE, THUMB_EDGE, QUALITY = 2000, 400, 82
_TURN = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}

Renditions = tuple[bytes, bytes]


def fit(size: tuple[int, int], edge: int) -> tuple[int, int]:
    """As the service: long edge at most `edge`, never upscaled."""
    w, h = size
    if max(w, h) <= edge:
        return w, h
    scale = edge / max(w, h)
    return max(1, min(edge, round(w * scale))), max(1, min(edge, round(h * scale)))


def dct_shrink(size: tuple[int, int], edge: int) -> int:
    """The largest of 1, 2, 4, 8 that keeps the long edge at least `edge` (as Pillow's draft)."""
    shrink = 1
    while shrink < 8 and max(size) / (shrink * 2) >= edge:
        shrink *= 2
    return shrink


def _lanczos(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    if img.size == size:
        return img
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def _upright(img: Image.Image, orientation: int) -> Image.Image:
    for turn in _TURN.get(orientation, ()):
        img = img.transpose(turn)
    return img


def _pillow_jpeg(img: Image.Image, progressive: bool) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=QUALITY, optimize=False, progressive=progressive)
    return buffer.getvalue()


def pillow_draft(path: Path, progressive: bool = True) -> Renditions:
    img = Image.open(path)  # closes its file once loaded
    orientation = img.getexif().get(0x0112, 1)
    img.draft("RGB", fit(img.size, WEB_EDGE))
    img.load()
    # Resized before it is turned: the turn then moves the smaller image.
    web = _upright(_lanczos(img, fit(img.size, WEB_EDGE)), orientation)
    thumb = _lanczos(web, fit(web.size, THUMB_EDGE))
    return _pillow_jpeg(web, progressive), _pillow_jpeg(thumb, progressive)


def pillow_draft_baseline(path: Path) -> Renditions:
    return pillow_draft(path, progressive=False)


def pyvips_shrink_on_load(path: Path) -> Renditions:
    header = pyvips.Image.new_from_file(str(path))  # header only: libvips is lazy
    shrink = dct_shrink((header.width, header.height), WEB_EDGE)
    img = pyvips.Image.new_from_file(str(path), shrink=shrink)
    scale = WEB_EDGE / max(img.width, img.height)
    if scale < 1:
        img = img.resize(scale, kernel="lanczos3")
    web = img.autorot().copy_memory()
    thumb = web.resize(THUMB_EDGE / max(web.width, web.height), kernel="lanczos3")
    options = {"Q": QUALITY, "interlace": True, "keep": "none", "optimize_coding": False}
    return web.jpegsave_buffer(**options), thumb.jpegsave_buffer(**options)


def _vips_lanczos(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    if img.size == size:
        return img
    pixels = pyvips.Image.new_from_memory(img.tobytes(), *img.size, len(img.getbands()), "uchar")
    smaller = pixels.resize(size[0] / img.width, vscale=size[1] / img.height, kernel="lanczos3")
    return Image.frombytes(img.mode, size, smaller.write_to_memory())


def draft_and_vips_resize(path: Path) -> Renditions:
    """The fastest parts of each: libjpeg-turbo's scaled decode (Pillow's draft), libvips's
    resampler (SIMD; Pillow's LANCZOS takes 3x as long from 3000 to 2000 px), Pillow's encode."""
    img = Image.open(path)
    orientation = img.getexif().get(0x0112, 1)
    img.draft("RGB", fit(img.size, WEB_EDGE))
    img.load()
    web = _upright(_vips_lanczos(img, fit(img.size, WEB_EDGE)), orientation)
    thumb = _lanczos(web, fit(web.size, THUMB_EDGE))
    return _pillow_jpeg(web, True), _pillow_jpeg(thumb, True)


def _vips_fit(pixels: pyvips.Image, edge: int) -> pyvips.Image:
    size = fit((pixels.width, pixels.height), edge)
    if size == (pixels.width, pixels.height):
        return pixels
    return pixels.resize(size[0] / pixels.width, vscale=size[1] / pixels.height, kernel="lanczos3")


def _turbo_jpeg(pixels: pyvips.Image) -> bytes:
    array = np.ndarray((pixels.height, pixels.width, 3), np.uint8, buffer=pixels.write_to_memory())
    return bytes(
        simplejpeg.encode_jpeg(array, quality=QUALITY, colorspace="RGB", colorsubsampling="420")
    )


def libjpeg_turbo(path: Path) -> Renditions:
    """libjpeg-turbo decodes and encodes; between them the pixels stay packed RGB in
    libvips (the fastest resampler here), with no detour through Pillow's 4-byte pixels."""
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as header:  # EXIF orientation: header only
        orientation = header.getexif().get(0x0112, 1)
        size = header.size
    target = fit(size, WEB_EDGE)
    decoded = simplejpeg.decode_jpeg(
        data, colorspace="RGB", min_width=target[0], min_height=target[1]
    )
    pixels = pyvips.Image.new_from_memory(
        decoded.data, decoded.shape[1], decoded.shape[0], 3, "uchar"
    )
    pixels = _vips_fit(pixels, WEB_EDGE).copy()
    pixels.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    web = pixels.autorot().copy_memory()
    return _turbo_jpeg(web), _turbo_jpeg(_vips_fit(web, THUMB_EDGE))


def service(faces: bool) -> Callable[[Path], Renditions]:
    from pix_media.processing import _hash_and_render
    from pix_media.settings import MediaSettings

    settings = MediaSettings()

    def run(path: Path) -> Renditions:
        _, rendered = _hash_and_render(
            path,
            max_pixels=settings.max_pixels,
            web_edge=settings.web_edge,
            thumb_edge=settings.thumb_edge,
            face_scan=settings.face_scan if faces else "off",
        )
        return rendered.web.data, rendered.thumb.data

    return run


PIPELINES: dict[str, Callable[[Path], Renditions]] = {
    "service, faces off": service(faces=False),
    "service, faces on": service(faces=True),
    "Pillow + draft": pillow_draft,
    "pyvips shrink-on-load": pyvips_shrink_on_load,
    "Pillow + draft, libvips resize": draft_and_vips_resize,
    "libjpeg-turbo (simplejpeg)": libjpeg_turbo,
    "Pillow + draft, baseline": pillow_draft_baseline,
}


def cpu_seconds() -> float:
    """The whole process, every thread, at nanosecond resolution (os.times ticks at 10 ms)."""
    return time.process_time()


def shape(renditions: Renditions) -> list[object]:
    """Sizes, and whether a rendition carries EXIF or an ICC profile (it must not)."""
    out: list[object] = []
    for data in renditions:
        with Image.open(io.BytesIO(data)) as img:
            out.append([*img.size, bool(img.getexif()) or "icc_profile" in img.info])
    return out


def measure(files: list[Path], rounds: int) -> dict[str, object]:
    names = list(PIPELINES)
    cpu: dict[str, list[list[float]]] = {n: [[] for _ in range(rounds)] for n in names}
    wall: dict[str, list[float]] = {n: [] for n in names}
    shapes = {n: [shape(PIPELINES[n](path)) for path in files] for n in names}  # also warms
    turn = 0
    for r in range(rounds):
        for path in files:
            turn += 1
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                c, w = cpu_seconds(), time.perf_counter()
                PIPELINES[name](path)
                wall[name].append((time.perf_counter() - w) * 1000)
                cpu[name][r].append((cpu_seconds() - c) * 1000)
    result: dict[str, object] = {}
    for name in names:
        per_round = [statistics.median(samples) for samples in cpu[name]]
        result[name] = {
            "cpu_ms": statistics.median([s for samples in cpu[name] for s in samples]),
            "cpu_round_lo": min(per_round),
            "cpu_round_hi": max(per_round),
            "wall_ms": statistics.median(wall[name]),
            "samples": len(wall[name]),
            "shapes": shapes[name],
        }
    return result


def main() -> None:
    folder, rounds = Path(sys.argv[1]), int(sys.argv[2])
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    pyvips.cache_set_max(0)  # every photo decoded anew, as in the service
    from pix_media.faces import warm_up_detector

    warm_up_detector()
    sizes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    print(
        json.dumps({size: measure(sorted((folder / size).glob("*.jpg")), rounds) for size in sizes})
    )


if __name__ == "__main__":
    main()
