"""A test set for face detection: real faces at realistic sizes in room photos.

Two photographs with people (scikit-image's astronaut, colour, and cameraman, grey, in
profile) go into room photos so that the face spans a given share of the photo's long edge,
at seeded random places: pasted whole, like a portrait on a wall (`scenes`), and as the head
and shoulders of a whole person standing in the room at the distance that gives that face
size with a phone's wide lens (`standing`: 2 % is 5 m away). Plus interiors without people
(window grids with mullions, plain rooms, noisy furnished rooms) for false positives. Frames
are 2000 × 1500, the size of the web rendition faces are blurred in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from skimage import data

WIDTH, HEIGHT = 2000, 1500


def empty_room(
    width: int, height: int, *, colour: tuple[int, int, int] = (200, 170, 130), seed: int = 5
) -> Image.Image:
    """`photos.room_photo` (a gradient wall, a floor, a window, sensor noise) with seeded
    noise, so the set is the same every run: faces near the threshold go one way or the
    other with the noise."""
    image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    for y in range(0, height, 8):
        shade = int(40 * y / height)
        draw.rectangle([0, y, width, y + 8], fill=tuple(max(0, c - shade) for c in colour))
    draw.rectangle([0, int(height * 0.7), width, height], fill=(120, 90, 60))
    draw.rectangle(
        [int(width * 0.6), int(height * 0.15), int(width * 0.85), int(height * 0.5)],
        fill=(235, 240, 250),
    )
    grain = np.random.default_rng(seed).normal(128, 12, (height, width))
    noise = Image.fromarray(np.clip(grain, 0, 255).astype(np.uint8)).convert("RGB")
    return Image.blend(image, noise, 0.08)


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
    room = empty_room(WIDTH, HEIGHT)
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
    furnished = np.asarray(empty_room(WIDTH, HEIGHT, colour=(180, 160, 140))).copy()
    for _ in range(14):  # furniture-like blocks in many colours
        x, y = int(rng.integers(0, WIDTH - 300)), int(rng.integers(0, HEIGHT - 300))
        furnished[y : y + 260, x : x + 280] = rng.integers(20, 235, 3)
    return [
        Image.fromarray(grid),
        empty_room(WIDTH, HEIGHT),
        Image.fromarray(furnished),
        *wall_art(),
    ]


# (Not scikit-image's coins: ancient coins with heads in relief, which BlazeFace counts as
# faces in tiles; blurring them is harmless, and they are no test of a room without anyone.)
# Real photographs without people, as pictures on the wall: a cup of coffee, a cat, a rocket,
# stained tissue, a clock, a cell, an eye's fundus, galaxies, brick, gravel, grass, printed text.
ART = (
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "clock",
    "cell",
    "retina",
    "hubble_deep_field",
    "brick",
    "gravel",
    "grass",
    "text",
)


def wall_art(*, seed: int = 11) -> list[Image.Image]:
    """Rooms hung with three of `ART` each, 8–30 % of the long edge wide, framed."""
    rng = np.random.default_rng(seed)
    rooms = []
    for k in range(0, len(ART), 3):
        room = empty_room(WIDTH, HEIGHT, colour=(190, 185, 175))
        for j, name in enumerate(ART[k : k + 3]):
            art = Image.fromarray(getattr(data, name)()).convert("RGB")
            width = int(WIDTH * rng.uniform(0.08, 0.30))
            art = art.resize((width, width * art.height // art.width), Image.Resampling.LANCZOS)
            framed = Image.new("RGB", (art.width + 24, art.height + 24), (60, 45, 30))
            framed.paste(art, (12, 12))
            x = int(j * WIDTH / 3 + rng.uniform(0, max(1, WIDTH / 3 - framed.width)))
            y = int(rng.uniform(80, max(81, HEIGHT * 0.65 - framed.height)))
            room.paste(framed, (x, y))
        rooms.append(room)
    return rooms


# A phone's main camera in a room: 24 mm equivalent, 74° across the long edge, so the frame is
# 1.5 × the distance wide there and a face (15 cm) is 10 % / distance in metres of the long edge:
# 2 % at 5 m, 4 % at 2.5 m.
FACE_M = 0.15
PERSON_M = 1.75


def distance_for(share: float) -> float:
    """Metres from the camera at which a face spans `share` of the long edge."""
    return FACE_M / (1.5 * share)


def standing(share: float, count: int, *, seed: int = 3) -> Iterator[Scene]:
    """`count` room photos, each with a whole person standing on the floor at the distance
    where the face is `share` of the long edge: the photograph's head and shoulders, feathered
    into the room, on a drawn body (coat, arms, trousers, shoes) of a person's proportions."""
    rng = np.random.default_rng(seed + int(share * 1000))
    room = empty_room(WIDTH, HEIGHT)
    for i in range(count):
        person = PEOPLE[i % len(PEOPLE)]
        face = WIDTH * share
        metre = face / FACE_M  # px per metre at the person's distance
        # The photograph scaled so its face is `face` wide; keep head and shoulders down to
        # the chest (about 0.45 m below the eyes), as wide as the shoulders.
        side = face / person.width
        photo = person.photo().resize((max(1, round(side)),) * 2, Image.Resampling.LANCZOS)
        fx, fy = person.cx * side, person.cy * side
        half = 0.26 * metre
        top, bottom = max(0.0, fy - 0.25 * metre), min(side, fy + 0.45 * metre)
        bust = photo.crop((round(fx - half), round(top), round(fx + half), round(bottom)))
        mask = Image.new("L", bust.size, 0)
        ImageDraw.Draw(mask).ellipse((0, 0, bust.width - 1, bust.height * 1.6), fill=255)
        mask = mask.filter(ImageFilter.GaussianBlur(max(1.0, face / 12)))
        # The camera level at 1.2–1.6 m: the horizon is the frame's middle, the eyes (1.63 m)
        # a little above it, the feet below (out of the frame when the person is close).
        # (Close up, a lower camera would cut the face off: not a photo anyone keeps.)
        camera = float(rng.uniform(max(1.2, PERSON_M - 0.12 - (HEIGHT / 2 - face) / metre), 1.6))
        eyes = HEIGHT / 2 - (PERSON_M - 0.12 - camera) * metre
        feet = HEIGHT / 2 + camera * metre
        cx = float(rng.uniform(half + 10, WIDTH - half - 10))
        image = room.copy()
        draw = ImageDraw.Draw(image)
        coat = tuple(int(c) for c in rng.integers(30, 160, 3))
        trousers = tuple(int(c) for c in rng.integers(20, 90, 3))
        chest = eyes + 0.35 * metre
        hips = eyes + 0.85 * metre
        draw.rectangle((cx - 0.22 * metre, chest, cx + 0.22 * metre, hips), fill=coat)
        for side_x in (-1, 1):  # arms, legs, shoes
            arm = cx + side_x * 0.25 * metre
            draw.rectangle(
                (arm - 0.05 * metre, chest, arm + 0.05 * metre, hips + 0.1 * metre), fill=coat
            )
            leg = cx + side_x * 0.1 * metre
            draw.rectangle(
                (leg - 0.08 * metre, hips, leg + 0.08 * metre, feet - 0.05 * metre), fill=trousers
            )
            draw.ellipse(
                (leg - 0.1 * metre, feet - 0.08 * metre, leg + 0.12 * metre, feet),
                fill=(25, 20, 20),
            )
        x0, y0 = round(cx - half), round(eyes - (fy - top))
        image.paste(bust, (x0, y0), mask)
        yield Scene(image, (round(cx), round(eyes + 0.03 * metre), round(face)))
