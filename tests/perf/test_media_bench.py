"""Media benchmark (not a timed test): `PIX_BENCH=1 .venv/bin/pytest tests/perf -s -q`.

Generates realistic 12 MP and 24 MP JPEGs with EXIF/GPS, then runs the bare codec pipeline
and the media worker on the real database in separate processes (see media_bench.py) and
prints photos/s per core, p50/p99 latency, peak RSS per worker, and the service/bare ratio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from photos import jpeg_with_gps
from PIL import Image

pytestmark = pytest.mark.skipif(not os.environ.get("PIX_BENCH"), reason="set PIX_BENCH=1")
PHOTOS = int(os.environ.get("PIX_BENCH_PHOTOS", "40"))  # a shoot
SIZES = {"12MP": (4000, 3000), "24MP": (6000, 4000)}


def realistic(width: int, height: int, seed: int) -> Image.Image:
    """Smooth gradients, edges and sensor noise: compresses like a photo (~4-8 MB at q90)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [x / width * 180 + 40, y / height * 160 + 50, (x + y) / (width + height) * 200 + 30],
        axis=-1,
    )
    for _ in range(12):  # furniture-like blocks
        x0, y0 = rng.integers(0, width - 500), rng.integers(0, height - 500)
        base[y0 : y0 + 400, x0 : x0 + 450] = rng.integers(20, 235, 3)
    noise = rng.normal(0, 6, (height, width, 1)).astype(np.float32)
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def run(mode: str, folder: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("media_bench.py")), mode, str(folder)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("size", list(SIZES))
def test_media_step_against_bare_codec(size: str, tmp_path: Path, migrated: set[str]) -> None:
    width, height = SIZES[size]
    for i in range(PHOTOS):
        (tmp_path / f"{i:03d}.jpg").write_bytes(jpeg_with_gps(realistic(width, height, i)))
    bare = run("bare", tmp_path)
    service = run("service", tmp_path)
    nofaces = run("service-nofaces", tmp_path)
    print(f"\n{size}, {PHOTOS} photos, one core:")
    for r in (bare, service, nofaces):
        print(
            f"  {r['mode']:16s} {r['photos_per_s']:.2f} photos/s  "
            f"{r['cpu_ms_per_photo']:.0f} CPU ms/photo  p50 {r['p50_ms']:.0f} ms  "
            f"p99 {r['p99_ms']:.0f} ms  peak RSS {r['peak_rss_mb']:.0f} MB"
        )
    print(
        f"  ratio service/bare {service['photos_per_s'] / bare['photos_per_s']:.2f} "
        f"(without faces {nofaces['photos_per_s'] / bare['photos_per_s']:.2f}; "
        f"per CPU second {bare['cpu_ms_per_photo'] / service['cpu_ms_per_photo']:.2f})"
    )
    assert service["peak_rss_mb"] < 600
