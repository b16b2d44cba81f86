"""Offline caption provider ``offline-template-v1``.

This provider does **not** look at image content with a vision model.  It combines two
honest sources of information:

* the room type, as recognised from the file name by the caller, and
* a handful of cheap pixel statistics (brightness, colourfulness, dominant colour
  family, orientation, resolution) measured with Pillow.

From these it fills hand-written German and English marketing templates.  Several
alternatives exist per slot; the choice is deterministic per ``variant_seed`` so a
series of kitchen photos does not read identically while re-running the same photo
yields the same text.  It never states facts the inputs cannot support (no sizes,
prices, brands, addresses, fittings).
"""

from __future__ import annotations

import colorsys
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, TypeVar

from PIL import Image, ImageStat
from pix_contracts.rooms import ROOM_LABELS, RoomType

__all__ = [
    "COLOUR_FAMILIES",
    "MAX_TITLE_LENGTH",
    "MODEL_NAME",
    "CaptionText",
    "ImageFacts",
    "colour_family",
    "compose_caption",
    "measure_image",
]

MODEL_NAME: Final = "offline-template-v1"
MAX_TITLE_LENGTH: Final = 30

COLOUR_FAMILIES: Final[tuple[str, ...]] = (
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
)
_NEUTRAL_FAMILIES: Final = frozenset({"white", "grey", "black"})
_WARM_FAMILIES: Final = frozenset({"red", "orange", "yellow", "brown", "beige"})
_COOL_FAMILIES: Final = frozenset({"blue", "purple"})

Orientation = Literal["landscape", "portrait", "square"]
ResolutionClass = Literal["low", "standard", "high"]

_ANALYSIS_SIZE: Final = 256  # longest edge for brightness / colourfulness
_PALETTE_SIZE: Final = 64  # longest edge for the dominant-colour quantisation
_PALETTE_COLOURS: Final = 16
_MIN_CHROMATIC_SHARE: Final = 0.2  # a colour family must cover this share to win

BRIGHT_THRESHOLD: Final = 0.6
DARK_THRESHOLD: Final = 0.35
VIBRANT_THRESHOLD: Final = 60.0  # Hasler–Süsstrunk: "highly colourful" from ~59
MUTED_THRESHOLD: Final = 15.0  # Hasler–Süsstrunk: "not colourful" below ~15


# --------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class ImageFacts:
    """Cheap, objective pixel statistics of one photo."""

    width: int
    height: int
    brightness: float  # mean luma, 0 (black) .. 1 (white)
    colourfulness: float  # Hasler & Süsstrunk (2003) M, 0 = grey, ~>60 very colourful
    dominant_colour: str  # one of COLOUR_FAMILIES
    orientation: Orientation
    resolution_class: ResolutionClass

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1_000_000


def _orientation(width: int, height: int) -> Orientation:
    if abs(width - height) <= 0.03 * max(width, height, 1):
        return "square"
    return "landscape" if width > height else "portrait"


def _resolution_class(width: int, height: int) -> ResolutionClass:
    pixels = width * height
    if pixels < 1_000_000:
        return "low"
    if pixels < 8_000_000:
        return "standard"
    return "high"


def _small_rgb(image: Image.Image, longest_edge: int) -> Image.Image:
    """Downscaled RGB copy; transparency is flattened onto white.  Never mutates input."""
    width, height = image.size
    scale = min(1.0, longest_edge / max(width, height, 1))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    src = image
    if src.mode not in ("RGB", "RGBA", "L", "LA", "RGBa", "La"):
        src = src.convert("RGBA" if "transparency" in src.info or "A" in src.mode else "RGB")
    small = src.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0) if scale < 1 else src
    if small.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = small.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return small.convert("RGB") if small.mode != "RGB" else small.copy()


def _colourfulness(rgb: Image.Image) -> float:
    """Hasler–Süsstrunk colourfulness M = σ_rgyb + 0.3·μ_rgyb.

    rg = R − G and yb = (R + G)/2 − B are computed with Pillow's matrix conversion,
    halved and offset by 128 so they fit an 8-bit band (a neutral pixel maps to exactly
    128, so grey images score 0).
    """
    rg = rgb.convert("L", (0.5, -0.5, 0.0, 128.0))
    yb = rgb.convert("L", (0.25, 0.25, -0.5, 128.0))
    rg_stat = ImageStat.Stat(rg)
    yb_stat = ImageStat.Stat(yb)
    mean_rg = 2.0 * (rg_stat.mean[0] - 128.0)
    mean_yb = 2.0 * (yb_stat.mean[0] - 128.0)
    std_rg = 2.0 * rg_stat.stddev[0]
    std_yb = 2.0 * yb_stat.stddev[0]
    return math.hypot(std_rg, std_yb) + 0.3 * math.hypot(mean_rg, mean_yb)


