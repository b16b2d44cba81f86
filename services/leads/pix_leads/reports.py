"""The analytics figures of leads: leads per week by source, the funnel NEW → BOOKED with the
conversion per source, and the median time to the first response.

Read from the leads table itself. The funnel counts a lead at every stage up to its current
status (statuses only move forward, see STATUS_ORDER); a LOST lead counts as received only.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pix_runtime.db import Database
from pix_runtime.identity import Identity, report_scope
from pydantic import BaseModel
from sqlalchemy import text

WEEKLY = text(
    """
    SELECT to_char(date_trunc('week', timezone('Europe/Berlin', created_at)), 'IYYY-"W"IW')
               AS week,
           source, count(*) AS leads
    FROM leads.leads
    WHERE created_at >= :since AND (CAST(:org_id AS uuid) IS NULL OR org_id = :org_id)
    GROUP BY 1, 2 ORDER BY 1, 2
    """
)
FUNNEL = text(
    """
    SELECT source,
           count(*) AS received,
           count(*) FILTER (WHERE status IN ('CONTACTED', 'CONVERSATION', 'BOOKED')) AS contacted,
           count(*) FILTER (WHERE status IN ('CONVERSATION', 'BOOKED')) AS conversation,
           count(*) FILTER (WHERE status = 'BOOKED') AS booked,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM first_contact_at - created_at)
           ) FILTER (WHERE first_contact_at IS NOT NULL) AS median_first_response_s
    FROM leads.leads
    WHERE created_at >= :since AND (CAST(:org_id AS uuid) IS NULL OR org_id = :org_id)
    GROUP BY source ORDER BY source
    """
)
MEDIAN_ALL = text(
    """
    SELECT percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM first_contact_at - created_at)) AS median
    FROM leads.leads
    WHERE created_at >= :since AND first_contact_at IS NOT NULL
      AND (CAST(:org_id AS uuid) IS NULL OR org_id = :org_id)
    """
)


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
    params = {"since": since, "org_id": report_scope(caller, org_id)}
    async with db.sessions() as session:
        weeks = (await session.execute(WEEKLY, params)).all()
        funnel = (await session.execute(FUNNEL, params)).all()
        median = (await session.execute(MEDIAN_ALL, params)).scalar()
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
            for r in funnel
        ],
        median_first_response_minutes=_minutes(median),
    )
