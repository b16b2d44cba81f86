"""Floor plan and video processing (not a timed test):
`PIX_BENCH=1 .venv/bin/pytest tests/perf/test_deliverables_bench.py -s -q`.

Makes a phone-like 1080p H.264 MP4 (moving gradients and noise, with a GPS tag) with PyAV and
a 4-page PDF, then runs media's own checks on them as the processing job does (one thread):
the video's container check, poster frame and remux without metadata; the PDF's parse,
rewrite and first-page render. Prints wall and CPU time, bytes in and out.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import pytest
from pix_media.floor_plans import process_floor_plan
from pix_media.video import process_video

sys.path.insert(0, str(Path(__file__).parent.parent / "media"))
from deliverable_files import make_pdf

pytestmark = pytest.mark.skipif(not os.environ.get("PIX_BENCH"), reason="set PIX_BENCH=1")
SECONDS = int(os.environ.get("PIX_BENCH_VIDEO_SECONDS", "20"))


def phone_video(path: Path, seconds: int, size: tuple[int, int] = (1920, 1080)) -> None:
    width, height = size
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w", format="mp4") as out:
        out.metadata["location"] = "+52.5200+013.4050/"
        stream = out.add_stream("libx264", rate=30, options={"preset": "ultrafast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(seconds * 30):
            frame = np.stack(
                [(x + 4 * i) % 256, (y + 2 * i) % 256, (x + y - 3 * i) % 256], axis=-1
            ).astype(np.uint8)
            frame[::7, ::5] = rng.integers(0, 255, frame[::7, ::5].shape, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def timed(fn):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.thread_time()
    result = fn()
    return result, (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000


def test_deliverables_bench() -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "phone.mp4"
        phone_video(source, SECONDS)
        video, wall, cpu = timed(
            lambda: process_video(source, max_seconds=600, web_edge=2000, thumb_edge=400)
        )
        mb = source.stat().st_size / 1e6
        print(
            f"\nvideo 1080p {SECONDS} s, {mb:.1f} MB: check + poster + remux {wall:.0f} ms wall, "
            f"{cpu:.0f} ms CPU ({mb / (wall / 1000):.0f} MB/s); out {len(video.data) / 1e6:.1f} MB"
        )
    pdf = make_pdf(pages=4)
    plan, wall, cpu = timed(
        lambda: process_floor_plan(
            pdf, max_pixels=50_000_000, max_pages=20, web_edge=2000, thumb_edge=400
        )
    )
    print(f"floor plan PDF, 4 pages: check + rewrite + render {wall:.0f} ms wall, {cpu:.0f} ms CPU")
    assert plan.page_count == 4
