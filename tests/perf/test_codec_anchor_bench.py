"""Codec anchor (issue 17, point 3; not a timed test):
`PIX_BENCH=1 .venv/bin/pytest tests/perf/test_codec_anchor_bench.py -s -q`.

The media service's photo step against the fastest bare pipelines available here (Pillow with
draft, pyvips with shrink-on-load, libjpeg-turbo through simplejpeg), on photo-like 12 MP and
24 MP JPEGs with camera EXIF, GPS and an EXIF orientation; see codec_anchor.py for what each
pipeline does. Prints one table: CPU ms per photo (median of all photos x rounds, and the
lowest and highest median of one round), and the service's speed as a share of the fastest
bare pipeline's (the goal: >= 0.9), with faces off and on.

`PIX_BENCH_CODEC_PHOTOS` (default 3) photos per size, `PIX_BENCH_CODEC_ROUNDS` (default 4).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

pytestmark = pytest.mark.skipif(not os.environ.get("PIX_BENCH"), reason="set PIX_BENCH=1")
PHOTOS = int(os.environ.get("PIX_BENCH_CODEC_PHOTOS", "3"))
ROUNDS = int(os.environ.get("PIX_BENCH_CODEC_ROUNDS", "4"))
SIZES = {"12MP": (4000, 3000), "24MP": (6000, 4000)}
# Camera held upright (6), upside down (3), the other way (8), landscape (1): most phone photos
# need a turn.
ORIENTATIONS = (6, 1, 8, 3)
SERVICE = ("service, faces off", "service, faces on")
# What the service writes: progressive JPEG. simplejpeg writes baseline only.
SAME_OUTPUT = ("Pillow + draft", "pyvips shrink-on-load", "Pillow + draft, libvips resize")
ANY_OUTPUT = (*SAME_OUTPUT, "libjpeg-turbo (simplejpeg)", "Pillow + draft, baseline")


def camera_jpeg(image: Image.Image, orientation: int) -> bytes:
    """What a camera writes: make, model, GPS, the orientation it was held in; quality 90."""
    exif = Image.Exif()
    exif[0x010F] = "PixTestCam"
    exif[0x0110] = "Model 7"
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 31.0, 12.0), "E", (13.0, 24.0, 36.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def figures(size: dict[str, Any], name: str) -> str:
    row = size[name]
    return f"{row['cpu_ms']:.0f} ({row['cpu_round_lo']:.0f}–{row['cpu_round_hi']:.0f})"


def fastest(size: dict[str, Any], names: tuple[str, ...]) -> str:
    return min(names, key=lambda n: float(size[n]["cpu_ms"]))


def test_service_against_the_fastest_bare_pipeline(tmp_path: Path) -> None:
    from test_media_bench import realistic  # the photo-like test image of the media bench

    for size, (width, height) in SIZES.items():
        folder = tmp_path / size
        folder.mkdir()
        for i in range(PHOTOS):
            photo = camera_jpeg(realistic(width, height, i), ORIENTATIONS[i % len(ORIENTATIONS)])
            (folder / f"{i:02d}.jpg").write_bytes(photo)
    out = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("codec_anchor.py")),
            str(tmp_path),
            str(ROUNDS),
        ],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "VIPS_CONCURRENCY": "1"},
    )
    result: dict[str, dict[str, Any]] = json.loads(out.stdout.strip().splitlines()[-1])
    twelve, twenty_four = result["12MP"], result["24MP"]

    # Every pipeline made the service's renditions: the same sizes, no EXIF, no ICC profile.
    for size in result.values():
        for name, row in size.items():
            assert row["shapes"] == size[SERVICE[0]]["shapes"], name
            assert not any(flag for photo in row["shapes"] for *_, flag in photo), name

    samples = twelve[SERVICE[0]]["samples"]
    lines = [
        f"CPU ms per photo, one core, median of {samples} ({PHOTOS} photos x {ROUNDS} rounds; "
        "in brackets the lowest and highest median of one round)",
        "",
        "| pipeline | output | 12 MP | 24 MP |",
        "| --- | --- | --- | --- |",
    ]
    for name in twelve:
        output = "progressive" if name in (*SERVICE, *SAME_OUTPUT) else "baseline"
        lines.append(
            f"| {name} | {output} | {figures(twelve, name)} | {figures(twenty_four, name)} |"
        )
    lines.append("")
    for label, names in (("same output (progressive)", SAME_OUTPUT), ("any output", ANY_OUTPUT)):
        parts = []
        for size_name, size in result.items():
            best = fastest(size, names)
            ratios = ", ".join(
                f"{service.split(', ')[1]} {size[best]['cpu_ms'] / size[service]['cpu_ms']:.2f}"
                for service in SERVICE
            )
            parts.append(f"{size_name} vs {best}: {ratios}")
        lines.append(f"service/fastest bare, {label} (goal >= 0.9): " + "; ".join(parts))
    # The decision rule: another library in the service only if it beats Pillow's own
    # pipeline by more than 10 % writing the same kind of file.
    for rival, pillow in (
        ("pyvips shrink-on-load", "Pillow + draft"),
        ("Pillow + draft, libvips resize", "Pillow + draft"),
        ("libjpeg-turbo (simplejpeg)", "Pillow + draft, baseline"),
    ):
        gains = ", ".join(
            f"{size_name} {1 - size[rival]['cpu_ms'] / size[pillow]['cpu_ms']:+.0%}"
            for size_name, size in result.items()
        )
        lines.append(f"{rival} less CPU than {pillow}: {gains}")
    print("\n" + "\n".join(lines))
