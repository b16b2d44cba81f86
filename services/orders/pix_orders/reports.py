"""The analytics figures of orders: how many were placed per week, by status and service, and
how long an order took from being placed to its delivery (median and p90 per week).

Read from the orders table and its status history (the service owns the data; no reporting
copy to keep in sync).

Speed: a year of every organisation is ~50k orders. Converting each row's time to Berlin time
cost more than the rest of the query, so rows are first counted per UTC hour (`date_bin`, plain
arithmetic) and only those hours are turned into Berlin weeks; Berlin's offset is a whole number
of hours, so an hour never straddles two Berlin days. JIT is off for these short queries: its
compilation took longer than the query it was meant to speed up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pix_runtime.db import Database
from pix_runtime.identity import Identity, report_scope
from sqlalchemy import text

NO_JIT = text("SET LOCAL jit = off")
WEEKLY = text(
    """
    SELECT to_char(date_trunc('week', timezone('Europe/Berlin', hour)), 'IYYY-"W"IW') AS week,
           status, service, sum(n)::bigint AS orders
    FROM (
        SELECT date_bin('1 hour', o.created_at, TIMESTAMPTZ '2000-01-03 00:00Z') AS hour,
               o.status AS status,
               coalesce(s.value ->> 'key', '-') AS service,
               count(*) AS n
        FROM orders.orders o
        LEFT JOIN LATERAL jsonb_array_elements(o.services) s ON true
        WHERE o.created_at >= :since AND (CAST(:org_id AS uuid) IS NULL OR o.org_id = :org_id)
        GROUP BY 1, 2, 3
    ) hourly
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    """
)
# An order counts in the week (Berlin) of its first delivery; its time is placed → delivered.
DELIVERY = text(
    """
    WITH delivered AS (
        SELECT h.order_id, min(h.at) AS at
        FROM orders.status_history h
        WHERE h.to_status = 'delivered' AND h.at >= :since
        GROUP BY h.order_id
    )
    SELECT to_char(date_trunc('week', timezone('Europe/Berlin', d.at)), 'IYYY-"W"IW') AS week,
           count(*) AS orders,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM d.at - o.created_at)) AS p50,
           percentile_cont(0.9) WITHIN GROUP (
               ORDER BY extract(epoch FROM d.at - o.created_at)) AS p90
    FROM delivered d JOIN orders.orders o ON o.id = d.order_id
    WHERE CAST(:org_id AS uuid) IS NULL OR o.org_id = :org_id
    GROUP BY 1 ORDER BY 1
    """
)


@dataclass(frozen=True)
class WeekOrders:
    week: str  # ISO week, "2026-W49"
    status: str
    service: str
    orders: int


@dataclass(frozen=True)
class WeekDeliveryTime:
    """Orders delivered in an ISO week and their time from being placed, in hours."""

    week: str
    orders: int
    median_hours: float
    p90_hours: float


async def orders_per_week(
    db: Database, caller: Identity, org_id: uuid.UUID | None, since: datetime
) -> list[WeekOrders]:
    scope = report_scope(caller, org_id)
    async with db.sessions() as session:
        await session.execute(NO_JIT)
        rows = (await session.execute(WEEKLY, {"since": since, "org_id": scope})).all()
    return [
        WeekOrders(week=r.week, status=r.status, service=r.service, orders=int(r.orders))
        for r in rows
    ]


def _hours(seconds: float) -> float:
    return round(float(seconds) / 3600, 1)


async def delivery_time_per_week(
    db: Database, caller: Identity, org_id: uuid.UUID | None, since: datetime
) -> list[WeekDeliveryTime]:
    scope = report_scope(caller, org_id)
    async with db.sessions() as session:
        await session.execute(NO_JIT)
        rows = (await session.execute(DELIVERY, {"since": since, "org_id": scope})).all()
    return [
        WeekDeliveryTime(
            week=r.week, orders=int(r.orders), median_hours=_hours(r.p50), p90_hours=_hours(r.p90)
        )
        for r in rows
    ]
