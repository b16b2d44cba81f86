"""The analytics figure of the assistant: what the language-model provider cost per day.

Read from the usage log (every model call with its tokens and cost in euros). The figure is open
to an organisation's owner and to admins (`report_scope`), not behind the assistant's licence:
an owner without the assistant still gets an (empty) answer, and admins see every organisation.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pix_runtime.db import Database
from pix_runtime.http import CurrentIdentity
from pix_runtime.identity import Identity, report_scope
from pydantic import BaseModel
from sqlalchemy import text

# JIT is off for these short queries: compiling took longer than the query itself.
NO_JIT = text("SET LOCAL jit = off")
DAILY = text(
    """
    SELECT to_char(timezone('Europe/Berlin', at), 'YYYY-MM-DD') AS day, model,
           count(*) AS calls, sum(tokens_in)::bigint AS tokens_in,
           sum(tokens_out)::bigint AS tokens_out, sum(cost_eur) AS cost_eur
    FROM assistant.usage
    WHERE at >= :since AND (CAST(:org_id AS uuid) IS NULL OR org_id = :org_id)
    GROUP BY 1, 2 ORDER BY 1, 2
    """
)


class DayProviderCost(BaseModel):
    """One model's calls on a day (Berlin) and what they cost."""

    day: str
    model: str
    calls: int
    tokens_in: int
    tokens_out: int
    cost_eur: float


async def cost_per_day(
    db: Database, caller: Identity, org_id: uuid.UUID | None, since: datetime
) -> list[DayProviderCost]:
    params = {"since": since, "org_id": report_scope(caller, org_id)}
    async with db.sessions() as session:
        await session.execute(NO_JIT)
        rows = (await session.execute(DAILY, params)).all()
    return [
        DayProviderCost(
            day=r.day,
            model=r.model,
            calls=int(r.calls),
            tokens_in=int(r.tokens_in),
            tokens_out=int(r.tokens_out),
            cost_eur=round(float(r.cost_eur), 4),
        )
        for r in rows
    ]


def _db(request: Request) -> Database:
    db: Database = request.app.state.reports_db
    return db


reports_router = APIRouter()


@reports_router.get("/reports/provider-cost")
async def provider_cost_report(
    db: Annotated[Database, Depends(_db)],
    caller: CurrentIdentity,
    since: datetime,
    org_id: uuid.UUID | None = None,
) -> list[DayProviderCost]:
    """Model calls, tokens and cost in euros per day and model (admins: all or `org_id`;
    owners: their own organisation)."""
    return await cost_per_day(db, caller, org_id, since)
