"""Find faces (people in rooms, portraits on walls) and blur them. Pure: Pillow and OpenCV only.

Detector: OpenCV's Haar cascades from the opencv-python-headless 4.x wheel (frontal `alt2` plus
the profile cascade on the frame and its mirror image, since that cascade only knows one side).
The models ship inside the wheel, so nothing is downloaded at run time. mediapipe's BlazeFace
would be faster but its current wheels no longer ship the face models.

Measured on this machine (2 cores, one thread per detector), frontal + both profiles with
scaleFactor 1.2, minNeighbors 4, minSize 24: on a 640 px frame ~80–180 ms per photo, 800 px
~170–320 ms, 1024 px ~230–450 ms (the astronaut's busy texture up to 1.4 s), a 2000 px frame
~0.9 s per cascade. On an 800 px frame a face is found from about 5 % of the photo's long edge
(~100 px on the 2000 px web rendition), on 1024 px from ~3.5 %. Tiling a full-resolution pass
would find smaller faces at 4-6x the cost, which the throughput goal cannot carry, so the frame
edge is a setting (PIX_MEDIA_FACE_FRAME_EDGE). No false positives on window grids or noisy
plain interiors at minNeighbors 4 on any of these frame sizes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["Box", "blur_faces", "detect_faces"]

FRAME_EDGE: Final = 800
_SCALE_FACTOR: Final = 1.2
_MIN_NEIGHBORS: Final = 4
_MIN_SIZE: Final = (24, 24)
# Blur a margin around the detected square too: cascades box the inner face (eyes to mouth),
# leaving hairline, ears and chin recognisable otherwise.
_MARGIN: Final = 0.25


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    def overlaps(self, other: Box) -> bool:
        """Intersection over the smaller box above 30 %: one face seen by two cascades."""
        ix = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        smaller = min(self.w * self.h, other.w * other.h)
        return smaller > 0 and ix * iy / smaller > 0.3

    def union(self, other: Box) -> Box:
        x, y = min(self.x, other.x), min(self.y, other.y)
        right = max(self.x + self.w, other.x + other.w)
        bottom = max(self.y + self.h, other.y + other.h)
        return Box(x, y, right - x, bottom - y)


# cv2.CascadeClassifier is not documented as safe for concurrent detectMultiScale calls, so every
# worker thread loads its own pair (~1 MB, once per thread).
_local = threading.local()


def _cascades() -> tuple[Any, Any]:
    pair: tuple[Any, Any] | None = getattr(_local, "cascades", None)
    if pair is None:
        root = cv2.data.haarcascades  # type: ignore[attr-defined]
        frontal = cv2.CascadeClassifier(root + "haarcascade_frontalface_alt2.xml")
        profile = cv2.CascadeClassifier(root + "haarcascade_profileface.xml")
        if frontal.empty() or profile.empty():
            raise RuntimeError("OpenCV Haar cascades are missing from the installed wheel")
        pair = _local.cascades = (frontal, profile)
    return pair


def _merge(boxes: list[Box]) -> list[Box]:
    merged: list[Box] = []
    for box in sorted(boxes, key=lambda b: -b.w * b.h):
        for i, kept in enumerate(merged):
            if kept.overlaps(box):
                merged[i] = kept.union(box)
                break
        else:
            merged.append(box)
    return merged


def detect_faces(img: Image.Image, *, frame_edge: int = FRAME_EDGE) -> list[Box]:
    """Face boxes in `img`'s coordinates, found on a grey frame of at most `frame_edge` px."""
    scale = min(1.0, frame_edge / max(img.size))
    frame = img if scale == 1.0 else img.reduce(max(1, int(1 / scale)))
    if max(frame.size) > frame_edge:
        frame = frame.resize(
            (max(1, round(img.width * scale)), max(1, round(img.height * scale))),
            Image.Resampling.BILINEAR,
        )
    scale_x, scale_y = img.width / frame.width, img.height / frame.height
    grey = cv2.equalizeHist(np.asarray(frame.convert("L")))
    frontal, profile = _cascades()
    width = grey.shape[1]
    found: list[Box] = []
    for cascade, image, mirrored in (
        (frontal, grey, False),
        (profile, grey, False),
        (profile, cv2.flip(grey, 1), True),
    ):
        hits = cascade.detectMultiScale(
            image, scaleFactor=_SCALE_FACTOR, minNeighbors=_MIN_NEIGHBORS, minSize=_MIN_SIZE
        )
        for x, y, w, h in hits:
            x = width - x - w if mirrored else x
            found.append(
                Box(int(x * scale_x), int(y * scale_y), int(w * scale_x + 1), int(h * scale_y + 1))
            )
    return _merge(found)


def blur_faces(img: Image.Image, boxes: list[Box]) -> Image.Image:
    """A copy of `img` with each box (plus margin) blurred beyond recognition, feathered edges."""
    if not boxes:
        return img
    out = img.copy()
    for box in boxes:
        mx, my = int(box.w * _MARGIN), int(box.h * _MARGIN)
        left, top = max(0, box.x - mx), max(0, box.y - my)
        right, bottom = min(img.width, box.x + box.w + mx), min(img.height, box.y + box.h + my)
        if right <= left or bottom <= top:
            continue
        region = out.crop((left, top, right, bottom))
        # Pixelate first (destroys detail for good), then smooth the blocks so it reads as blur.
        cells = max(1, min(region.size) // 8)
        small = region.resize(
            (max(1, region.width // cells), max(1, region.height // cells)),
            Image.Resampling.BOX,
        )
        blurred = small.resize(region.size, Image.Resampling.BILINEAR).filter(
            ImageFilter.GaussianBlur(max(2, cells // 2))
        )
        mask = Image.new("L", region.size, 0)
        ImageDraw.Draw(mask).ellipse((0, 0, region.width - 1, region.height - 1), fill=255)
        mask = mask.filter(ImageFilter.GaussianBlur(max(1, min(region.size) // 20)))
        out.paste(blurred, (left, top), mask)
    return out
