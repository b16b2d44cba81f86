"""Find faces (people in rooms, portraits on walls) and blur them. Pure: Pillow, NumPy, LiteRT.

Detector: MediaPipe's BlazeFace full-range model (`blazeface/`, shipped inside this package)
run by LiteRT (TensorFlow Lite's runtime, XNNPACK on the CPU), so nothing is downloaded at run
time. LiteRT takes 3.5 ms an inference here; OpenCV's TFLite importer, tried first, 8 ms.
Chosen on the test set of `tests/face_scenes.py` (two photographs of people pasted into room
photos with the face at 2–20 % of the long edge, 6 placements per size, plus interiors
without people), printed by `tests/perf/test_face_detection.py`; from a 2000 px frame, one
core:

| face size, % of long edge | 2 | 3 | 4 | 5 | 6 | 8 | 12 | 20 | false pos. | time |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| BlazeFace, whole frame (`frame`) | 0/6 | 0/6 | 0/6 | 0/6 | 2/6 | 6/6 | 6/6 | 6/6 | 0 | 7 ms |
| BlazeFace, + 15 tiles (`tiles`) | 2/6 | 5/6 | 6/6 | 6/6 | 6/6 | 6/6 | 6/6 | 6/6 | 0 | 71 ms |
| Haar cascades, 800 px (before) | 0/6 | 0/6 | 1/6 | 3/6 | 4/6 | 4/6 | 3/6 | 3/6 | 0 | 310 ms |

The network sees a 192 px square and finds faces from about 12 px of it: the whole-frame pass
finds faces from ~8 % of the photo's long edge (a portrait on the wall, a person a few metres
from the camera) with one inference (~4 ms from the thumbnail, its source in the service);
the tiled pass adds overlapping windows of 3/8 of the long edge and finds faces from ~4 %, at
15× the cost. `PIX_MEDIA_FACE_SCAN` chooses: `frame` (default), `tiles`, or `off`.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final, Literal

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["Box", "FaceScan", "blur_faces", "detect_faces", "detection_edge", "warm_up_detector"]

FaceScan = Literal["off", "frame", "tiles"]

_MODEL: Final = "face_detection_full_range.tflite"
_MODEL_SHA256: Final = "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"
_INPUT: Final = 192  # the network's square input
_GRID: Final = 48  # one anchor per cell, stride 4
# MediaPipe's own threshold for this model's detections.
_MIN_SCORE: Final = 0.5
_MIN_LOGIT: Final = float(np.log(_MIN_SCORE / (1 - _MIN_SCORE)))
# Tiled scan: windows of this share of the long edge, overlapping by half, so every face up
# to half a window lies wholly inside one of them.
_TILE_SHARE: Final = 3 / 8
# Blur a margin around the detected box too: BlazeFace boxes brows to chin, leaving hairline
# and ears recognisable otherwise.
_MARGIN: Final = 0.3

# Anchor centres in units of the input square, in the order of the model's outputs.
_ANCHORS: Final = np.array(
    [((x + 0.5) / _GRID, (y + 0.5) / _GRID) for y in range(_GRID) for x in range(_GRID)],
    dtype=np.float32,
)


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    def overlaps(self, other: Box) -> bool:
        """Intersection over the smaller box above 30 %: one face seen twice (by neighbouring
        anchors or by two overlapping windows)."""
        ix = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        smaller = min(self.w * self.h, other.w * other.h)
        return smaller > 0 and ix * iy / smaller > 0.3

    def union(self, other: Box) -> Box:
        x, y = min(self.x, other.x), min(self.y, other.y)
        right = max(self.x + self.w, other.x + other.w)
        bottom = max(self.y + self.h, other.y + other.h)
        return Box(x, y, right - x, bottom - y)

    def scaled(self, sx: float, sy: float) -> Box:
        """The same box in an image `sx`×`sy` the size, rounded outwards."""
        x, y = int(self.x * sx), int(self.y * sy)
        return Box(
            x, y, int((self.x + self.w) * sx + 0.999) - x, int((self.y + self.h) * sy + 0.999) - y
        )


_local = threading.local()


def _model_bytes() -> bytes:
    data = (resources.files("pix_media") / "blazeface" / _MODEL).read_bytes()
    if hashlib.sha256(data).hexdigest() != _MODEL_SHA256:
        raise RuntimeError(f"{_MODEL} does not match its recorded SHA-256; reinstall pix-media")
    return data


class _Network:
    """One thread's LiteRT interpreter of the model (an interpreter is not shared between
    threads). One CPU thread each: the media workers already run photos side by side."""

    def __init__(self) -> None:
        self._interpreter = Interpreter(model_content=_model_bytes(), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {o["name"]: o["index"] for o in self._interpreter.get_output_details()}
        self._scores = outputs["reshaped_classifier_face_4"]
        self._boxes = outputs["reshaped_regressor_face_4"]

    def run(self, square: Any) -> tuple[Any, Any]:
        """A 192 × 192 RGB square → (a logit per anchor, 16 regressors per anchor)."""
        # RGB scaled to [-1, 1], as the model was trained.
        tensor = np.asarray(square, np.float32)[np.newaxis] / 127.5 - 1.0
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        scores = self._interpreter.get_tensor(self._scores)[0, :, 0]
        return scores, self._interpreter.get_tensor(self._boxes)[0]


def _net() -> _Network:
    net: _Network | None = getattr(_local, "net", None)
    if net is None:
        net = _local.net = _Network()
    return net


def warm_up_detector() -> None:
    """Load this thread's network now (a thread pool's initializer)."""
    _net()


def detection_edge(scan: FaceScan) -> int:
    """Long edge of the frame `detect_faces` needs for `scan`: a larger source gains nothing."""
    if scan == "tiles":
        return round(_INPUT / _TILE_SHARE)
    return _INPUT


def _starts(length: int, window: int) -> list[int]:
    """Window origins along one axis: first and last flush with the edges, at most half a
    window apart."""
    if window >= length:
        return [0]
    steps = -(-(length - window) * 2 // window)  # ceil((length - window) / (window / 2))
    return [round(i * (length - window) / steps) for i in range(steps + 1)]


def _windows(width: int, height: int, scan: FaceScan) -> list[tuple[int, int, int]]:
    """Square windows (x, y, side) in a frame whose long edge is `detection_edge(scan)`: the
    whole frame first, then for `tiles` the overlapping `_INPUT`-sized tiles."""
    windows = [(0, 0, max(width, height))]
    if scan == "tiles":
        windows += [(x, y, _INPUT) for y in _starts(height, _INPUT) for x in _starts(width, _INPUT)]
    return windows


def _merge(boxes: list[tuple[float, Box]]) -> list[Box]:
    """Best-scored first; a box overlapping a kept one widens it (blurring more is safe)."""
    merged: list[Box] = []
    for _, box in sorted(boxes, key=lambda scored: -scored[0]):
        for i, kept in enumerate(merged):
            if kept.overlaps(box):
                merged[i] = kept.union(box)
                break
        else:
            merged.append(box)
    return merged


def detect_faces(img: Image.Image, *, scan: FaceScan = "frame") -> list[Box]:
    """Face boxes in `img`'s coordinates. `img` needs no more than `detection_edge(scan)` px
    on its long edge; larger images are scaled down first."""
    if scan == "off":
        return []
    edge = detection_edge(scan)
    scale = min(1.0, edge / max(img.size))
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    frame_img = img.convert("RGB") if img.mode != "RGB" else img
    if frame_img.size != size:
        frame_img = frame_img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    frame = np.asarray(frame_img)
    back_x, back_y = img.width / size[0], img.height / size[1]
    net = _net()
    found: list[tuple[float, Box]] = []
    for x0, y0, side in _windows(size[0], size[1], scan):
        # Letterbox: the window's pixels top-left in a black square (the model's own padding).
        square = np.zeros((side, side, 3), np.uint8)
        crop = frame[y0 : y0 + side, x0 : x0 + side]
        square[: crop.shape[0], : crop.shape[1]] = crop
        if side != _INPUT:  # the whole frame of a tiled scan
            square = np.asarray(
                Image.fromarray(square).resize((_INPUT, _INPUT), Image.Resampling.BOX)
            )
        logits, boxes = net.run(square)
        for i in np.flatnonzero(logits > _MIN_LOGIT):
            # Regressors: centre offset and size in input pixels, relative to the anchor.
            cx = (boxes[i, 0] / _INPUT + _ANCHORS[i, 0]) * side + x0
            cy = (boxes[i, 1] / _INPUT + _ANCHORS[i, 1]) * side + y0
            w, h = boxes[i, 2] / _INPUT * side, boxes[i, 3] / _INPUT * side
            if w <= 0 or h <= 0:
                continue
            box = Box(
                max(0, int((cx - w / 2) * back_x)),
                max(0, int((cy - h / 2) * back_y)),
                int(w * back_x) + 1,
                int(h * back_y) + 1,
            )
            found.append((float(logits[i]), box))
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
