"""Tests for the shared room-type vocabulary (pix_contracts.rooms)."""

from __future__ import annotations

import pytest
from pix_contracts.rooms import ROOM_LABELS, RoomType, pseudonym_stem, room_from_filename

POSITIVE: list[tuple[str, RoomType]] = [
    ("Kitchen_01.jpg", RoomType.KITCHEN),
    ("Küche-2.jpg", RoomType.KITCHEN),
    ("kueche3.png", RoomType.KITCHEN),
    ("KÜCHE.jpeg", RoomType.KITCHEN),
    ("Ku\u0308che_1.jpg", RoomType.KITCHEN),  # decomposed umlaut
    ("\uff2b\uff49\uff54\uff43\uff48\uff45\uff4e.jpg", RoomType.KITCHEN),  # full-width
    ("Küchenzeile_2.jpg", RoomType.KITCHEN),
    ("wohnzimmer 03.JPG", RoomType.LIVING_ROOM),
    ("Living_room", RoomType.LIVING_ROOM),
    ("Livingroom_01", RoomType.LIVING_ROOM),
    ("LivingRoom-02.webp", RoomType.LIVING_ROOM),
    ("living room 4.jpg", RoomType.LIVING_ROOM),
    ("Esszimmer.jpg", RoomType.DINING_ROOM),
    ("Dining_2.jpg", RoomType.DINING_ROOM),
    ("dining-room.jpg", RoomType.DINING_ROOM),
    ("Schlafzimmer_1.jpg", RoomType.BEDROOM),
    ("Elternschlafzimmer.jpg", RoomType.BEDROOM),
    ("bedroom2.jpg", RoomType.BEDROOM),
    ("Kinderzimmer.jpg", RoomType.CHILDREN_ROOM),
    ("Bad_1", RoomType.BATHROOM),
    ("Badezimmer", RoomType.BATHROOM),
    ("bathroom_03.jpg", RoomType.BATHROOM),
    ("WC", RoomType.GUEST_WC),
    ("Gäste-WC_1.jpg", RoomType.GUEST_WC),
    ("guest_wc.jpg", RoomType.GUEST_WC),
    ("Flur", RoomType.HALLWAY),
    ("Diele_2.jpg", RoomType.HALLWAY),
    ("Hallway-1.jpg", RoomType.HALLWAY),
    ("Arbeitszimmer.jpg", RoomType.OFFICE),
    ("Büro_1.jpg", RoomType.OFFICE),
    ("Buero.jpg", RoomType.OFFICE),
    ("Office 2.jpg", RoomType.OFFICE),
    ("Hauswirtschaftsraum.jpg", RoomType.UTILITY_ROOM),
    ("HWR_1.jpg", RoomType.UTILITY_ROOM),
    ("Abstellraum.jpg", RoomType.STORAGE),
    ("Keller_01.jpg", RoomType.BASEMENT),
    ("Dachboden.jpg", RoomType.ATTIC),
    ("Treppenhaus.jpg", RoomType.STAIRCASE),
    ("Balkon_1.jpg", RoomType.BALCONY),
    ("Terrasse-2.jpg", RoomType.TERRACE),
    ("Garten.jpg", RoomType.GARDEN),
    ("Garage.jpg", RoomType.GARAGE),
    ("Exterior_01.jpg", RoomType.EXTERIOR),
    ("Aussen.jpg", RoomType.EXTERIOR),
    ("Außenansicht_2.jpg", RoomType.EXTERIOR),
    ("Aussenansicht.jpg", RoomType.EXTERIOR),
    ("Fassade.jpg", RoomType.EXTERIOR),
    ("Grundriss_EG.png", RoomType.FLOOR_PLAN),
    ("Floorplan.pdf", RoomType.FLOOR_PLAN),
    ("floor-plan_1.png", RoomType.FLOOR_PLAN),
    ("Ausblick.jpg", RoomType.VIEW),
    ("View_3.jpg", RoomType.VIEW),
    ("Pool.jpg", RoomType.POOL),
    ("uploads/2024/Küche 1.jpg", RoomType.KITCHEN),
    ("C:\\Fotos\\Balkon.jpg", RoomType.BALCONY),
]

NEGATIVE = [
    "IMG_4711.jpg",
    "DSC_0001",
    "DSC_0001.JPG",
    "badge.jpg",
    "Badger_1.png",
    "20240101_123456.jpg",
    "photo.jpg",
    "Wintergarten.jpg",
    "",
    "___",
    "12345",
]


@pytest.mark.parametrize(("name", "expected"), POSITIVE)
def test_room_from_filename_recognises_examples(name: str, expected: RoomType) -> None:
    assert room_from_filename(name) is expected


@pytest.mark.parametrize("name", NEGATIVE)
def test_room_from_filename_rejects_unrelated_names(name: str) -> None:
    assert room_from_filename(name) is None


@pytest.mark.parametrize("room", list(RoomType))
def test_every_room_value_and_label_round_trips(room: RoomType) -> None:
    # The snake_case key itself and both display labels are valid file names.
    assert room_from_filename(f"{room.value}_01.jpg") is room
    de, en = ROOM_LABELS[room]
    assert room_from_filename(f"{de}-2.jpg") is room
    assert room_from_filename(f"{en} 3.JPG") is room
    assert room_from_filename(pseudonym_stem(room) + "_004.jpg") is room


def test_room_type_values() -> None:
    assert isinstance(RoomType.KITCHEN, str)
    assert str(RoomType.KITCHEN) == "kitchen"
    assert f"{RoomType.BEDROOM}" == "bedroom"
    assert RoomType("floor_plan") is RoomType.FLOOR_PLAN
    assert RoomType.LIVING_ROOM.value == "living_room"
    assert len(RoomType) == 22
    assert "other" not in {r.value for r in RoomType}


def test_labels_cover_all_rooms() -> None:
    assert set(ROOM_LABELS) == set(RoomType)
    for de, en in ROOM_LABELS.values():
        assert de
        assert en
        assert de.strip() == de
        assert en.strip() == en
    assert ROOM_LABELS[RoomType.KITCHEN] == ("Küche", "Kitchen")
    assert ROOM_LABELS[RoomType.FLOOR_PLAN] == ("Grundriss", "Floor plan")


def test_pseudonym_stem() -> None:
    assert pseudonym_stem(RoomType.KITCHEN) == "Kitchen"
    assert pseudonym_stem(RoomType.LIVING_ROOM) == "LivingRoom"
    assert pseudonym_stem(RoomType.FLOOR_PLAN) == "FloorPlan"
    assert pseudonym_stem(None) == "Photo"
    stems = [pseudonym_stem(r) for r in RoomType]
    assert len(set(stems)) == len(stems)
    for stem in stems:
        assert stem.isascii()
        assert stem.isalpha()
        assert stem[0].isupper()