def colour_family(red: int, green: int, blue: int) -> str:
    """Map one sRGB colour to a coarse colour-family key (see COLOUR_FAMILIES)."""
    hue, sat, val = colorsys.rgb_to_hsv(red / 255, green / 255, blue / 255)
    deg = hue * 360.0
    chroma = (max(red, green, blue) - min(red, green, blue)) / 255
    if val < 0.18:
        return "black"
    if chroma < 0.08 or sat < 0.12:
        if val > 0.85:
            return "white"
        return "black" if val < 0.25 else "grey"
    if 15.0 <= deg < 65.0 and sat < 0.4 and val >= 0.6:
        return "beige"
    if 8.0 <= deg < 50.0 and val < 0.6:
        return "brown"
    if deg < 15.0 or deg >= 345.0:
        return "pink" if sat < 0.45 and val > 0.75 else "red"
    if deg < 40.0:
        return "orange"
    if deg < 70.0:
        return "yellow"
    if deg < 170.0:
        return "green"
    if deg < 255.0:
        return "blue"
    if deg < 290.0:
        return "purple"
    return "pink"


def _dominant_colour(rgb: Image.Image) -> str:
    width, height = rgb.size
    scale = min(1.0, _PALETTE_SIZE / max(width, height))
    small = rgb.resize((max(1, round(width * scale)), max(1, round(height * scale))))
    quantised = small.quantize(colors=_PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT)
    palette = quantised.getpalette() or []
    counts: dict[str, int] = {}
    total = 0
    for count, index in quantised.getcolors(maxcolors=256) or []:
        if not isinstance(index, int):  # pragma: no cover - "P" images give ints
            continue
        r, g, b = palette[3 * index : 3 * index + 3]
        family = colour_family(r, g, b)
        counts[family] = counts.get(family, 0) + count
        total += count
    if total == 0:
        return "grey"
    chromatic = {k: v for k, v in counts.items() if k not in _NEUTRAL_FAMILIES}
    if chromatic:
        best = max(chromatic, key=lambda k: (chromatic[k], -COLOUR_FAMILIES.index(k)))
        if chromatic[best] / total >= _MIN_CHROMATIC_SHARE:
            return best
    return max(counts, key=lambda k: (counts[k], -COLOUR_FAMILIES.index(k)))


def measure_image(image: Image.Image) -> ImageFacts:
    """Measure brightness, colourfulness, dominant colour, orientation and resolution.

    Works on a ~256 px thumbnail copy (the input is not modified), so it takes a few
    milliseconds even for large photos.
    """
    width, height = image.size
    rgb = _small_rgb(image, _ANALYSIS_SIZE)
    brightness = ImageStat.Stat(rgb.convert("L")).mean[0] / 255.0
    return ImageFacts(
        width=width,
        height=height,
        brightness=round(min(1.0, max(0.0, brightness)), 4),
        colourfulness=round(_colourfulness(rgb), 2),
        dominant_colour=_dominant_colour(rgb),
        orientation=_orientation(width, height),
        resolution_class=_resolution_class(width, height),
    )


# --------------------------------------------------------------------------- caption


@dataclass(frozen=True)
class CaptionText:
    """German/English caption for one photo."""

    room_type: str | None
    title_de: str
    title_en: str
    description_de: str
    description_en: str
    alt_text_de: str
    alt_text_en: str
    features: list[str] = field(default_factory=list)


Gender = Literal["f", "m", "n"]
Setting = Literal["indoor", "outdoor", "exterior", "view"]
Level = Literal["bright", "medium", "dark"]
Pair = tuple[str, str]  # (German, English)

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Noun:
    de: str
    gender: Gender
    en: str
    prep: Literal["in", "auf", "an"]  # German preposition for "in/on/at the room"
    setting: Setting
    closings: tuple[Pair, ...]


def _noun(
    room: RoomType,
    gender: Gender,
    en: str,
    prep: Literal["in", "auf", "an"],
    setting: Setting,
    *closings: Pair,
) -> tuple[RoomType, _Noun]:
    return room, _Noun(ROOM_LABELS[room][0], gender, en, prep, setting, closings)


