"""The lead score, 0–100, with the brief's weights (LeadScoringService): time frame 25,
financing 25, budget match 15, source quality 15, engagement 10, completeness 10.

Each factor is stored with its points, its maximum and the reason, so the UI can say why a lead
has its score. Recomputed on every change of the lead.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

WEIGHTS = {
    "time_frame": 25,
    "financing": 25,
    "budget_match": 15,
    "source_quality": 15,
    "engagement": 10,
    "completeness": 10,
}

TIME_FRAME_POINTS = {"immediate": 25, "3_months": 20, "6_months": 12, "later": 5, "unknown": 0}
FINANCING_POINTS = {"confirmed": 25, "in_progress": 15, "none": 3, "unknown": 0}
# How often a source's inquiries turn into viewings in agents' experience: the agent's own
# website first (the person chose this agent), then the large portals, then classifieds.
SOURCE_POINTS = {
    "website": 15,
    "manual": 12,
    "immoscout24": 12,
    "immowelt": 10,
    "willhaben": 10,
    "email": 8,
    "kleinanzeigen": 6,
}


class ScoreFactor(BaseModel):
    points: int
    max: int
    reason: str


@dataclass(frozen=True)
class ScoreInput:
    time_frame: str
    financing: str
    source: str
    budget_max_eur: int | None
    listing_price_eur: int | None
    reply_count: int
    inquiry_count: int
    requested_viewing: bool
    requested_callback: bool
    completeness: int


def budget_points(budget: int | None, price: int | None) -> tuple[int, str]:
    if budget is None:
        return 0, "no budget stated"
    if price is None:
        # A stated budget is a sign of a serious search, even without a listing to compare.
        return 7, f"budget {budget} €, no listing price to compare"
    if budget >= price:
        return 15, f"budget {budget} € covers the price {price} €"
    if budget >= price * 0.9:
        return 10, f"budget {budget} € within 10 % of the price {price} €"
    if budget >= price * 0.75:
        return 5, f"budget {budget} € within 25 % of the price {price} €"
    return 0, f"budget {budget} € far below the price {price} €"


def engagement_points(lead: ScoreInput) -> tuple[int, str]:
    points = min(lead.reply_count, 2) * 3
    reasons = [f"{lead.reply_count} replies"] if lead.reply_count else []
    if lead.requested_viewing:
        points += 3
        reasons.append("asked for a viewing")
    if lead.requested_callback:
        points += 1
        reasons.append("asked for a callback")
    if lead.inquiry_count > 1:
        points += 1
        reasons.append(f"{lead.inquiry_count} inquiries")
    return min(points, 10), ", ".join(reasons) or "no engagement yet"


def score(lead: ScoreInput) -> tuple[int, dict[str, ScoreFactor]]:
    budget, budget_reason = budget_points(lead.budget_max_eur, lead.listing_price_eur)
    engagement, engagement_reason = engagement_points(lead)
    factors = {
        "time_frame": ScoreFactor(
            points=TIME_FRAME_POINTS.get(lead.time_frame, 0),
            max=WEIGHTS["time_frame"],
            reason=lead.time_frame,
        ),
        "financing": ScoreFactor(
            points=FINANCING_POINTS.get(lead.financing, 0),
            max=WEIGHTS["financing"],
            reason=lead.financing,
        ),
        "budget_match": ScoreFactor(
            points=budget, max=WEIGHTS["budget_match"], reason=budget_reason
        ),
        "source_quality": ScoreFactor(
            points=SOURCE_POINTS.get(lead.source, 5),
            max=WEIGHTS["source_quality"],
            reason=lead.source,
        ),
        "engagement": ScoreFactor(
            points=engagement, max=WEIGHTS["engagement"], reason=engagement_reason
        ),
        "completeness": ScoreFactor(
            points=round(lead.completeness / 10),
            max=WEIGHTS["completeness"],
            reason=f"{lead.completeness} % complete",
        ),
    }
    total = sum(f.points for f in factors.values())
    return max(0, min(100, total)), factors
