"""Faces are blurred in the web rendition (what captioning reads) and the thumbnail; interiors
without people keep every pixel and report 0."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from face_scenes import interiors, scenes, standing
from photos import jpeg_with_gps, room_photo
from PIL import Image
from pix_media.faces import FaceScan, detect_faces
from pix_media.imaging import process_image
from skimage import data


def sharpness(img: Image.Image, box: tuple[int, int, int, int]) -> float:
    """Variance of the Laplacian in `box`: high for detail (eyes, mouth), low once blurred."""
    g = np.asarray(img.convert("L").crop(box), dtype=np.float64)
    laplacian = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * g[1:-1, 1:-1]
    return float(laplacian.var())


def room_with_astronaut(width: int, face_px: int) -> Image.Image:
    """A room photo with the astronaut (face ~100 px in her 512 px photo) as a wall portrait."""
    room = room_photo(width, width * 3 // 4)
    side = 512 * face_px // 100
    portrait = Image.fromarray(data.astronaut()).resize((side, side), Image.Resampling.LANCZOS)
    room.paste(portrait, (width // 2, width // 8))
    return room


def test_astronaut_face_is_blurred_in_web_and_thumb(tmp_path: Path) -> None:
    source = tmp_path / "portrait.jpg"
    source.write_bytes(jpeg_with_gps(room_with_astronaut(4000, 300)))
    plain = process_image(source, face_scan="off")
    blurred = process_image(source)
    assert blurred.faces_blurred >= 1
    assert plain.faces_blurred == 0

    web_plain = Image.open(io.BytesIO(plain.web.data))
    web_blurred = Image.open(io.BytesIO(blurred.web.data))
    [face] = detect_faces(web_plain)
    box = (face.x, face.y, face.x + face.w, face.y + face.h)
    assert sharpness(web_blurred, box) < 0.15 * sharpness(web_plain, box)
    assert not detect_faces(web_blurred)
    # Outside the face nothing changed.
    corner = (0, 0, 300, 300)
    assert abs(sharpness(web_blurred, corner) - sharpness(web_plain, corner)) < 1.0

    scale = blurred.thumb.width / blurred.web.width
    thumb_box = tuple(int(v * scale) for v in box)
    thumb_plain = Image.open(io.BytesIO(plain.thumb.data))
    thumb_blurred = Image.open(io.BytesIO(blurred.thumb.data))
    assert sharpness(thumb_blurred, thumb_box) < 0.3 * sharpness(thumb_plain, thumb_box)  # type: ignore[arg-type]


@pytest.mark.parametrize(("scan", "smallest"), [("frame", 0.08), ("scout", 0.02), ("tiles", 0.04)])
def test_faces_at_realistic_sizes_in_room_photos(scan: FaceScan, smallest: float) -> None:
    """Every placed face from the size each scan promises (faces.py) is found, and nothing is
    found in rooms without people (see tests/perf/test_face_detection.py for the table)."""
    for share in (smallest, 0.12, 0.20):
        for scene in scenes(share, 6):
            boxes = detect_faces(scene.image, scan=scan)
            assert scene.found_in([(b.x, b.y, b.w, b.h) for b in boxes]), (share, scene.face)
    assert not any(detect_faces(room, scan=scan) for room in interiors())


@pytest.mark.parametrize("share", [0.02, 0.03, 0.05, 0.12])
def test_people_standing_in_the_room_are_found_by_default(share: float) -> None:
    """Whole people at 5, 3.3, 2 and 0.8 m from a phone's wide lens."""
    for scene in standing(share, 6):
        boxes = detect_faces(scene.image)
        assert scene.found_in([(b.x, b.y, b.w, b.h) for b in boxes]), (share, scene.face)


def test_a_small_wall_portrait_is_blurred_by_default(tmp_path: Path) -> None:
    """The case of issue 15: a portrait on the wall whose face is 2.7 % of the frame's width
    (108 px in a 4000 px photo), found and blurred in the web rendition."""
    source = tmp_path / "wall.jpg"
    source.write_bytes(jpeg_with_gps(room_with_astronaut(4000, 108)))
    plain = process_image(source, face_scan="off")
    blurred = process_image(source)
    assert blurred.faces_blurred == 1
    web_plain = Image.open(io.BytesIO(plain.web.data))
    web_blurred = Image.open(io.BytesIO(blurred.web.data))
    [face] = detect_faces(web_plain)
    box = (face.x, face.y, face.x + face.w, face.y + face.h)
    assert sharpness(web_blurred, box) < 0.3 * sharpness(web_plain, box)


def test_interiors_without_people_have_no_faces(tmp_path: Path) -> None:
    grid = Image.new("RGB", (3000, 2000), (200, 195, 185))
    pixels = np.array(grid)
    for x0 in range(150, 2600, 600):  # window grids with mullions: a classic Haar false alarm
        pixels[400:1500, x0 : x0 + 420] = (230, 240, 250)
        for k in range(0, 420, 105):
            pixels[400:1500, x0 + k : x0 + k + 12] = (40, 40, 40)
        for k in range(0, 1100, 110):
            pixels[400 + k : 412 + k, x0 : x0 + 420] = (40, 40, 40)
    for i, img in enumerate([Image.fromarray(pixels), room_photo(4000, 3000)]):
        source = tmp_path / f"interior-{i}.jpg"
        source.write_bytes(jpeg_with_gps(img))
        assert process_image(source).faces_blurred == 0