_NOUNS: Final[dict[RoomType, _Noun]] = dict(
    [
        _noun(
            RoomType.KITCHEN,
            "f",
            "kitchen",
            "in",
            "indoor",
            ("Hier macht das Kochen Freude.", "A place where cooking is a pleasure."),
            (
                "Ideal für gemeinsame Abende mit Familie und Freunden.",
                "Ideal for evenings with family and friends.",
            ),
            ("Ein Ort, an dem man gerne zusammenkommt.", "A place where people like to gather."),
        ),
        _noun(
            RoomType.LIVING_ROOM,
            "n",
            "living room",
            "in",
            "indoor",
            ("Ein Ort zum Entspannen und Wohlfühlen.", "A place to relax and feel at home."),
            ("Hier lässt es sich entspannt wohnen.", "A relaxed place to live."),
            ("Ideal für gemütliche Stunden zu Hause.", "Ideal for cosy hours at home."),
        ),
        _noun(
            RoomType.DINING_ROOM,
            "n",
            "dining room",
            "in",
            "indoor",
            ("Ideal für gemeinsame Mahlzeiten.", "Ideal for shared meals."),
            ("Hier wird jedes Essen zum Erlebnis.", "Here every meal becomes an occasion."),
        ),
        _noun(
            RoomType.BEDROOM,
            "n",
            "bedroom",
            "in",
            "indoor",
            ("Ein Rückzugsort zum Ausruhen und Abschalten.", "A retreat to rest and unwind."),
            (
                "Hier beginnt und endet der Tag entspannt.",
                "A relaxed place to start and end the day.",
            ),
        ),
        _noun(
            RoomType.CHILDREN_ROOM,
            "n",
            "children's room",
            "in",
            "indoor",
            ("Ein Raum zum Spielen, Lernen und Träumen.", "A space to play, learn and dream."),
            (
                "Hier finden Kinder ihr eigenes kleines Reich.",
                "A little realm of their own for children.",
            ),
        ),
        _noun(
            RoomType.BATHROOM,
            "n",
            "bathroom",
            "in",
            "indoor",
            (
                "Ein Ort, um den Alltag hinter sich zu lassen.",
                "A place to leave everyday life behind.",
            ),
            ("Hier beginnt der Tag erfrischt.", "Start the day feeling refreshed."),
        ),
        _noun(
            RoomType.GUEST_WC,
            "n",
            "guest WC",
            "in",
            "indoor",
            ("Praktisch für Gäste und Besucher.", "Practical for guests and visitors."),
            ("Ein durchdachtes Detail für den Alltag.", "A thoughtful detail for everyday life."),
        ),
        _noun(
            RoomType.HALLWAY,
            "m",
            "hallway",
            "in",
            "indoor",
            ("Hier beginnt das Ankommen.", "This is where coming home begins."),
            (
                "Der erste Eindruck beim Betreten zählt.",
                "First impressions count from the doorstep.",
            ),
        ),
        _noun(
            RoomType.OFFICE,
            "n",
            "study",
            "in",
            "indoor",
            ("Ideal für konzentriertes Arbeiten zu Hause.", "Ideal for focused work from home."),
            ("Hier lässt es sich in Ruhe arbeiten.", "A good place to work undisturbed."),
        ),
        _noun(
            RoomType.UTILITY_ROOM,
            "m",
            "utility room",
            "in",
            "indoor",
            ("Praktisch für Wäsche und Haushalt.", "Practical for laundry and household chores."),
            ("Hier findet der Haushalt seinen Platz.", "A dedicated place for household tasks."),
        ),
        _noun(
            RoomType.STORAGE,
            "m",
            "storage room",
            "in",
            "indoor",
            ("Praktischer Stauraum für den Alltag.", "Practical storage space for everyday life."),
            ("Hier findet alles seinen Platz.", "A place for everything."),
        ),
        _noun(
            RoomType.BASEMENT,
            "m",
            "basement",
            "in",
            "indoor",
            ("Ideal als Stauraum oder für Hobbys.", "Ideal for storage or hobbies."),
            ("Zusätzlicher Raum für vielfältige Ideen.", "Extra space for all kinds of ideas."),
        ),
        _noun(
            RoomType.ATTIC,
            "m",
            "attic",
            "auf",
            "indoor",
            ("Ideal als zusätzlicher Stauraum.", "Ideal as additional storage space."),
            ("Zusätzlicher Raum unter dem Dach.", "Extra space under the roof."),
        ),
        _noun(
            RoomType.STAIRCASE,
            "n",
            "staircase",
            "in",
            "indoor",
            (
                "Das Treppenhaus verbindet die Etagen miteinander.",
                "The staircase connects the floors.",
            ),
            ("Ein verbindendes Element im Haus.", "A connecting element of the building."),
        ),
        _noun(
            RoomType.BALCONY,
            "m",
            "balcony",
            "auf",
            "outdoor",
            (
                "Ideal für einen Kaffee an der frischen Luft.",
                "Ideal for a coffee in the fresh air.",
            ),
            ("Hier lässt sich die frische Luft genießen.", "A place to enjoy the fresh air."),
        ),
        _noun(
            RoomType.TERRACE,
            "f",
            "terrace",
            "auf",
            "outdoor",
            ("Perfekt für entspannte Stunden im Freien.", "Perfect for relaxed hours outdoors."),
            ("Ideal für gesellige Abende im Freien.", "Ideal for sociable evenings outdoors."),
        ),
        _noun(
            RoomType.GARDEN,
            "m",
            "garden",
            "in",
            "outdoor",
            ("Ideal zum Entspannen im Grünen.", "Ideal for relaxing surrounded by greenery."),
            ("Hier lässt sich die Natur genießen.", "A place to enjoy nature."),
        ),
        _noun(
            RoomType.GARAGE,
            "f",
            "garage",
            "in",
            "indoor",
            (
                "Praktisch für Fahrzeuge und zusätzlichen Stauraum.",
                "Practical for vehicles and extra storage.",
            ),
            ("Hier ist das Fahrzeug gut untergebracht.", "A sheltered place for the car."),
        ),
        _noun(
            RoomType.EXTERIOR,
            "f",
            "exterior",
            "auf",
            "exterior",
            ("Schon der erste Eindruck überzeugt.", "It makes a convincing first impression."),
            ("Ein Blick von außen lohnt sich.", "It is well worth a look from the outside."),
        ),
        _noun(
            RoomType.VIEW,
            "m",
            "view",
            "auf",
            "view",
            ("Ein Anblick, der zum Verweilen einlädt.", "A sight that invites you to linger."),
            ("Hier lässt sich der Blick schweifen.", "Let your gaze wander."),
        ),
        _noun(
            RoomType.POOL,
            "m",
            "pool",
            "an",
            "outdoor",
            ("Ideal für eine erfrischende Abkühlung.", "Ideal for a refreshing dip."),
            ("Hier lässt es sich entspannen und abtauchen.", "A place to relax and unwind."),
        ),
    ]
)


