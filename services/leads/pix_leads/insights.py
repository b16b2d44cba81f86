"""Predictions (seed §5.2): a lead's conversion probability, and when an organisation's leads
answer best.

Conversion probability, 0–99 %: a logistic model over the lead's facts,

    logit = -3.2 + 0.035·score + financing (confirmed +0.9, in progress +0.4)
            + 0.5·min(replies, 3) + viewing asked +0.6 + source (website +0.4, manual +0.2,
            immoscout24 +0.1, kleinanzeigen −0.3) + first-response time (≤ 1 h +0.5, ≤ 24 h
            +0.2, > 48 h −0.4, none yet −0.2)

BOOKED is 99 %, LOST 0 %. Once an organisation has decided at least `CALIBRATE_AFTER` leads
(BOOKED or LOST), the intercept is shifted so the model's mean over those leads equals their
observed booking rate (calibration-in-the-large on the organisation's own history).
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime

from pix_runtime.db import Database
from pix_runtime.errors import NotFound
from pix_runtime.identity import Identity
from sqlalchemy import RowMapping, desc, func, select

from pix_leads import models as m
from pix_leads.records import ContactTime, Prediction
from pix_leads.reports import LeadsReport, leads_report
from pix_leads.tenancy import lead_scope

CALIBRATE_AFTER = 30
CALIBRATION_SAMPLE = 2000
SOURCE_WEIGHT = {"website": 0.4, "manual": 0.2, "immoscout24": 0.1, "kleinanzeigen": -0.3}
TIME_ZONE = "Europe/Berlin"


def _response_weight(created: datetime, first_contact: datetime | None) -> float:
    if first_contact is None:
        return -0.2
    hours = (first_contact - created).total_seconds() / 3600
    if hours <= 1:
        return 0.5
    if hours <= 24:
        return 0.2
    return -0.4 if hours > 48 else 0.0


def factors(lead: RowMapping) -> dict[str, float]:
    return {
        "intercept": -3.2,
        "score": 0.035 * lead["score"],
        "financing": {"confirmed": 0.9, "in_progress": 0.4}.get(lead["financing"], 0.0),
        "engagement": 0.5 * min(lead["reply_count"], 3),
        "viewing": 0.6 if lead["requested_viewing"] else 0.0,
        "source": SOURCE_WEIGHT.get(lead["source"], 0.0),
        "response_time": _response_weight(lead["created_at"], lead["first_contact_at"]),
    }


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


class Insights:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _shift(self, org_id: uuid.UUID) -> float | None:
        """The intercept shift that calibrates the model on the organisation's decided leads."""
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(m.leads)
                .where(m.leads.c.org_id == org_id, m.leads.c.status.in_(("BOOKED", "LOST")))
                .order_by(desc(m.leads.c.status_changed_at))
                .limit(CALIBRATION_SAMPLE)
            )
            decided = list(rows.mappings())
        if len(decided) < CALIBRATE_AFTER:
            return None
        observed = sum(r["status"] == "BOOKED" for r in decided) / len(decided)
        predicted = sum(_sigmoid(sum(factors(r).values())) for r in decided) / len(decided)
        return _logit(observed) - _logit(predicted)

    async def predict(self, lead_id: uuid.UUID, viewer: Identity) -> Prediction:
        async with self._db.sessions() as session:
            lead = (
                (
                    await session.execute(
                        select(m.leads).where(
                            m.leads.c.id == lead_id,
                            lead_scope(viewer),
                        )
                    )
                )
                .mappings()
                .first()
            )
        if lead is None:
            raise NotFound("lead")
        parts = factors(lead)
        shift = await self._shift(lead["org_id"])
        if shift is not None:
            parts["calibration"] = shift
        if lead["status"] in ("BOOKED", "LOST"):
            probability = 99 if lead["status"] == "BOOKED" else 0
        else:
            probability = min(99, max(0, round(100 * _sigmoid(sum(parts.values())))))
        return Prediction(
            lead_id=lead_id,
            probability=probability,
            factors={k: round(v, 3) for k, v in parts.items()},
            calibrated=shift is not None,
            method="logistic-v1",
        )

    async def report(
        self, viewer: Identity, org_id: uuid.UUID | None, since: datetime
    ) -> LeadsReport:
        return await leads_report(self._db, viewer, org_id, since)

    async def contact_time(self, viewer: Identity) -> ContactTime:
        """When the organisation's leads have answered (hour and weekday, Berlin time)."""
        local = func.timezone(TIME_ZONE, m.activities.c.at)
        hour = func.extract("hour", local).label("hour")
        weekday = func.extract("isodow", local).label("weekday")
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(hour, weekday, func.count())
                .where(m.activities.c.org_id == viewer.org_id, m.activities.c.kind == "email_in")
                .group_by(hour, weekday)
            )
            counted = rows.all()
        by_hour = [0] * 24
        by_weekday = [0] * 7
        for h, d, n in counted:
            by_hour[int(h)] += n
            by_weekday[int(d) - 1] += n
        total = sum(by_hour)
        return ContactTime(
            best_hour=by_hour.index(max(by_hour)) if total else None,
            best_weekday=by_weekday.index(max(by_weekday)) if total else None,
            replies_counted=total,
            by_hour=by_hour,
            by_weekday=by_weekday,
        )
