"""Room-type vocabulary shared by all pix.immo services.

The vocabulary is deliberately small and closed: every service (upload, captioning,
export) speaks in :class:`RoomType` values.  Photographers usually encode the room in
the file name (``Küche_01.jpg``, ``Living_room-3.JPG``); :func:`room_from_filename`
turns such names into a :class:`RoomType` and returns ``None`` for anything it does not
recognise with confidence (``IMG_4711.jpg``, ``DSC_0001``, ``badge.jpg``).
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Final

__all__ = [
    "ROOM_LABELS",
    "RoomType",
    "cover_rank",
    "normalise_token_text",
    "pseudonym_stem",
    "room_from_filename",
]


class RoomType(StrEnum):
    """Closed set of room / motif types, snake_case English keys."""

    KITCHEN = "kitchen"
    LIVING_ROOM = "living_room"
    DINING_ROOM = "dining_room"
    BEDROOM = "bedroom"
    CHILDREN_ROOM = "children_room"
    BATHROOM = "bathroom"
    GUEST_WC = "guest_wc"
    HALLWAY = "hallway"
    OFFICE = "office"
    UTILITY_ROOM = "utility_room"
    STORAGE = "storage"
    BASEMENT = "basement"
    ATTIC = "attic"
    STAIRCASE = "staircase"
    BALCONY = "balcony"
    TERRACE = "terrace"
    GARDEN = "garden"
    GARAGE = "garage"
    EXTERIOR = "exterior"
    VIEW = "view"
    FLOOR_PLAN = "floor_plan"
    POOL = "pool"


#: What an agent puts on a listing's title picture, best first: the house from outside, then
#: the rooms that sell a home. Floor plans and anything unlisted come after these.
COVER_PREFERENCE: Final[tuple[RoomType, ...]] = (
    RoomType.EXTERIOR,
    RoomType.LIVING_ROOM,
    RoomType.GARDEN,
    RoomType.TERRACE,
    RoomType.VIEW,
    RoomType.KITCHEN,
    RoomType.DINING_ROOM,
    RoomType.BALCONY,
    RoomType.POOL,
    RoomType.BEDROOM,
)


def cover_rank(room_type: str | None) -> int:
    """Sort key for the default cover: lower is a better title picture; floor plans last."""
    if room_type == RoomType.FLOOR_PLAN:
        return len(COVER_PREFERENCE) + 1
    for rank, preferred in enumerate(COVER_PREFERENCE):
        if room_type == preferred:
            return rank
    return len(COVER_PREFERENCE)


#: German and English display labels, ``(de, en)``.
ROOM_LABELS: Final[dict[RoomType, tuple[str, str]]] = {
    RoomType.KITCHEN: ("Küche", "Kitchen"),
    RoomType.LIVING_ROOM: ("Wohnzimmer", "Living room"),
    RoomType.DINING_ROOM: ("Esszimmer", "Dining room"),
    RoomType.BEDROOM: ("Schlafzimmer", "Bedroom"),
    RoomType.CHILDREN_ROOM: ("Kinderzimmer", "Children's room"),
    RoomType.BATHROOM: ("Badezimmer", "Bathroom"),
    RoomType.GUEST_WC: ("Gäste-WC", "Guest WC"),
    RoomType.HALLWAY: ("Flur", "Hallway"),
    RoomType.OFFICE: ("Arbeitszimmer", "Office"),
    RoomType.UTILITY_ROOM: ("Hauswirtschaftsraum", "Utility room"),
    RoomType.STORAGE: ("Abstellraum", "Storage room"),
    RoomType.BASEMENT: ("Keller", "Basement"),
    RoomType.ATTIC: ("Dachboden", "Attic"),
    RoomType.STAIRCASE: ("Treppenhaus", "Staircase"),
    RoomType.BALCONY: ("Balkon", "Balcony"),
    RoomType.TERRACE: ("Terrasse", "Terrace"),
    RoomType.GARDEN: ("Garten", "Garden"),
    RoomType.GARAGE: ("Garage", "Garage"),
    RoomType.EXTERIOR: ("Außenansicht", "Exterior"),
    RoomType.VIEW: ("Ausblick", "View"),
    RoomType.FLOOR_PLAN: ("Grundriss", "Floor plan"),
    RoomType.POOL: ("Pool", "Pool"),
}

_PSEUDONYM_STEMS: Final[dict[RoomType, str]] = {
    RoomType.KITCHEN: "Kitchen",
    RoomType.LIVING_ROOM: "LivingRoom",
    RoomType.DINING_ROOM: "DiningRoom",
    RoomType.BEDROOM: "Bedroom",
    RoomType.CHILDREN_ROOM: "ChildrenRoom",
    RoomType.BATHROOM: "Bathroom",
    RoomType.GUEST_WC: "GuestWC",
    RoomType.HALLWAY: "Hallway",
    RoomType.OFFICE: "Office",
    RoomType.UTILITY_ROOM: "UtilityRoom",
    RoomType.STORAGE: "Storage",
    RoomType.BASEMENT: "Basement",
    RoomType.ATTIC: "Attic",
    RoomType.STAIRCASE: "Staircase",
    RoomType.BALCONY: "Balcony",
    RoomType.TERRACE: "Terrace",
    RoomType.GARDEN: "Garden",
    RoomType.GARAGE: "Garage",
    RoomType.EXTERIOR: "Exterior",
    RoomType.VIEW: "View",
    RoomType.FLOOR_PLAN: "FloorPlan",
    RoomType.POOL: "Pool",
}

_R = RoomType

# Words that identify a room only as a whole token (or as adjacent tokens joined
# together, e.g. "living room" -> "livingroom").  All entries are in normalised form:
# casefolded, umlauts transliterated (ä -> ae, ö -> oe, ü -> ue, ß -> ss), letters only.
_EXACT: Final[dict[str, RoomType]] = {
    # kitchen
    "kitchen": _R.KITCHEN,
    "kitchenette": _R.KITCHEN,
    "kueche": _R.KITCHEN,
    "kuche": _R.KITCHEN,
    "kuechen": _R.KITCHEN,
    "kochen": _R.KITCHEN,
    "kochbereich": _R.KITCHEN,
    "einbaukueche": _R.KITCHEN,
    "wohnkueche": _R.KITCHEN,
    "openkitchen": _R.KITCHEN,
    # living room
    "living": _R.LIVING_ROOM,
    "livingroom": _R.LIVING_ROOM,
    "livingarea": _R.LIVING_ROOM,
    "lounge": _R.LIVING_ROOM,
    "sittingroom": _R.LIVING_ROOM,
    "wohnzimmer": _R.LIVING_ROOM,
    "wohnbereich": _R.LIVING_ROOM,
    "wohnraum": _R.LIVING_ROOM,
    "wohnen": _R.LIVING_ROOM,
    "salon": _R.LIVING_ROOM,
    # dining room
    "dining": _R.DINING_ROOM,
    "diningroom": _R.DINING_ROOM,
    "diningarea": _R.DINING_ROOM,
    "esszimmer": _R.DINING_ROOM,
    "essbereich": _R.DINING_ROOM,
    "essplatz": _R.DINING_ROOM,
    "essen": _R.DINING_ROOM,
    # bedroom
    "bedroom": _R.BEDROOM,
    "bed": _R.BEDROOM,
    "masterbedroom": _R.BEDROOM,
    "schlafzimmer": _R.BEDROOM,
    "schlafen": _R.BEDROOM,
    "schlafraum": _R.BEDROOM,
    "elternschlafzimmer": _R.BEDROOM,
    # children's room
    "childrenroom": _R.CHILDREN_ROOM,
    "childrensroom": _R.CHILDREN_ROOM,
    "childroom": _R.CHILDREN_ROOM,
    "childsroom": _R.CHILDREN_ROOM,
    "kidsroom": _R.CHILDREN_ROOM,
    "kidroom": _R.CHILDREN_ROOM,
    "kids": _R.CHILDREN_ROOM,
    "nursery": _R.CHILDREN_ROOM,
    "kinderzimmer": _R.CHILDREN_ROOM,
    "kinder": _R.CHILDREN_ROOM,
    # bathroom
    "bathroom": _R.BATHROOM,
    "bath": _R.BATHROOM,
    "ensuite": _R.BATHROOM,
    "shower": _R.BATHROOM,
    "showerroom": _R.BATHROOM,
    "masterbath": _R.BATHROOM,
    "bad": _R.BATHROOM,
    "baeder": _R.BATHROOM,
    "badezimmer": _R.BATHROOM,
    "duschbad": _R.BATHROOM,
    "wannenbad": _R.BATHROOM,
    "gaestebad": _R.BATHROOM,
    "dusche": _R.BATHROOM,
    # guest WC
    "wc": _R.GUEST_WC,
    "guestwc": _R.GUEST_WC,
    "guesttoilet": _R.GUEST_WC,
    "toilet": _R.GUEST_WC,
    "powderroom": _R.GUEST_WC,
    "gaestewc": _R.GUEST_WC,
    "gastewc": _R.GUEST_WC,
    "gaestetoilette": _R.GUEST_WC,
    "toilette": _R.GUEST_WC,
    # hallway
    "hallway": _R.HALLWAY,
    "hall": _R.HALLWAY,
    "corridor": _R.HALLWAY,
    "entrance": _R.HALLWAY,
    "entry": _R.HALLWAY,
    "foyer": _R.HALLWAY,
    "flur": _R.HALLWAY,
    "diele": _R.HALLWAY,
    "korridor": _R.HALLWAY,
    "eingang": _R.HALLWAY,
    "eingangsbereich": _R.HALLWAY,
    "hausflur": _R.HALLWAY,
    # office
    "office": _R.OFFICE,
    "homeoffice": _R.OFFICE,
    "study": _R.OFFICE,
    "arbeitszimmer": _R.OFFICE,
    "buero": _R.OFFICE,
    "buro": _R.OFFICE,
    "arbeitsbereich": _R.OFFICE,
    # utility room
    "utility": _R.UTILITY_ROOM,
    "utilityroom": _R.UTILITY_ROOM,
    "laundry": _R.UTILITY_ROOM,
    "laundryroom": _R.UTILITY_ROOM,
    "hwr": _R.UTILITY_ROOM,
    "hauswirtschaftsraum": _R.UTILITY_ROOM,
    "hauswirtschaft": _R.UTILITY_ROOM,
    "waschkueche": _R.UTILITY_ROOM,
    "waschraum": _R.UTILITY_ROOM,
    # storage
    "storage": _R.STORAGE,
    "storageroom": _R.STORAGE,
    "storeroom": _R.STORAGE,
    "pantry": _R.STORAGE,
    "abstellraum": _R.STORAGE,
    "abstellkammer": _R.STORAGE,
    "abstell": _R.STORAGE,
    "vorratsraum": _R.STORAGE,
    "speisekammer": _R.STORAGE,
    # basement
    "basement": _R.BASEMENT,
    "cellar": _R.BASEMENT,
    "keller": _R.BASEMENT,
    "kellerraum": _R.BASEMENT,
    "untergeschoss": _R.BASEMENT,
    # attic
    "attic": _R.ATTIC,
    "dachboden": _R.ATTIC,
    "spitzboden": _R.ATTIC,
    # staircase
    "staircase": _R.STAIRCASE,
    "stairs": _R.STAIRCASE,
    "stairway": _R.STAIRCASE,
    "stairwell": _R.STAIRCASE,
    "treppe": _R.STAIRCASE,
    "treppenhaus": _R.STAIRCASE,
    # balcony
    "balcony": _R.BALCONY,
    "balkon": _R.BALCONY,
    "loggia": _R.BALCONY,
    # terrace
    "terrace": _R.TERRACE,
    "patio": _R.TERRACE,
    "terrasse": _R.TERRACE,
    "dachterrasse": _R.TERRACE,
    "rooftopterrace": _R.TERRACE,
    # garden
    "garden": _R.GARDEN,
    "backyard": _R.GARDEN,
    "yard": _R.GARDEN,
    "garten": _R.GARDEN,
    "vorgarten": _R.GARDEN,
    # garage
    "garage": _R.GARAGE,
    "carport": _R.GARAGE,
    "tiefgarage": _R.GARAGE,
    "stellplatz": _R.GARAGE,
    # exterior
    "exterior": _R.EXTERIOR,
    "outside": _R.EXTERIOR,
    "outdoor": _R.EXTERIOR,
    "facade": _R.EXTERIOR,
    "aussen": _R.EXTERIOR,
    "aussenansicht": _R.EXTERIOR,
    "fassade": _R.EXTERIOR,
    "hausansicht": _R.EXTERIOR,
    "frontansicht": _R.EXTERIOR,
    "strassenansicht": _R.EXTERIOR,
    # view
    "view": _R.VIEW,
    "ausblick": _R.VIEW,
    "aussicht": _R.VIEW,
    "blick": _R.VIEW,
    "fernblick": _R.VIEW,
    # floor plan
    "floorplan": _R.FLOOR_PLAN,
    "floorplans": _R.FLOOR_PLAN,
    "plan": _R.FLOOR_PLAN,
    "grundriss": _R.FLOOR_PLAN,
    "grundrisse": _R.FLOOR_PLAN,
    "lageplan": _R.FLOOR_PLAN,
    # pool
    "pool": _R.POOL,
    "swimmingpool": _R.POOL,
    "schwimmbad": _R.POOL,
}

# Stems that may start a longer compound word ("Küchenzeile", "Gartenansicht",
# "Außenansicht", "Terrassenbereich").  Only distinctive stems of five or more letters
# are listed so that random words ("badge", "flurstueck") are not mistaken for rooms.
_PREFIX_STEMS: Final[tuple[tuple[str, RoomType], ...]] = (
    ("kitchen", _R.KITCHEN),
    ("kueche", _R.KITCHEN),
    ("livingroom", _R.LIVING_ROOM),
    ("wohnzimmer", _R.LIVING_ROOM),
    ("wohnbereich", _R.LIVING_ROOM),
    ("diningroom", _R.DINING_ROOM),
    ("esszimmer", _R.DINING_ROOM),
    ("essbereich", _R.DINING_ROOM),
    ("bedroom", _R.BEDROOM),
    ("schlafzimmer", _R.BEDROOM),
    ("kinderzimmer", _R.CHILDREN_ROOM),
    ("bathroom", _R.BATHROOM),
    ("badezimmer", _R.BATHROOM),
    ("hallway", _R.HALLWAY),
    ("eingangsbereich", _R.HALLWAY),
    ("arbeitszimmer", _R.OFFICE),
    ("hauswirtschaft", _R.UTILITY_ROOM),
    ("abstellraum", _R.STORAGE),
    ("abstellkammer", _R.STORAGE),
    ("basement", _R.BASEMENT),
    ("keller", _R.BASEMENT),
    ("dachboden", _R.ATTIC),
    ("staircase", _R.STAIRCASE),
    ("treppenhaus", _R.STAIRCASE),
    ("balcony", _R.BALCONY),
    ("balkon", _R.BALCONY),
    ("terrace", _R.TERRACE),
    ("terrasse", _R.TERRACE),
    ("garden", _R.GARDEN),
    ("garten", _R.GARDEN),
    ("garage", _R.GARAGE),
    ("exterior", _R.EXTERIOR),
    ("fassade", _R.EXTERIOR),
    ("facade", _R.EXTERIOR),
    ("aussen", _R.EXTERIOR),
    ("ausblick", _R.VIEW),
    ("aussicht", _R.VIEW),
    ("floorplan", _R.FLOOR_PLAN),
    ("grundriss", _R.FLOOR_PLAN),
    ("swimmingpool", _R.POOL),
)

# German compounds whose *last* part names the room ("Elternschlafzimmer",
# "Weinkeller", "Dachterrasse").  Checked after exact and prefix matches.
_SUFFIX_STEMS: Final[tuple[tuple[str, RoomType], ...]] = (
    ("schlafzimmer", _R.BEDROOM),
    ("kinderzimmer", _R.CHILDREN_ROOM),
    ("badezimmer", _R.BATHROOM),
    ("wohnzimmer", _R.LIVING_ROOM),
    ("esszimmer", _R.DINING_ROOM),
    ("arbeitszimmer", _R.OFFICE),
    ("kueche", _R.KITCHEN),
    ("terrasse", _R.TERRACE),
    ("balkon", _R.BALCONY),
    ("keller", _R.BASEMENT),
    ("garage", _R.GARAGE),
    ("treppenhaus", _R.STAIRCASE),
    ("grundriss", _R.FLOOR_PLAN),
)

# Compounds that would otherwise be caught by a prefix/suffix rule but mean something
# else ("Wintergarten" is a conservatory, "Kellerfenster" is just a window ...).
_NOT_A_ROOM: Final[frozenset[str]] = frozenset(
    {"wintergarten", "gartenzwerg", "kuechenmaschine", "badezimmerwaage"}
)

_TRANSLIT: Final[dict[str, str]] = {
    "ä": "ae",
    "ö": "oe",
    "ü": "ue",
    "ß": "ss",
    "ẞ": "ss",
    "æ": "ae",
    "ø": "oe",
    "œ": "oe",
}

_EXTENSION_RE: Final = re.compile(r"\.[A-Za-z][A-Za-z0-9]{1,4}$")
_CAMEL_RE: Final = re.compile(r"(?<=[a-zäöüß])(?=[A-ZÄÖÜ])")
_TOKEN_RE: Final = re.compile(r"[a-z]+")
_MAX_WINDOW: Final = 3


def normalise_token_text(text: str) -> str:
    """NFKC-normalise, casefold and transliterate German umlauts (``Küche`` -> ``kueche``).

    Remaining diacritics are stripped (``Salón`` -> ``salon``), so ``Küche``, ``KÜCHE``
    and ``Kueche`` all normalise to the same string.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    # Combining diaeresis written separately ("u" + U+0308) becomes "ü" under NFC.
    folded = unicodedata.normalize("NFC", folded)
    translit = "".join(_TRANSLIT.get(ch, ch) for ch in folded)
    decomposed = unicodedata.normalize("NFKD", translit)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _tokens(name: str) -> list[str]:
    base = re.split(r"[\\/]", name)[-1]
    base = _EXTENSION_RE.sub("", base.strip())
    # Split CamelCase before casefolding ("LivingRoom" -> "Living Room").
    base = _CAMEL_RE.sub(" ", unicodedata.normalize("NFKC", base))
    return _TOKEN_RE.findall(normalise_token_text(base))


