"""Export's listing words come from its gettext catalogues, complete in German and English."""

from __future__ import annotations

from pix_export.formats.listing import PROPERTY_TYPES, feature_name
from pix_export.i18n import CATALOGUE


def test_both_catalogues_hold_the_same_words() -> None:
    assert CATALOGUE.msgids("de") == CATALOGUE.msgids("en")
    wanted = {f"type.{kind}" for kind in PROPERTY_TYPES}
    wanted |= {"title.rooms", "title.in_city", "title.property_in_city"}
    assert wanted <= CATALOGUE.msgids("de")


def test_features_are_named_from_the_catalogue_rooms_from_the_contracts() -> None:
    assert feature_name("Hardwood_Floor", english=False) == "Parkett"
    assert feature_name("hardwood floor", english=True) == "Hardwood floor"
    assert feature_name("living room", english=False) == "Wohnzimmer"
    assert feature_name("warm tones", english=False) is None
    assert feature_name("rooftop bar", english=False) == "Rooftop bar"
