"""Tests for the offline caption provider (offline-template-v1)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from PIL import Image, ImageDraw
from pix_captioning.offline import (
    MODEL_NAME,
    CaptionText,
    ImageFacts,
    compose_caption,
    measure_image,
)
from pix_contracts.rooms import ROOM_LABELS, RoomType

ROOMS: list[RoomType | None] = [*RoomType, None]
OUTDOOR = [
    RoomType.EXTERIOR,
    RoomType.GARDEN,
    RoomType.BALCONY,
    RoomType.TERRACE,
    RoomType.VIEW,
]
BRIGHT_WORDS_DE = ("hell", "lichtdurchflutet", "freundlich")
DARK_WORDS_DE = ("gemütlich", "stimmungsvoll", "behaglich", "dezent beleuchtet")


# ----------------------------------------------------------------- image fixtures


def bright_kitchen(size: tuple[int, int] = (1200, 800)) -> Image.Image:
    """White walls, light cabinets and a narrow light-wood worktop."""
    width, height = size
    image = Image.new("RGB", size, (244, 242, 238))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, int(height * 0.55), width, height), fill=(232, 228, 220))
    draw.rectangle((0, int(height * 0.5), width, int(height * 0.55)), fill=(196, 160, 118))
    for x in range(0, width, width // 6):
        draw.line((x, int(height * 0.55), x, height), fill=(210, 206, 200), width=3)
    return image


def dark_room(size: tuple[int, int] = (1200, 800)) -> Image.Image:
    image = Image.new("RGB", size, (28, 24, 22))
    ImageDraw.Draw(image).ellipse((500, 300, 560, 360), fill=(120, 90, 50))
    return image


def green_image(size: tuple[int, int] = (800, 600)) -> Image.Image:
    return Image.new("RGB", size, (30, 180, 40))


def facts_for(brightness: float, colour: str, colourfulness: float = 30.0) -> ImageFacts:
    return ImageFacts(
        width=4000,
        height=3000,
        brightness=brightness,
        colourfulness=colourfulness,
        dominant_colour=colour,
        orientation="landscape",
        resolution_class="high",
    )


FACT_VARIANTS: list[ImageFacts] = [
    facts_for(0.92, "white", 3.0),
    facts_for(0.75, "beige", 18.0),
    facts_for(0.5, "brown", 30.0),
    facts_for(0.45, "green", 70.0),
    facts_for(0.3, "blue", 45.0),
    facts_for(0.08, "black", 2.0),
    dataclasses.replace(facts_for(0.65, "pink", 80.0), orientation="portrait"),
    dataclasses.replace(facts_for(0.5, "grey", 5.0), orientation="square", resolution_class="low"),
    facts_for(0.55, "purple", 62.0),
    facts_for(0.7, "yellow", 50.0),
    facts_for(0.4, "red", 66.0),
    facts_for(0.62, "orange", 40.0),
]
SEEDS = ["a", "b", "photo-0001.jpg", "order-17/img-3", "Ω", "x" * 200]


def all_texts(caption: CaptionText) -> list[str]:
    return [
        caption.title_de,
        caption.title_en,
        caption.description_de,
        caption.description_en,
        caption.alt_text_de,
        caption.alt_text_en,
        *caption.features,
    ]


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


# ----------------------------------------------------------------- measure_image


def test_white_image_is_bright_and_white() -> None:
    facts = measure_image(Image.new("RGB", (1000, 750), (250, 250, 250)))
    assert facts.brightness > 0.9
    assert facts.dominant_colour == "white"
    assert facts.colourfulness < 5
    assert facts.orientation == "landscape"
    assert facts.resolution_class == "low"
    assert (facts.width, facts.height) == (1000, 750)


def test_bright_kitchen_measures_bright() -> None:
    facts = measure_image(bright_kitchen())
    assert facts.brightness > 0.8
    assert facts.dominant_colour in {"white", "beige"}
    assert facts.colourfulness < 30


def test_dark_image_is_dark() -> None:
    facts = measure_image(dark_room())
    assert facts.brightness < 0.2
    assert facts.dominant_colour in {"black", "brown"}


def test_green_image_is_green_and_colourful() -> None:
    facts = measure_image(green_image())
    assert facts.dominant_colour == "green"
    grey = measure_image(Image.new("RGB", (800, 600), (128, 128, 128)))
    assert facts.colourfulness > 40
    assert grey.colourfulness < 5
    assert grey.dominant_colour == "grey"


@pytest.mark.parametrize(
    ("rgb", "family"),
    [
        ((200, 30, 30), "red"),
        ((240, 140, 20), "orange"),
        ((240, 220, 40), "yellow"),
        ((40, 70, 200), "blue"),
        ((120, 40, 170), "purple"),
        ((240, 160, 200), "pink"),
        ((110, 70, 40), "brown"),
        ((220, 200, 165), "beige"),
        ((10, 10, 12), "black"),
    ],
)
def test_dominant_colour_families(rgb: tuple[int, int, int], family: str) -> None:
    assert measure_image(Image.new("RGB", (300, 200), rgb)).dominant_colour == family


def test_small_colour_accent_does_not_dominate_neutral_image() -> None:
    image = Image.new("RGB", (600, 400), (235, 235, 235))
    ImageDraw.Draw(image).rectangle((0, 0, 60, 40), fill=(220, 20, 20))  # 1 %
    assert measure_image(image).dominant_colour == "white"


def test_colour_dominates_when_large_enough() -> None:
    image = Image.new("RGB", (600, 400), (235, 235, 235))
    ImageDraw.Draw(image).rectangle((0, 0, 600, 200), fill=(30, 60, 190))  # 50 %
    assert measure_image(image).dominant_colour == "blue"


def test_orientation_and_resolution_classes() -> None:
    portrait = measure_image(Image.new("RGB", (600, 900), (200, 200, 200)))
    assert portrait.orientation == "portrait"
    square = measure_image(Image.new("RGB", (700, 700), (200, 200, 200)))
    assert square.orientation == "square"
    standard = measure_image(Image.new("RGB", (2000, 1500), (200, 200, 200)))
    assert standard.resolution_class == "standard"
    high = measure_image(Image.new("RGB", (4000, 3000), (200, 200, 200)))
    assert high.resolution_class == "high"
    assert high.orientation == "landscape"


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "LA", "1"])
def test_other_image_modes_are_supported(mode: str) -> None:
    image = bright_kitchen((400, 300)).convert(mode)
    facts = measure_image(image)
    assert 0.0 <= facts.brightness <= 1.0
    assert facts.colourfulness >= 0.0
    assert facts.dominant_colour in {
        "white",
        "grey",
        "black",
        "beige",
        "brown",
        "red",
        "orange",
        "yellow",
        "green",
        "blue",
        "purple",
        "pink",
    }


def test_transparent_image_is_flattened_on_white() -> None:
    facts = measure_image(Image.new("RGBA", (200, 200), (0, 0, 0, 0)))
    assert facts.brightness > 0.95


def test_measure_does_not_modify_input() -> None:
    image = bright_kitchen((2000, 1333))
    before = image.tobytes()
    measure_image(image)
    assert image.size == (2000, 1333)
    assert image.mode == "RGB"
    assert image.tobytes() == before


# How fast measure_image is on a 2000 px rendition: tests/perf/test_offline_measure_bench.py.


def test_image_facts_are_frozen() -> None:
    facts = measure_image(green_image())
    with pytest.raises(dataclasses.FrozenInstanceError):
        facts.brightness = 0.1  # type: ignore[misc]


# ----------------------------------------------------------------- compose_caption


def test_model_name() -> None:
    assert MODEL_NAME == "offline-template-v1"


@pytest.mark.parametrize("room", ROOMS, ids=lambda r: str(r))
def test_titles_sentences_and_placeholders_for_every_room(room: RoomType | None) -> None:
    for facts in FACT_VARIANTS:
        for seed in SEEDS:
            caption = compose_caption(room, facts, seed)
            assert caption.room_type == (room.value if room is not None else None)
            assert 0 < len(caption.title_de) <= 30, caption.title_de
            assert 0 < len(caption.title_en) <= 30, caption.title_en
            for description in (caption.description_de, caption.description_en):
                parts = sentences(description)
                assert 1 <= len(parts) <= 3, description
                for part in parts:
                    assert part[0].isupper(), part
                    assert part.endswith("."), part
            for text in all_texts(caption):
                assert text == text.strip()
                assert "{" not in text, text
                assert "}" not in text, text
                assert "  " not in text, text
                assert "None" not in text, text
                assert "_" not in text, text
            assert caption.alt_text_de
            assert caption.alt_text_en
            assert caption.features
            # No invented facts: no numbers, prices, sizes.
            joined = " ".join(all_texts(caption))
            assert not re.search(r"\d|€|\$|m²|qm", joined), joined


def test_same_seed_is_deterministic() -> None:
    facts = measure_image(bright_kitchen())
    first = compose_caption(RoomType.KITCHEN, facts, "seed-42")
    second = compose_caption(RoomType.KITCHEN, facts, "seed-42")
    assert first == second


def test_different_seeds_vary_the_text() -> None:
    facts = measure_image(bright_kitchen())
    captions = [compose_caption(RoomType.KITCHEN, facts, f"kitchen-{i:02d}.jpg") for i in range(10)]
    assert len({c.description_de for c in captions}) >= 4
    assert len({c.description_en for c in captions}) >= 4
    assert len({c.title_de for c in captions}) >= 2


def test_bright_and_dark_use_different_words() -> None:
    bright = measure_image(bright_kitchen())
    dark = measure_image(dark_room())
    for i in range(20):
        seed = f"s{i}"
        b = compose_caption(RoomType.KITCHEN, bright, seed)
        d = compose_caption(RoomType.KITCHEN, dark, seed)
        assert b.description_de != d.description_de
        assert b.description_en != d.description_en
        b_text = f"{b.title_de} {b.description_de} {b.alt_text_de}".lower()
        d_text = f"{d.title_de} {d.description_de} {d.alt_text_de}".lower()
        assert any(w in b_text for w in BRIGHT_WORDS_DE), b_text
        assert not any(w in b_text for w in DARK_WORDS_DE), b_text
        assert any(w in d_text for w in DARK_WORDS_DE), d_text
        assert not re.search(r"\bhell|lichtdurchflutet", d_text), d_text
        assert "bright" in b.features
        assert "bright" not in d.features
        assert "low light" in d.features


def test_colour_drives_tone_words() -> None:
    green = measure_image(green_image())
    texts = " ".join(
        compose_caption(RoomType.GARDEN, green, f"g{i}").description_de for i in range(10)
    )
    assert "Grün" in texts
    brown = facts_for(0.5, "brown")
    brown_texts = " ".join(
        compose_caption(RoomType.LIVING_ROOM, brown, f"b{i}").description_de for i in range(10)
    )
    assert "Holztöne" in brown_texts or "Erdtöne" in brown_texts
    assert "warm tones" in compose_caption(RoomType.LIVING_ROOM, brown, "x").features
    vivid = facts_for(0.5, "red", 90.0)
    assert "vibrant colours" in compose_caption(RoomType.BEDROOM, vivid, "x").features


def test_german_grammar_follows_gender() -> None:
    bright = facts_for(0.8, "white", 5.0)
    for i in range(30):
        seed = f"g{i}"
        kitchen = compose_caption(RoomType.KITCHEN, bright, seed)
        living = compose_caption(RoomType.LIVING_ROOM, bright, seed)
        hallway = compose_caption(RoomType.HALLWAY, bright, seed)
        assert re.fullmatch(r"[\w ]+e Küche|Küche in \w+", kitchen.title_de), kitchen.title_de
        assert re.fullmatch(r"[\w ]+es Wohnzimmer|Wohnzimmer in \w+", living.title_de)
        assert re.fullmatch(r"[\w ]+er Flur|Flur in \w+", hallway.title_de), hallway.title_de
        assert not re.search(r"\b(Der|Das|der|das|dem|den) \w+e Küche\b", kitchen.description_de)
        assert not re.search(r"\b(Die|Der|die|der|den) \w+e Wohnzimmer\b", living.description_de)
        assert not re.search(r"\b(Die|Das|die|das) \w+e Flur\b", hallway.description_de)
    seen = " ".join(
        compose_caption(RoomType.LIVING_ROOM, bright, f"s{i}").description_de for i in range(40)
    )
    assert re.search(r"Das (helle|lichtdurchflutete|freundliche) Wohnzimmer", seen)


def test_floor_plan_has_plan_specific_text() -> None:
    for facts in FACT_VARIANTS:
        for seed in SEEDS:
            caption = compose_caption(RoomType.FLOOR_PLAN, facts, seed)
            text_de = f"{caption.title_de} {caption.description_de} {caption.alt_text_de}"
            text_en = f"{caption.title_en} {caption.description_en} {caption.alt_text_en}"
            assert "Grundriss" in text_de
            assert "floor plan" in text_en.lower()
            lowered = text_de.lower()
            for word in (*BRIGHT_WORDS_DE, *DARK_WORDS_DE, "töne", "farb"):
                assert not re.search(rf"\b{word}", lowered), (word, text_de)
            assert "bright" not in text_en.lower()
            assert "floor plan" in caption.features
            assert "bright" not in caption.features
            assert "low light" not in caption.features


def test_unknown_room_is_neutral() -> None:
    labels_de = [de for de, _ in ROOM_LABELS.values()]
    labels_en = [en.lower() for _, en in ROOM_LABELS.values()]
    for facts in FACT_VARIANTS:
        for seed in SEEDS:
            caption = compose_caption(None, facts, seed)
            assert caption.room_type is None
            text_de = f"{caption.title_de} {caption.description_de} {caption.alt_text_de}"
            text_en = f"{caption.title_en} {caption.description_en} {caption.alt_text_en}"
            for label in labels_de:
                assert not re.search(rf"\b{re.escape(label)}\b", text_de), (label, text_de)
            for label in labels_en:
                assert not re.search(rf"\b{re.escape(label)}\b", text_en.lower()), label
            assert "Immobilie" in text_de
            assert "property" in text_en
            assert not {"interior", "outdoor"} & set(caption.features)


@pytest.mark.parametrize("room", OUTDOOR)
def test_outdoor_rooms_get_outdoor_wording(room: RoomType) -> None:
    for facts in FACT_VARIANTS:
        for seed in SEEDS:
            caption = compose_caption(room, facts, seed)
            assert "outdoor" in caption.features
            assert "interior" not in caption.features
            lowered = caption.description_de.lower()
            assert "lichtdurchflutet" not in lowered
            assert "gemütlich" not in lowered
            assert "willkommen in der außenansicht" not in lowered


def test_portrait_photo_in_alt_text() -> None:
    facts = measure_image(Image.new("RGB", (800, 1200), (240, 240, 240)))
    assert facts.orientation == "portrait"
    caption = compose_caption(RoomType.BEDROOM, facts, "p")
    assert "Hochformat" in caption.alt_text_de
    assert "portrait" in caption.alt_text_en
    assert "portrait" in caption.features


def test_features_are_short_english_tags() -> None:
    facts = measure_image(bright_kitchen((4000, 2500)))
    caption = compose_caption(RoomType.KITCHEN, facts, "f")
    assert caption.features[0] == "kitchen"
    assert "high resolution" in caption.features
    assert "landscape" in caption.features
    assert len(caption.features) == len(set(caption.features))
    for tag in caption.features:
        assert tag == tag.lower()
        assert len(tag) <= 20
        assert tag.isascii()