# Rooms where "cosy" or "light-filled" would sound odd; they get plainer adjectives.
_FUNCTIONAL_ROOMS: Final = frozenset(
    {
        RoomType.UTILITY_ROOM,
        RoomType.STORAGE,
        RoomType.BASEMENT,
        RoomType.ATTIC,
        RoomType.STAIRCASE,
        RoomType.GARAGE,
    }
)

AdjectiveSet = Literal["indoor", "functional", "outdoor", "exterior", "view", "unknown"]

# Adjective stems (German stem, English) by setting and brightness level.  German stems
# take the regular endings (hell -> helle / heller / helles / hellen).
_ADJECTIVES: Final[dict[AdjectiveSet, dict[Level, tuple[Pair, ...]]]] = {
    "indoor": {
        "bright": (
            ("hell", "bright"),
            ("lichtdurchflutet", "light-filled"),
            ("freundlich", "friendly"),
        ),
        "medium": (
            ("einladend", "inviting"),
            ("harmonisch", "harmonious"),
            ("ansprechend", "appealing"),
        ),
        "dark": (("gemütlich", "cosy"), ("stimmungsvoll", "atmospheric"), ("behaglich", "snug")),
    },
    "functional": {
        "bright": (
            ("hell", "bright"),
            ("freundlich", "friendly"),
            ("gut ausgeleuchtet", "well-lit"),
        ),
        "medium": (("funktional", "functional"), ("praktisch", "practical")),
        "dark": (
            ("dezent beleuchtet", "softly lit"),
            ("stimmungsvoll beleuchtet", "atmospherically lit"),
        ),
    },
    "outdoor": {
        "bright": (
            ("hell", "bright"),
            ("freundlich", "friendly"),
            ("strahlend hell", "brightly lit"),
        ),
        "medium": (
            ("einladend", "inviting"),
            ("harmonisch", "harmonious"),
            ("ansprechend", "appealing"),
        ),
        "dark": (("stimmungsvoll", "atmospheric"), ("ruhig", "tranquil")),
    },
    "exterior": {
        "bright": (("freundlich", "friendly"), ("hell", "bright")),
        "medium": (("einladend", "inviting"), ("ansprechend", "appealing")),
        "dark": (("stimmungsvoll", "atmospheric"),),
    },
    "view": {
        "bright": (("freundlich", "bright"), ("schön", "lovely")),
        "medium": (("schön", "lovely"), ("reizvoll", "charming")),
        "dark": (("stimmungsvoll", "atmospheric"), ("ruhig", "tranquil")),
    },
    "unknown": {
        "bright": (("hell", "bright"), ("freundlich", "friendly")),
        "medium": (("einladend", "inviting"), ("harmonisch", "harmonious")),
        "dark": (("stimmungsvoll", "atmospheric"), ("ruhig", "calm")),
    },
}

# Atmosphere adjectives in German feminine accusative after "eine" (strong/mixed -e).
_ATMOSPHERES: Final[dict[Level, tuple[Pair, ...]]] = {
    "bright": (
        ("freundliche, offene", "a friendly, open"),
        ("luftige, frische", "an airy, fresh"),
        ("helle, heitere", "a bright, cheerful"),
    ),
    "medium": (
        ("angenehme", "a pleasant"),
        ("ausgewogene", "a balanced"),
        ("harmonische", "a harmonious"),
    ),
    "dark": (
        ("warme, behagliche", "a warm, cosy"),
        ("ruhige", "a calm"),
        ("gemütliche", "a snug"),
    ),
}


@dataclass(frozen=True)
class _Tone:
    de: str  # nominative / accusative, lower-case
    de_dat: str  # dative (after "mit")
    de_plural: bool
    en: str
    en_plural: bool
    short_de: str | None = None  # for titles: "Küche in Grün"
    short_en: str | None = None


