"""The analytics figures of leads: leads per week by source, the funnel NEW → CONTACTED →
CONVERSATION → BOOKED with the conversion per source, and the median time to the first response.

The funnel counts a lead at the furthest stage it ever reached: its current status or any
status it had on its timeline (the `status` activities, old and new), so a lead LOST after a
conversation still counts as contacted and in conversation. The first response is the first
email that went out to the lead (`first_contact_at`, set with the first `email_out`).

Speed: leads are counted per UTC hour first (`date_bin`, plain arithmetic) and only the hours
are turned into Berlin weeks (Berlin's offset is whole hours); the overall median comes from the
same scan as the per-source figures (grouping sets); JIT is off (compiling took longer than the
queries).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pix_runtime.db import Database
from pix_runtime.identity import Identity, report_scope
from pydantic import BaseModel
from sqlalchemy import text

NO_JIT = text("SET LOCAL jit = off")
WEEKLY = text(
    """
    SELECT to_char(date_trunc('week', timezone('Europe/Berlin', hour)), 'IYYY-"W"IW') AS week,
           source, sum(n)::bigint AS leads
    FROM (
        SELECT date_bin('1 hour', created_at, TIMESTAMPTZ '2000-01-03 00:00Z') AS hour,
               source, count(*) AS n
        FROM leads.leads
        WHERE created_at >= :since AND (CAST(:org_id AS uuid) IS NULL OR org_id = :org_id)
        GROUP BY 1, 2
    ) hourly
    GROUP BY 1, 2 ORDER BY 1, 2
    """
)
FUNNEL = text(
    """
    WITH passed AS (
        SELECT a.lead_id,
               max(greatest(
                   coalesce(array_position(CAST(:stages AS text[]), a.data ->> 'old'), 0),
                   coalesce(array_position(CAST(:stages AS text[]), a.data ->> 'new'), 0))) AS stage
        FROM leads.activities a
        WHERE a.kind = 'status' AND a.at >= :since
          AND (CAST(:org_id AS uuid) IS NULL OR a.org_id = :org_id)
        GROUP BY a.lead_id
    ), reached AS (
        SELECT l.source, l.created_at, l.first_contact_at,
               greatest(coalesce(array_position(CAST(:stages AS text[]), l.status), 1),
                        coalesce(p.stage, 0)) AS stage
        FROM leads.leads l LEFT JOIN passed p ON p.lead_id = l.id
        WHERE l.created_at >= :since
          AND (CAST(:org_id AS uuid) IS NULL OR l.org_id = :org_id)
    )
    SELECT source,
           count(*) AS received,
           count(*) FILTER (WHERE stage >= 2) AS contacted,
           count(*) FILTER (WHERE stage >= 3) AS conversation,
           count(*) FILTER (WHERE stage >= 4) AS booked,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM first_contact_at - created_at)
           ) FILTER (WHERE first_contact_at IS NOT NULL) AS median_first_response_s
    FROM reached
    GROUP BY GROUPING SETS ((source), ())
    ORDER BY source NULLS LAST
    """
)
STAGES = ["NEW", "CONTACTED", "CONVERSATION", "BOOKED"]


class WeekLeads(BaseModel):
    week: str
    source: str
    leads: int


class SourceFunnel(BaseModel):
    source: str
    received: int
    contacted: int
    conversation: int
    booked: int
    conversion_percent: float
    median_first_response_minutes: float | None


class LeadsReport(BaseModel):
    weeks: list[WeekLeads]
    funnel: list[SourceFunnel]
    median_first_response_minutes: float | None


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds) / 60, 1)


async def leads_report(
    db: Database, caller: Identity, org_id: uuid.UUID | None, since: datetime
) -> LeadsReport:
    params = {"since": since, "org_id": report_scope(caller, org_id), "stages": STAGES}
    async with db.sessions() as session:
        await session.execute(NO_JIT)
        weeks = (await session.execute(WEEKLY, params)).all()
        rows = (await session.execute(FUNNEL, params)).all()
    per_source = [r for r in rows if r.source is not None]
    overall = next((r for r in rows if r.source is None), None)
    return LeadsReport(
        weeks=[WeekLeads(week=r.week, source=r.source, leads=int(r.leads)) for r in weeks],
        funnel=[
            SourceFunnel(
                source=r.source,
                received=int(r.received),
                contacted=int(r.contacted),
                conversation=int(r.conversation),
                booked=int(r.booked),
                conversion_percent=round(100 * int(r.booked) / int(r.received), 1),
                median_first_response_minutes=_minutes(r.median_first_response_s),
            )
            for r in per_source
        ],
        median_first_response_minutes=(
            _minutes(overall.median_first_response_s) if overall is not None else None
        ),
    )
