"""Find faces (people in rooms, portraits on walls) and blur them. Pure: Pillow, NumPy, LiteRT.

Detectors: MediaPipe's BlazeFace full-range and short-range models (`blazeface/`, shipped
inside this package with their provenance and hashes) run by LiteRT (TensorFlow Lite's runtime,
XNNPACK on the CPU), so nothing is downloaded at run time. The full-range model sees a 192 px
square and finds faces from ~12 px of it, so one look at the whole frame finds faces from ~8 %
of the long edge. The default scan, `scout`, also finds them from 2 % (a portrait on the wall,
a person 5 m from a phone's wide lens) at 27–29 ms a photo on one loaded core:

1. the whole frame, once;
2. the frame at `_SCOUT_EDGE` px in four overlapping windows, keeping what passes and the
   spots that score just below the threshold (a 2 % face is 7 px there: too small to pass,
   large enough to stand out);
3. the `_SPOTS` best spots again, in close-ups of `_SPOT_SHARE` of the long edge cut from the
   source, by the short-range model (a third of the cost); a find counts only if the
   full-range model agrees when shown that face `_CHECK_PX` wide.

`tiles` (the whole frame and overlapping windows of 3/8 of the long edge) finds faces from
~4 % (portraits) at 2.4× the cost; `frame` is step 1 alone. The comparison with MTCNN, dlib
and the other scans on the test set of `tests/face_scenes.py` is in the README (*Faces*),
printed by `tests/perf/test_face_detection.py`.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final, Literal

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["Box", "FaceScan", "blur_faces", "detect_faces", "detection_edge", "warm_up_detector"]

FaceScan = Literal["off", "frame", "scout", "tiles"]

# MediaPipe's own threshold for these models' detections.
_MIN_SCORE: Final = 0.5
_MIN_LOGIT: Final = float(np.log(_MIN_SCORE / (1 - _MIN_SCORE)))
# Tiled scan: windows of this share of the long edge, overlapping by half, so every face up
# to half a window lies wholly inside one of them.
_TILE_SHARE: Final = 3 / 8
# Scout scan: the frame at this long edge in four overlapping windows (a face of 2 % of the
# long edge is 7 px there: too small to pass the threshold, large enough to stand out) …
_SCOUT_EDGE: Final = 352
# … and the best spots below the threshold, at most this many, looked at again closer up:
# a window of this share of the long edge, where a face of 2 % is 20 % of the window.
_SPOTS: Final = 3
_SPOT_FLOOR: Final = float(np.log(0.1 / 0.9))
_SPOT_SHARE: Final = 1 / 10
# The full-range model's check of such a find sees the face this wide (it finds faces from
# ~12 px and reliably from ~16 px).
_CHECK_PX: Final = 24
# Blur a margin around the detected box too: BlazeFace boxes brows to chin, leaving hairline
# and ears recognisable otherwise.
_MARGIN: Final = 0.3


def _grid(size: int, layers: tuple[tuple[int, int], ...]) -> Any:
    """Anchor centres in units of the input square, in the order of the model's outputs:
    per (stride, anchors per cell) layer, row by row."""
    centres = []
    for stride, per_cell in layers:
        cells = size // stride
        for y in range(cells):
            for x in range(cells):
                centres += [((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell
    return np.array(centres, dtype=np.float32)


@dataclass(frozen=True)
class _Model:
    file: str
    sha256: str
    input: int  # the network's square input
    anchors: Any
    scores: str  # output tensor names
    boxes: str


# Full range: faces from ~12 px of its 192 px input (a person up to 5 m from a phone).
_FULL: Final = _Model(
    "face_detection_full_range.tflite",
    "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
    192,
    _grid(192, ((4, 1),)),
    "reshaped_classifier_face_4",
    "reshaped_regressor_face_4",
)
# Short range: faces from ~20 px of its 128 px input, at a third of the full model's cost.
_SHORT: Final = _Model(
    "face_detection_short_range.tflite",
    "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
    128,
    _grid(128, ((8, 2), (16, 6))),
    "classificators",
    "regressors",
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


def _model_bytes(model: _Model) -> bytes:
    data = (resources.files("pix_media") / "blazeface" / model.file).read_bytes()
    if hashlib.sha256(data).hexdigest() != model.sha256:
        raise RuntimeError(f"{model.file} does not match its recorded SHA-256; reinstall pix-media")
    return data


class _Network:
    """One thread's LiteRT interpreter of a model (an interpreter is not shared between
    threads). One CPU thread each: the media workers already run photos side by side."""

    def __init__(self, model: _Model) -> None:
        self.model = model
        self._interpreter = Interpreter(model_content=_model_bytes(model), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {o["name"]: o["index"] for o in self._interpreter.get_output_details()}
        self._scores = outputs[model.scores]
        self._boxes = outputs[model.boxes]

    def run(self, square: Any) -> tuple[Any, Any]:
        """An input-sized RGB square → (a logit per anchor, 16 regressors per anchor)."""
        # RGB scaled to [-1, 1], as the models were trained.
        tensor = np.asarray(square, np.float32)[np.newaxis] / 127.5 - 1.0
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        scores = self._interpreter.get_tensor(self._scores)[0, :, 0]
        return scores, self._interpreter.get_tensor(self._boxes)[0]


def _net(model: _Model) -> _Network:
    nets: dict[str, _Network] | None = getattr(_local, "nets", None)
    if nets is None:
        nets = _local.nets = {}
    net = nets.get(model.file)
    if net is None:
        net = nets[model.file] = _Network(model)
    return net


def warm_up_detector() -> None:
    """Load this thread's networks now (a thread pool's initializer)."""
    _net(_FULL)
    _net(_SHORT)


def detection_edge(scan: FaceScan) -> int:
    """Long edge of the frame `detect_faces` needs for `scan`: a larger source gains nothing."""
    if scan == "tiles":
        return round(_FULL.input / _TILE_SHARE)
    if scan == "scout":
        return round(_SHORT.input / _SPOT_SHARE)
    return _FULL.input


def _starts(length: int, window: int, overlap: float = 0.5) -> list[int]:
    """Window origins along one axis: first and last flush with the edges, at most
    `1 - overlap` of a window apart."""
    if window >= length:
        return [0]
    stride = window * (1 - overlap)
    steps = int(-(-(length - window) // stride))
    return [round(i * (length - window) / steps) for i in range(steps + 1)]


@dataclass
class _Found:
    boxes: list[tuple[float, Box]] = field(default_factory=list)  # logit, box in source px
    spots: list[tuple[float, float, float]] = field(default_factory=list)  # logit, x, y


def _look(
    net: _Network,
    square: Any,
    origin: tuple[float, float],
    side: float,
    found: _Found,
    *,
    spots: bool = False,
) -> None:
    """Run one window (`square`, the model's input size) that covers `side` source pixels
    from `origin`; keep what passes the threshold and, if asked, the spots just below it."""
    size = net.model.input
    logits, boxes = net.run(square)
    scale = side / size
    anchors = net.model.anchors
    for i in np.flatnonzero(logits > _MIN_LOGIT):
        # Regressors: centre offset and size in input pixels, relative to the anchor.
        cx = (boxes[i, 0] + anchors[i, 0] * size) * scale + origin[0]
        cy = (boxes[i, 1] + anchors[i, 1] * size) * scale + origin[1]
        w, h = boxes[i, 2] * scale, boxes[i, 3] * scale
        if w > 0 and h > 0:
            box = Box(max(0, int(cx - w / 2)), max(0, int(cy - h / 2)), int(w) + 1, int(h) + 1)
            found.boxes.append((float(logits[i]), box))
    if spots:
        for i in np.flatnonzero((logits > _SPOT_FLOOR) & (logits <= _MIN_LOGIT)):
            found.spots.append(
                (
                    float(logits[i]),
                    float(anchors[i, 0] * side + origin[0]),
                    float(anchors[i, 1] * side + origin[1]),
                )
            )


def _frame(img: Image.Image, edge: int) -> tuple[Any, float]:
    """`img` as RGB pixels with at most `edge` px on the long edge, and source px a frame px."""
    rgb = img.convert("RGB") if img.mode != "RGB" else img
    scale = min(1.0, edge / max(img.size))
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    if rgb.size != size:
        # A box filter by a whole factor first, then bilinear (half the time of a gap of 2;
        # the network sees no difference).
        rgb = rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=1.0)
    return np.asarray(rgb), img.width / size[0]


def _whole(frame: Any, back: float, net: _Network, found: _Found) -> None:
    """The whole frame in one window, letterboxed top-left in black (the model's own
    padding)."""
    height, width = frame.shape[:2]
    side = max(width, height)
    square = np.zeros((side, side, 3), np.uint8)
    square[:height, :width] = frame
    if side != net.model.input:
        size = (net.model.input, net.model.input)
        square = np.asarray(Image.fromarray(square).resize(size, Image.Resampling.BOX))
    _look(net, square, (0.0, 0.0), side * back, found)


def _windows(frame: Any, back: float, net: _Network, found: _Found, *, overlap: float) -> None:
    """Input-sized windows over the frame, overlapping by `overlap`; with little overlap (the
    scout's) the spots below the threshold are kept too."""
    side = net.model.input
    height, width = frame.shape[:2]
    for y0 in _starts(height, side, overlap):
        for x0 in _starts(width, side, overlap):
            square = np.zeros((side, side, 3), np.uint8)
            crop = frame[y0 : y0 + side, x0 : x0 + side]
            square[: crop.shape[0], : crop.shape[1]] = crop
            _look(net, square, (x0 * back, y0 * back), side * back, found, spots=overlap < 0.5)


def _square(img: Image.Image, x: float, y: float, side: int, net: _Network) -> tuple[Any, int, int]:
    """A window of `side` source px centred on (x, y) as far as the image allows, scaled to
    the network's input; and its origin."""
    x0 = min(max(0, round(x - side / 2)), max(0, img.width - side))
    y0 = min(max(0, round(y - side / 2)), max(0, img.height - side))
    # Beyond the image's edges crop pads with black: the letterbox again.
    window = img.crop((x0, y0, x0 + side, y0 + side))
    window = window.convert("RGB") if window.mode != "RGB" else window
    size = (net.model.input, net.model.input)
    return window.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0), x0, y0


def _closer(img: Image.Image, found: _Found) -> None:
    """The best spots that did not pass, each looked at again by the short-range model in a
    window of `_SPOT_SHARE` of the long edge, cut from the source itself. What it finds
    counts only if the full-range model agrees, shown the face at `_CHECK_PX`: the short
    model alone, without the room around, takes a round blob in a picture or a spacesuit's
    collar ring for a face (scores 0.5–0.75, as some small faces)."""
    short, full = _net(_SHORT), _net(_FULL)
    side = max(1, round(max(img.size) * _SPOT_SHARE))
    taken: list[tuple[float, float]] = []
    for _, x, y in sorted(found.spots, reverse=True):
        if len(taken) == _SPOTS:
            break
        # One close-up apart: noise on a floor scores in clusters that would take every look.
        if any(abs(x - tx) < side and abs(y - ty) < side for tx, ty in taken):
            continue
        if any(b.x <= x <= b.x + b.w and b.y <= y <= b.y + b.h for _, b in found.boxes):
            continue
        taken.append((x, y))
        close = _Found()
        square, x0, y0 = _square(img, x, y, side, short)
        _look(short, square, (x0, y0), side, close)
        for _, face in _merge_scored(close.boxes):
            check = _Found()
            around = min(max(img.size), max(1, round(face.w * _FULL.input / _CHECK_PX)))
            cx, cy = face.x + face.w / 2, face.y + face.h / 2
            square, x0, y0 = _square(img, cx, cy, around, full)
            _look(full, square, (x0, y0), around, check)
            found.boxes += [(logit, box) for logit, box in check.boxes if box.overlaps(face)]


def _merge_scored(boxes: list[tuple[float, Box]]) -> list[tuple[float, Box]]:
    """Best-scored first; a box overlapping a kept one widens it (blurring more is safe)."""
    merged: list[tuple[float, Box]] = []
    for logit, box in sorted(boxes, key=lambda scored: -scored[0]):
        for i, (best, kept) in enumerate(merged):
            if kept.overlaps(box):
                merged[i] = (best, kept.union(box))
                break
        else:
            merged.append((logit, box))
    return merged


def _merge(boxes: list[tuple[float, Box]]) -> list[Box]:
    return [box for _, box in _merge_scored(boxes)]


def detect_faces(
    img: Image.Image, *, scan: FaceScan = "scout", preview: Image.Image | None = None
) -> list[Box]:
    """Face boxes in `img`'s coordinates. `img` needs no more than `detection_edge(scan)` px
    on its long edge; larger images are scaled down first. `preview`, a smaller copy of
    `img` (the thumbnail), saves scaling `img` down when it is large enough for the scan's
    frame."""
    if scan == "off":
        return []
    full = _net(_FULL)
    found = _Found()
    edge = _SCOUT_EDGE if scan == "scout" else detection_edge(scan)
    source = preview if preview is not None and max(preview.size) >= edge else img
    frame, back = _frame(source, edge)
    back *= img.width / source.width
    _whole(frame, back, full, found)
    if scan == "tiles":
        _windows(frame, back, full, found, overlap=0.5)
    elif scan == "scout":
        _windows(frame, back, full, found, overlap=0.15)
        _closer(img, found)
    return _merge(found.boxes)


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
