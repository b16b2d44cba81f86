"""The score's arithmetic with the brief's weights, enrichment's phone numbers and names."""

from __future__ import annotations

import pytest
from pix_leads.enrichment import CompletenessInput, completeness, normalise_phone, similar_names
from pix_leads.scoring import WEIGHTS, ScoreInput, budget_points, score


def lead(**changes: object) -> ScoreInput:
    values: dict[str, object] = {
        "time_frame": "immediate",
        "financing": "confirmed",
        "source": "website",
        "budget_max_eur": 500_000,
        "listing_price_eur": 480_000,
        "reply_count": 2,
        "inquiry_count": 2,
        "requested_viewing": True,
        "requested_callback": True,
        "completeness": 100,
    }
    values.update(changes)
    return ScoreInput(**values)  # type: ignore[arg-type]


def test_the_weights_are_the_briefs() -> None:
    assert WEIGHTS == {
        "time_frame": 25,
        "financing": 25,
        "budget_match": 15,
        "source_quality": 15,
        "engagement": 10,
        "completeness": 10,
    }
    total, factors = score(lead())
    assert total == 100
    assert all(f.points == f.max for f in factors.values())
    cold, _ = score(
        lead(
            time_frame="unknown",
            financing="unknown",
            budget_max_eur=None,
            source="kleinanzeigen",
            reply_count=0,
            inquiry_count=1,
            requested_viewing=False,
            requested_callback=False,
            completeness=30,
        )
    )
    assert cold == 6 + 3


@pytest.mark.parametrize(
    ("budget", "price", "points"),
    [
        (500_000, 480_000, 15),
        (440_000, 480_000, 10),
        (370_000, 480_000, 5),
        (200_000, 480_000, 0),
        (300_000, None, 7),
        (None, 480_000, 0),
    ],
)
def test_budget_match(budget: int | None, price: int | None, points: int) -> None:
    assert budget_points(budget, price)[0] == points


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("030 23125 401", None, "+493023125401"),
        ("+49 (0)30 23125-900", None, "+493023125900"),
        ("0664 1234567", "AT", "+436641234567"),
        ("01 5041234", None, "+4315041234"),
        ("044 668 18 00", "CH", "+41446681800"),
        ("12", None, None),
        ("keine Angabe", None, None),
    ],
)
def test_phone_numbers_become_e164(raw: str, region: str | None, e164: str | None) -> None:
    assert normalise_phone(raw, prefer=region) == e164


def test_names_compare_without_order_accents_or_titles() -> None:
    assert similar_names("Jürgen Größmann", "Grössmann, Jürgen")
    assert similar_names("Jonas Testmann", "Testmann Jonas")
    assert similar_names("Frau Dr. Lena Beispiel", "lena beispiel")
    assert not similar_names("Lena Beispiel", "Mira Probe")


def test_completeness_weighs_what_an_agent_needs() -> None:
    full = CompletenessInput(
        name="Lena",
        email="l@example.org",
        phone="+493023125401",
        message="Ich möchte die Wohnung gerne besichtigen.",
        listing_known=True,
        financing="confirmed",
        time_frame="immediate",
        budget_known=True,
        household="2 Personen",
    )
    assert completeness(full) == 100
    assert (
        completeness(
            CompletenessInput(
                "", None, "+493023125401", "", False, "unknown", "unknown", False, None
            )
        )
        == 20
    )
