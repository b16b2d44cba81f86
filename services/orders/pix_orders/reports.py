"""The analytics figures of orders: how many were placed per week, by status and service.

Read from the orders table itself (the service owns the data; no reporting copy to keep in sync).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pix_runtime.db import Database
from pix_runtime.identity import Identity, report_scope
from sqlalchemy import text

WEEKLY = text(
    """
    SELECT to_char(date_trunc('week', timezone('Europe/Berlin', o.created_at)), 'IYYY-"W"IW')
               AS week,
           o.status AS status,
           coalesce(s.value ->> 'key', '-') AS service,
           count(*) AS orders
    FROM orders.orders o
    LEFT JOIN LATERAL jsonb_array_elements(o.services) s ON true
    WHERE o.created_at >= :since AND (CAST(:org_id AS uuid) IS NULL OR o.org_id = :org_id)
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    """
)


@dataclass(frozen=True)
class WeekOrders:
    week: str  # ISO week, "2026-W49"
    status: str
    service: str
    orders: int


async def orders_per_week(
    db: Database, caller: Identity, org_id: uuid.UUID | None, since: datetime
) -> list[WeekOrders]:
    scope = report_scope(caller, org_id)
    async with db.sessions() as session:
        rows = (await session.execute(WEEKLY, {"since": since, "org_id": scope})).all()
    return [
        WeekOrders(week=r.week, status=r.status, service=r.service, orders=int(r.orders))
        for r in rows
    ]