_TONES: Final[dict[str, tuple[_Tone, ...]]] = {
    "white": (
        _Tone(
            "klare Weißtöne", "klaren Weißtönen", True, "clean white tones", True, "Weiß", "white"
        ),
        _Tone(
            "helle, neutrale Töne", "hellen, neutralen Tönen", True, "light, neutral tones", True
        ),
    ),
    "grey": (
        _Tone("dezente Grautöne", "dezenten Grautönen", True, "subtle grey tones", True),
        _Tone(
            "ruhige, neutrale Töne", "ruhigen, neutralen Tönen", True, "calm, neutral tones", True
        ),
    ),
    "black": (
        _Tone(
            "markante dunkle Akzente",
            "markanten dunklen Akzenten",
            True,
            "striking dark accents",
            True,
        ),
        _Tone("tiefe, dunkle Töne", "tiefen, dunklen Tönen", True, "deep, dark tones", True),
    ),
    "beige": (
        _Tone(
            "warme Naturtöne",
            "warmen Naturtönen",
            True,
            "warm natural tones",
            True,
            "Naturtönen",
            "natural tones",
        ),
        _Tone(
            "sanfte Beigetöne",
            "sanften Beigetönen",
            True,
            "soft beige tones",
            True,
            "Beige",
            "beige",
        ),
    ),
    "brown": (
        _Tone(
            "natürliche Holztöne",
            "natürlichen Holztönen",
            True,
            "natural wood tones",
            True,
            "Holztönen",
            "wood tones",
        ),
        _Tone(
            "warme Erdtöne",
            "warmen Erdtönen",
            True,
            "warm earthy tones",
            True,
            "Erdtönen",
            "earth tones",
        ),
    ),
    "red": (
        _Tone("kräftige Rottöne", "kräftigen Rottönen", True, "rich red tones", True, "Rot", "red"),
    ),
    "orange": (
        _Tone(
            "warme Orangetöne",
            "warmen Orangetönen",
            True,
            "warm orange tones",
            True,
            "Orange",
            "orange",
        ),
    ),
    "yellow": (
        _Tone(
            "sonnige Gelbtöne",
            "sonnigen Gelbtönen",
            True,
            "sunny yellow tones",
            True,
            "Gelb",
            "yellow",
        ),
    ),
    "green": (
        _Tone("frisches Grün", "frischem Grün", False, "fresh greens", True, "Grün", "green"),
        _Tone("natürliche Grüntöne", "natürlichen Grüntönen", True, "natural green tones", True),
    ),
    "blue": (
        _Tone("kühle Blautöne", "kühlen Blautönen", True, "cool blue tones", True, "Blau", "blue"),
        _Tone("frische Blautöne", "frischen Blautönen", True, "fresh blue tones", True),
    ),
    "purple": (
        _Tone(
            "edle Violetttöne",
            "edlen Violetttönen",
            True,
            "elegant purple tones",
            True,
            "Violett",
            "purple",
        ),
    ),
    "pink": (
        _Tone("zarte Rosétöne", "zarten Rosétönen", True, "soft pink tones", True, "Rosé", "pink"),
    ),
}
_VIBRANT_TONE: Final = _Tone("lebendige Farben", "lebendigen Farben", True, "vibrant colours", True)
_MUTED_TONE: Final = _Tone(
    "zurückhaltende, neutrale Töne",
    "zurückhaltenden, neutralen Tönen",
    True,
    "restrained, neutral tones",
    True,
)


# ------------------------------------------------------------------ German grammar

_DEF_NOM: Final[dict[Gender, str]] = {"f": "die", "m": "der", "n": "das"}
_DEF_ACC: Final[dict[Gender, str]] = {"f": "die", "m": "den", "n": "das"}
_DEF_DAT: Final[dict[Gender, str]] = {"f": "der", "m": "dem", "n": "dem"}
_INDEF_ACC: Final[dict[Gender, str]] = {"f": "eine", "m": "einen", "n": "ein"}
_STRONG_NOM_ENDING: Final[dict[Gender, str]] = {"f": "e", "m": "er", "n": "es"}
_POSSESSIVE_DAT_F: Final[dict[Gender, str]] = {"f": "ihrer", "m": "seiner", "n": "seiner"}
_CONTRACTIONS: Final[dict[tuple[str, str], str]] = {
    ("in", "dem"): "im",
    ("an", "dem"): "am",
    ("in", "das"): "ins",
    ("an", "das"): "ans",
}


def _weak(stem: str) -> str:
    """Weak ending after a definite article, nominative singular ("die helle")."""
    return stem + "e"


def _weak_acc(stem: str, gender: Gender) -> str:
    return stem + ("en" if gender == "m" else "e")


def _mixed_acc(stem: str, gender: Gender) -> str:
    """Ending after an indefinite article, accusative ("einen hellen", "ein helles")."""
    return stem + {"f": "e", "m": "en", "n": "es"}[gender]


def _strong_nom(stem: str, gender: Gender) -> str:
    return stem + _STRONG_NOM_ENDING[gender]


