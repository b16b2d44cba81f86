"""Numbers, money and moments as German and English readers expect them."""

from __future__ import annotations

from pix_gateway import formats


def test_money_and_numbers_follow_the_locale() -> None:
    assert formats.money_cents(19900, "de") == "199,00\xa0€"
    assert formats.money_cents(19900, "en") == "€199.00"
    assert formats.money(450000, "de") == "450.000\xa0€"
    assert formats.money(450000, "en") == "€450,000"
    assert formats.area(94.5, "de") == "94,5 m²"
    assert formats.number(3.5, "en") == "3.5"
    assert formats.money_cents(None, "de") == "–"


def test_moments_are_shown_in_berlin_time_with_the_zone_named() -> None:
    assert formats.when("2026-12-06T09:30:00+00:00", "de") == "06.12.2026, 10:30 MEZ"
    assert formats.when("2026-07-06T09:30:00Z", "de") == "06.07.2026, 11:30 MESZ"
    assert formats.when("2026-12-06T09:30:00+00:00", "en") == "6 Dec 2026, 10:30 CET"
    # Late in the UTC evening it is already the next day in Berlin.
    assert formats.day("2026-12-06T23:30:00+00:00", "de") == "07.12.2026"
    assert formats.day("2026-12-06", "en") == "6 Dec 2026"
    assert formats.when(None, "de") == ""
