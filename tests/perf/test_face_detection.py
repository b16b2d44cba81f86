"""Face detection test set (not a timed test): `PIX_BENCH=1 .venv/bin/pytest
tests/perf/test_face_detection.py -s`. Prints, per face size, how many of the faces each scan
finds (portraits pasted on the wall, then whole people standing at the matching distance),
the false positives on interiors, and the CPU time per photo on one core (the thread's own
CPU time, so other work on a shared machine does not count; median and 90th percentile);
the table in `pix_media/faces.py` and the README comes from here."""

from __future__ import annotations

import os
import statistics
import time

import pytest
from face_scenes import distance_for, interiors, scenes, standing
from PIL import Image
from pix_media.faces import FaceScan, detect_faces

pytestmark = pytest.mark.skipif(not os.environ.get("PIX_BENCH"), reason="set PIX_BENCH=1")
SHARES = (0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08, 0.12, 0.20)
PLACEMENTS = 6


def test_face_detection_by_face_size() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    scans: tuple[FaceScan, ...] = ("frame", "scout", "tiles")
    print(f"\nface, % of long edge   {' '.join(f'{s * 100:>5.3g}' for s in SHARES)}")
    print(f"standing at, m         {' '.join(f'{distance_for(s):>5.1f}' for s in SHARES)}")
    for scan in scans:
        detect_faces(next(iter(interiors())), scan=scan)  # load the networks
        took: list[float] = []
        for kind, make in (("portrait", scenes), ("standing", standing)):
            found = []
            for share in SHARES:
                hits = 0
                for scene in make(share, PLACEMENTS):
                    # The service hands the thumbnail over too (it has it anyway).
                    thumb = scene.image.resize(
                        (400, 300), Image.Resampling.LANCZOS, reducing_gap=2.0
                    )
                    start = time.thread_time()
                    boxes = detect_faces(scene.image, scan=scan, preview=thumb)
                    took.append(time.thread_time() - start)
                    hits += scene.found_in([(b.x, b.y, b.w, b.h) for b in boxes])
                found.append(f"{hits}/{PLACEMENTS}")
            print(f"{scan:6s} {kind:15s} {' '.join(f'{f:>5s}' for f in found)}")
        rooms = []
        false = 0
        for room in interiors():
            thumb = room.resize((400, 300), Image.Resampling.LANCZOS, reducing_gap=2.0)
            start = time.thread_time()
            false += len(detect_faces(room, scan=scan, preview=thumb))
            rooms.append(time.thread_time() - start)
        p90 = statistics.quantiles(took, n=10)[-1]
        print(
            f"{scan:6s} false positives {false}; CPU per photo with a face median "
            f"{statistics.median(took) * 1000:.1f} ms (p90 {p90 * 1000:.1f}), without people "
            f"{statistics.median(rooms) * 1000:.1f} ms"
        )
    # How loaded the machine is: one full-range inference took 3.5 ms on an idle core.
    square = Image.new("RGB", (192, 192))
    inference = []
    for _ in range(50):
        start = time.thread_time()
        detect_faces(square, scan="frame")
        inference.append(time.thread_time() - start)
    print(f"one whole-frame pass (one inference) now: {statistics.median(inference) * 1000:.1f} ms")
