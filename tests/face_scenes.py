"""A test set for face detection: real faces at realistic sizes in room photos.

Two photographs with people (scikit-image's astronaut, colour, and cameraman, grey) are pasted
into room photos so that the face spans a given share of the photo's long edge, at seeded
random places, like a portrait on a wall or a person standing in the room. Plus interiors
without people (window grids with mullions, plain rooms, noisy furnished rooms) for false
positives. Frames are 2000 × 1500, the size of the web rendition faces are blurred in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from photos import room_photo
from PIL import Image
from skimage import data

WIDTH, HEIGHT = 2000, 1500


@dataclass(frozen=True)
class Person:
    name: str
    # Face centre and face width as shares of the 512 px source photograph.
    cx: float
    cy: float
    width: float

    def photo(self) -> Image.Image:
        return Image.fromarray(getattr(data, self.name)()).convert("RGB")


PEOPLE = (Person("astronaut", 0.44, 0.24, 0.21), Person("camera", 0.47, 0.31, 0.15))


@dataclass(frozen=True)
class Scene:
    image: Image.Image
    face: tuple[int, int, int]  # centre x, centre y, width in px

    def found_in(self, boxes: list[tuple[int, int, int, int]]) -> bool:
        """A box centred on the face (within 60 % of its width)."""
        x, y, w = self.face
        return any(
            abs(bx + bw / 2 - x) < 0.6 * w and abs(by + bh / 2 - y) < 0.6 * w
            for bx, by, bw, bh in boxes
        )


def scenes(share: float, count: int, *, seed: int = 1) -> Iterator[Scene]:
    """`count` room photos, each with one face `share` of the long edge wide."""
    rng = np.random.default_rng(seed + int(share * 1000))
    room = room_photo(WIDTH, HEIGHT)
    for i in range(count):
        person = PEOPLE[i % len(PEOPLE)]
        face = int(WIDTH * share)
        side = min(HEIGHT, int(face / person.width))
        portrait = person.photo().resize((side, side), Image.Resampling.LANCZOS)
        x0 = int(rng.integers(0, WIDTH - side + 1))
        y0 = int(rng.integers(0, HEIGHT - side + 1))
        image = room.copy()
        image.paste(portrait, (x0, y0))
        yield Scene(image, (int(x0 + person.cx * side), int(y0 + person.cy * side), face))


def interiors() -> list[Image.Image]:
    """Rooms without anyone in them, including the classic false alarm of window grids."""
    grid = np.full((HEIGHT, WIDTH, 3), (200, 195, 185), np.uint8)
    for x0 in range(100, 1800, 450):
        grid[300:1100, x0 : x0 + 320] = (230, 240, 250)
        for k in range(0, 320, 80):
            grid[300:1100, x0 + k : x0 + k + 9] = (40, 40, 40)
        for k in range(0, 800, 80):
            grid[300 + k : 309 + k, x0 : x0 + 320] = (40, 40, 40)
    rng = np.random.default_rng(7)
    furnished = np.asarray(room_photo(WIDTH, HEIGHT, colour=(180, 160, 140))).copy()
    for _ in range(14):  # furniture-like blocks in many colours
        x, y = int(rng.integers(0, WIDTH - 300)), int(rng.integers(0, HEIGHT - 300))
        furnished[y : y + 260, x : x + 280] = rng.integers(20, 235, 3)
    return [Image.fromarray(grid), room_photo(WIDTH, HEIGHT), Image.fromarray(furnished)]