def _match_token(token: str) -> RoomType | None:
    if token in _NOT_A_ROOM:
        return None
    exact = _EXACT.get(token)
    if exact is not None:
        return exact
    for stem, room in _PREFIX_STEMS:
        if token.startswith(stem):
            return room
    for stem, room in _SUFFIX_STEMS:
        if token.endswith(stem):
            return room
    return None


def room_from_filename(name: str) -> RoomType | None:
    """Recognise the room type encoded in a photo's file name.

    German and English names are understood case-insensitively, with any separators,
    numbering and file extension (``Küche-2.jpg``, ``kueche3.png``, ``Living_room_01``,
    ``floor-plan.pdf``).  Only whole tokens, adjacent tokens written as one word
    (``living room`` / ``LivingRoom``) or known compound stems count; arbitrary
    substrings do not (``badge.jpg`` and ``IMG_4711.jpg`` give ``None``).
    """
    tokens = _tokens(name)
    for start in range(len(tokens)):
        # Longest window first: "living room" beats "living", "guest wc" beats "wc".
        for size in range(min(_MAX_WINDOW, len(tokens) - start), 1, -1):
            joined = "".join(tokens[start : start + size])
            if joined in _EXACT and joined not in _NOT_A_ROOM:
                return _EXACT[joined]
        room = _match_token(tokens[start])
        if room is not None:
            return room
    return None


def pseudonym_stem(room: RoomType | None) -> str:
    """English CamelCase stem for pseudonymous file names (``LivingRoom``; ``Photo``)."""
    if room is None:
        return "Photo"
    return _PSEUDONYM_STEMS[room]
