"""Face detection test set (not a timed test): `PIX_BENCH=1 .venv/bin/pytest
tests/perf/test_face_detection.py -s`. Prints, per face size, how many of the placed faces
each scan finds, the false positives on interiors, and the time per photo on one core; the
table in `pix_media/faces.py` comes from here."""

from __future__ import annotations

import os
import time

import pytest
from face_scenes import interiors, scenes
from pix_media.faces import FaceScan, detect_faces

pytestmark = pytest.mark.skipif(not os.environ.get("PIX_BENCH"), reason="set PIX_BENCH=1")
SHARES = (0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.12, 0.20)
PLACEMENTS = 6


def test_face_detection_by_face_size() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    scans: tuple[FaceScan, ...] = ("frame", "tiles")
    print(f"\nface size (% of long edge): {' '.join(f'{s * 100:>4.0f}' for s in SHARES)}")
    for scan in scans:
        found, took = [], []
        for share in SHARES:
            hits = 0
            for scene in scenes(share, PLACEMENTS):
                start = time.perf_counter()
                boxes = detect_faces(scene.image, scan=scan)
                took.append(time.perf_counter() - start)
                hits += scene.found_in([(b.x, b.y, b.w, b.h) for b in boxes])
            found.append(f"{hits}/{PLACEMENTS}")
        false = sum(len(detect_faces(room, scan=scan)) for room in interiors())
        print(
            f"{scan:27s} {' '.join(f'{f:>4s}' for f in found)}  false positives {false}  "
            f"{sum(took) / len(took) * 1000:.0f} ms/photo"
        )
