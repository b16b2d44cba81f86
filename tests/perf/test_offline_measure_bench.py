"""Offline captioner benchmark (not a timed test): `PIX_BENCH=1 .venv/bin/pytest
tests/perf/test_offline_measure_bench.py -s -q`.

`measure_image` (brightness, colour, orientation of the anonymised web rendition) runs for every
offline caption; on a 2000 px rendition it should stay well under 30 ms so the offline provider
costs next to nothing. Timed on one core; run it on a quiet machine.
"""

from __future__ import annotations

import os
import statistics
import time

import pytest
from PIL import Image, ImageDraw
from pix_captioning.offline import measure_image

pytestmark = pytest.mark.skipif(not os.environ.get("PIX_BENCH"), reason="set PIX_BENCH=1")
GOAL_SECONDS = 0.030
RUNS = 20


def bright_kitchen(size: tuple[int, int]) -> Image.Image:
    """White walls, light cabinets and a light-wood worktop (as tests/captioning draws it)."""
    width, height = size
    image = Image.new("RGB", size, (244, 242, 238))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, int(height * 0.55), width, height), fill=(232, 228, 220))
    draw.rectangle((0, int(height * 0.5), width, int(height * 0.55)), fill=(196, 160, 118))
    for x in range(0, width, width // 6):
        draw.line((x, int(height * 0.55), x, height), fill=(210, 206, 200), width=3)
    return image


def test_measure_image_on_a_2000px_rendition() -> None:
    image = bright_kitchen((2000, 1333))
    measure_image(image)  # warm-up
    timings = []
    for _ in range(RUNS):
        start = time.perf_counter()
        measure_image(image)
        timings.append(time.perf_counter() - start)
    best, median = min(timings), statistics.median(timings)
    print(f"\nmeasure_image, 2000×1333: best {best * 1000:.1f} ms, median {median * 1000:.1f} ms")
    assert best < GOAL_SECONDS