def _prep_article(prep: str, article: str) -> str:
    return _CONTRACTIONS.get((prep, article), f"{prep} {article}")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _a(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


# ------------------------------------------------------------------ selection


class _Chooser:
    """Deterministic choices derived from sha256(variant_seed + slot)."""

    def __init__(self, seed: str) -> None:
        self._seed = seed

    def index(self, slot: str, n: int) -> int:
        digest = hashlib.sha256(f"{MODEL_NAME}\x00{self._seed}\x00{slot}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % max(n, 1)

    def pick(self, slot: str, options: Sequence[_T]) -> _T:
        return options[self.index(slot, len(options))]


@dataclass(frozen=True)
class _Ctx:
    noun: _Noun
    adj: Pair
    atmosphere: Pair
    tone: _Tone


def _brightness_level(brightness: float) -> Level:
    if brightness >= BRIGHT_THRESHOLD:
        return "bright"
    if brightness < DARK_THRESHOLD:
        return "dark"
    return "medium"


def _tone_options(facts: ImageFacts) -> tuple[_Tone, ...]:
    base = _TONES.get(facts.dominant_colour, _TONES["grey"])
    if facts.colourfulness >= VIBRANT_THRESHOLD and facts.dominant_colour not in _NEUTRAL_FAMILIES:
        return (*base, _VIBRANT_TONE)
    if facts.colourfulness < MUTED_THRESHOLD and facts.dominant_colour in _NEUTRAL_FAMILIES:
        return (*base, _MUTED_TONE)
    return base


_FORMAT_DE: Final[dict[str, str]] = {
    "landscape": "Aufnahme im Querformat",
    "portrait": "Aufnahme im Hochformat",
    "square": "quadratische Aufnahme",
}
_FORMAT_EN: Final[dict[str, str]] = {
    "landscape": "landscape photo",
    "portrait": "portrait photo",
    "square": "square photo",
}


# ------------------------------------------------------------------ sentence templates

Template = Callable[[_Ctx], Pair]


def _intro_atmosphere(c: _Ctx) -> Pair:
    n, (a_de, a_en) = c.noun, c.adj
    subject = f"{_cap(_DEF_NOM[n.gender])} {_weak(a_de)} {n.de}"
    de = f"{subject} vermittelt eine {c.atmosphere[0]} Atmosphäre."
    en = f"The {a_en} {n.en} creates {c.atmosphere[1]} atmosphere."
    return de, en


def _intro_photo_shows(c: _Ctx) -> Pair:
    n, (a_de, a_en) = c.noun, c.adj
    de = f"Diese Aufnahme zeigt {_INDEF_ACC[n.gender]} {_mixed_acc(a_de, n.gender)} {n.de}."
    en = f"This photo shows {_a(a_en)} {n.en}."
    return de, en


def _intro_welcome(c: _Ctx) -> Pair:
    n, (a_de, a_en) = c.noun, c.adj
    place = _prep_article(n.prep, _DEF_DAT[n.gender])
    de = f"Willkommen {place} {a_de}en {n.de}."
    en = f"Welcome to the {a_en} {n.en}."
    return de, en


def _intro_best_side(c: _Ctx) -> Pair:
    n, (a_de, a_en) = c.noun, c.adj
    de = (
        f"{_cap(_DEF_NOM[n.gender])} {_weak(a_de)} {n.de} zeigt sich "
        f"von {_POSSESSIVE_DAT_F[n.gender]} besten Seite."
    )
    en = f"The {a_en} {n.en} presents itself at its best."
    return de, en


def _intro_glance(c: _Ctx) -> Pair:
    n, (a_de, a_en) = c.noun, c.adj
    target = _prep_article(n.prep if n.prep != "an" else "auf", _DEF_ACC[n.gender])
    de = f"Ein Blick {target} {_weak_acc(a_de, n.gender)} {n.de} lohnt sich."
    en = f"The {a_en} {n.en} is well worth a look."
    return de, en


def _intro_exterior_impression(c: _Ctx) -> Pair:
    a_de, a_en = c.adj
    de = f"Die {_weak(a_de)} Außenansicht vermittelt einen ersten Eindruck der Immobilie."
    en = f"The {a_en} exterior gives a first impression of the property."
    return de, en


def _intro_exterior_outside(c: _Ctx) -> Pair:
    a_de, a_en = c.adj
    de = f"Schon von außen zeigt sich die Immobilie von ihrer {a_de}en Seite."
    en = f"Even from the outside, the property shows its {a_en} side."
    return de, en


def _intro_view_enjoy(c: _Ctx) -> Pair:
    a_de, a_en = c.adj
    return f"Genießen Sie den {a_de}en Ausblick.", f"Enjoy the {a_en} view."


def _intro_view_shows(c: _Ctx) -> Pair:
    a_de, a_en = c.adj
    return (
        f"Diese Aufnahme zeigt einen {a_de}en Ausblick.",
        f"This photo shows {_a(a_en)} view.",
    )


def _intro_unknown_impression(c: _Ctx) -> Pair:
    a_de, a_en = c.adj
    return (
        f"Diese Aufnahme vermittelt einen {a_de}en Eindruck der Immobilie.",
        f"This photo conveys {_a(a_en)} impression of the property.",
    )


def _intro_unknown_atmosphere(c: _Ctx) -> Pair:
    return (
        f"Die Aufnahme vermittelt eine {c.atmosphere[0]} Atmosphäre.",
        f"The photo conveys {c.atmosphere[1]} atmosphere.",
    )


def _intro_unknown_side(c: _Ctx) -> Pair:
    a_de, a_en = c.adj
    return (
        f"Die Aufnahme zeigt die Immobilie von ihrer {a_de}en Seite.",
        f"The photo shows the property from its {a_en} side.",
    )


_INTROS: Final[dict[Setting | Literal["unknown"], tuple[Template, ...]]] = {
    "indoor": (
        _intro_atmosphere,
        _intro_photo_shows,
        _intro_welcome,
        _intro_best_side,
        _intro_glance,
    ),
    "outdoor": (
        _intro_atmosphere,
        _intro_photo_shows,
        _intro_welcome,
        _intro_best_side,
        _intro_glance,
    ),
    "exterior": (_intro_exterior_impression, _intro_exterior_outside, _intro_photo_shows),
    "view": (_intro_view_enjoy, _intro_view_shows, _intro_atmosphere),
    "unknown": (_intro_unknown_impression, _intro_unknown_atmosphere, _intro_unknown_side),
}


def _verb(plural: bool, singular_form: str, plural_form: str) -> str:
    return plural_form if plural else singular_form


def _tone_shape(c: _Ctx) -> Pair:
    t = c.tone
    return (
        f"{_cap(t.de)} {_verb(t.de_plural, 'prägt', 'prägen')} den Gesamteindruck.",
        f"{_cap(t.en)} {_verb(t.en_plural, 'shapes', 'shape')} the overall impression.",
    )


def _tone_harmony(c: _Ctx) -> Pair:
    t = c.tone
    return (
        f"{_cap(t.de)} {_verb(t.de_plural, 'sorgt', 'sorgen')} für eine harmonische Wirkung.",
        f"{_cap(t.en)} {_verb(t.en_plural, 'creates', 'create')} a harmonious look.",
    )


def _tone_palette(c: _Ctx) -> Pair:
    t = c.tone
    return (
        f"Die Farbgebung setzt auf {t.de}.",
        f"The colour palette relies on {t.en}.",
    )


def _tone_focus(c: _Ctx) -> Pair:
    t = c.tone
    return (
        f"Im Mittelpunkt {_verb(t.de_plural, 'steht', 'stehen')} {t.de}.",
        f"{_cap(t.en)} {_verb(t.en_plural, 'takes', 'take')} centre stage.",
    )


_TONE_SENTENCES: Final[tuple[Template, ...]] = (
    _tone_shape,
    _tone_harmony,
    _tone_palette,
    _tone_focus,
)

_UNKNOWN_CLOSINGS: Final[tuple[Pair, ...]] = (
    ("Ein Eindruck, der neugierig macht.", "An impression that sparks curiosity."),
    ("Entdecken Sie die Immobilie in allen Details.", "Discover the property in every detail."),
)

_PLAN_TITLES: Final[tuple[Pair, ...]] = (
    ("Grundriss", "Floor plan"),
    ("Grundriss der Immobilie", "Floor plan of the property"),
    ("Übersicht der Raumaufteilung", "Layout overview"),
)
_PLAN_INTROS: Final[tuple[Pair, ...]] = (
    (
        "Der Grundriss zeigt die Raumaufteilung auf einen Blick.",
        "The floor plan shows the layout at a glance.",
    ),
    (
        "Dieser Grundriss gibt einen klaren Überblick über die Aufteilung der Räume.",
        "This floor plan gives a clear overview of how the rooms are arranged.",
    ),
    (
        "Die Grundrissdarstellung macht die Raumaufteilung leicht verständlich.",
        "The floor plan makes the layout easy to understand.",
    ),
)
_PLAN_FOLLOWUPS: Final[tuple[Pair, ...]] = (
    (
        "So lassen sich Wege und Zusammenhänge zwischen den Räumen gut nachvollziehen.",
        "It makes it easy to follow how the rooms connect.",
    ),
    (
        "Ideal, um die Nutzung der Räume in Ruhe zu planen.",
        "Ideal for planning how to use each room at leisure.",
    ),
    (
        "Die Darstellung erleichtert die Orientierung vor der Besichtigung.",
        "It helps with orientation before a viewing.",
    ),
)


# ------------------------------------------------------------------ composition


def _clip_title(title: str) -> str:
    """Hard guarantee: at most MAX_TITLE_LENGTH characters, cut at a word boundary."""
    title = " ".join(title.split())
    if len(title) <= MAX_TITLE_LENGTH:
        return title
    cut = title[:MAX_TITLE_LENGTH]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,-–:")


def _choose_title(chooser: _Chooser, candidates: Sequence[Pair], fallback: Pair) -> Pair:
    fitting = [
        (de, en)
        for de, en in candidates
        if len(de) <= MAX_TITLE_LENGTH and len(en) <= MAX_TITLE_LENGTH
    ]
    de, en = chooser.pick("title", fitting) if fitting else fallback
    return _clip_title(de), _clip_title(en)


def _features(room: RoomType | None, facts: ImageFacts, setting: str) -> list[str]:
    tags: list[str] = []
    if room is not None:
        label_en = ROOM_LABELS[room][1]
        tags.append(label_en[:1].lower() + label_en[1:])
        if room is RoomType.FLOOR_PLAN:
            tags.append("layout overview")
        elif setting in ("outdoor", "exterior", "view"):
            tags.append("outdoor")
        else:
            tags.append("interior")
    if room is not RoomType.FLOOR_PLAN:
        level = _brightness_level(facts.brightness)
        if level == "bright":
            tags.append("bright")
        elif level == "dark":
            tags.append("low light")
        if facts.dominant_colour in _WARM_FAMILIES:
            tags.append("warm tones")
        elif facts.dominant_colour in _COOL_FAMILIES:
            tags.append("cool tones")
        elif facts.dominant_colour == "green":
            tags.append("green tones")
        else:
            tags.append("neutral tones")
        if facts.colourfulness >= VIBRANT_THRESHOLD:
            tags.append("vibrant colours")
        elif facts.colourfulness < MUTED_THRESHOLD:
            tags.append("muted colours")
    tags.append(facts.orientation)
    if facts.resolution_class == "high":
        tags.append("high resolution")
    elif facts.resolution_class == "low":
        tags.append("low resolution")
    return list(dict.fromkeys(tags))


def _compose_plan(facts: ImageFacts, chooser: _Chooser) -> CaptionText:
    title_de, title_en = _choose_title(chooser, _PLAN_TITLES, _PLAN_TITLES[0])
    intro = chooser.pick("plan-intro", _PLAN_INTROS)
    follow = chooser.pick("plan-follow", _PLAN_FOLLOWUPS)
    with_follow = chooser.index("plan-length", 3) != 0
    description_de = intro[0] + (f" {follow[0]}" if with_follow else "")
    description_en = intro[1] + (f" {follow[1]}" if with_follow else "")
    orientation_de = {"landscape": "im Querformat", "portrait": "im Hochformat"}.get(
        facts.orientation, "in quadratischem Format"
    )
    orientation_en = {"landscape": "landscape", "portrait": "portrait"}.get(
        facts.orientation, "square"
    )
    return CaptionText(
        room_type=RoomType.FLOOR_PLAN.value,
        title_de=title_de,
        title_en=title_en,
        description_de=description_de,
        description_en=description_en,
        alt_text_de=f"Grundriss mit der Raumaufteilung der Immobilie, Darstellung {orientation_de}",
        alt_text_en=f"Floor plan showing the layout of the property, {orientation_en} format",
        features=_features(RoomType.FLOOR_PLAN, facts, "plan"),
    )


def compose_caption(room: RoomType | None, facts: ImageFacts, variant_seed: str) -> CaptionText:
    """Fill the German/English templates for one photo.

    The wording depends on the room type and the measured facts; among equivalent
    alternatives the choice is a deterministic function of ``variant_seed``.
    """
    chooser = _Chooser(variant_seed)
    if room is RoomType.FLOOR_PLAN:
        return _compose_plan(facts, chooser)

    level = _brightness_level(facts.brightness)
    noun = _NOUNS.get(room) if room is not None else None
    setting: Setting | Literal["unknown"] = noun.setting if noun is not None else "unknown"

    adjective_set: AdjectiveSet = "functional" if room in _FUNCTIONAL_ROOMS else setting
    adjectives = _ADJECTIVES[adjective_set][level]
    adj = chooser.pick("adjective", adjectives)
    atmospheres = [a for a in _ATMOSPHERES[level] if adj[0] not in a[0]] or list(
        _ATMOSPHERES[level]
    )
    atmosphere = chooser.pick("atmosphere", atmospheres)
    tone = chooser.pick("tone", _tone_options(facts))
    # Unknown room: a stand-in noun that only carries the neutral closing sentences.
    ctx_noun = noun or _Noun("Immobilie", "f", "property", "in", "outdoor", _UNKNOWN_CLOSINGS)
    ctx = _Ctx(noun=ctx_noun, adj=adj, atmosphere=atmosphere, tone=tone)

    intro = chooser.pick("intro", _INTROS[setting])(ctx)
    tone_sentence = chooser.pick("tone-sentence", _TONE_SENTENCES)(ctx)
    sentences: list[Pair] = [intro, tone_sentence]
    if chooser.index("length", 3) != 0:
        sentences.append(chooser.pick("closing", ctx_noun.closings))
    description_de = " ".join(s[0] for s in sentences)
    description_en = " ".join(s[1] for s in sentences)

    # Titles -------------------------------------------------------------------
    candidates: list[Pair] = []
    if noun is not None:
        for a_de, a_en in (adj, *adjectives):
            candidates.append(
                (f"{_cap(_strong_nom(a_de, noun.gender))} {noun.de}", _cap(f"{a_en} {noun.en}"))
            )
        if (
            tone.short_de is not None
            and tone.short_en is not None
            and noun.setting in ("indoor", "outdoor")
        ):
            candidates.append(
                (f"{noun.de} in {tone.short_de}", _cap(f"{noun.en} in {tone.short_en}"))
            )
        fallback: Pair = ROOM_LABELS[room] if room is not None else ("Immobilie", "Property")
    else:
        candidates.extend(
            [
                ("Impression der Immobilie", "Property impression"),
                (f"{_cap(adj[0])}e Impression", _cap(f"{adj[1]} impression")),
                ("Die Immobilie im Überblick", "The property at a glance"),
            ]
        )
        fallback = ("Impression", "Impression")
    # De-duplicate while keeping order (the chosen adjective appears twice).
    title_de, title_en = _choose_title(chooser, list(dict.fromkeys(candidates)), fallback)

    # Alt text -----------------------------------------------------------------
    if noun is not None:
        subject_de = f"{_cap(_strong_nom(adj[0], noun.gender))} {noun.de}"
        subject_en = _cap(f"{adj[1]} {noun.en}")
    else:
        subject_de = f"{_cap(adj[0])}e Impression der Immobilie"
        subject_en = _cap(f"{adj[1]} impression of the property")
    alt_de = f"{subject_de} mit {tone.de_dat}, {_FORMAT_DE[facts.orientation]}"
    alt_en = f"{subject_en} with {tone.en}, {_FORMAT_EN[facts.orientation]}"

    return CaptionText(
        room_type=room.value if room is not None else None,
        title_de=title_de,
        title_en=title_en,
        description_de=description_de,
        description_en=description_en,
        alt_text_de=alt_de,
        alt_text_en=alt_en,
        features=_features(room, facts, setting),
    )
