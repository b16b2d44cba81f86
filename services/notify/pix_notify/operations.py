"""Notify's lines on the operations page: emails that failed or bounced in the last days, how
many of each and the latest ones with their error (kind and error only: no addresses)."""

from __future__ import annotations

from datetime import timedelta

from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.operations import LineSource, OperationsLine
from sqlalchemy import func, select

from pix_notify.models import emails

FAILED = ("failed", "bounced")
WINDOW = timedelta(days=7)
LATEST = 10


def email_failures(db: Database, clock: Clock) -> LineSource:
    async def lines() -> list[OperationsLine]:
        since = clock.now() - WINDOW
        e = emails.c
        recent = (e.status.in_(FAILED), e.created_at >= since)
        async with db.sessions() as session:
            counts: dict[str, int] = dict(
                (
                    await session.execute(
                        select(e.status, func.count()).where(*recent).group_by(e.status)
                    )
                ).all()
            )
            latest = (
                await session.execute(
                    select(e.kind, e.status, e.error, func.coalesce(e.attempted_at, e.created_at))
                    .where(*recent)
                    .order_by(e.created_at.desc())
                    .limit(LATEST)
                )
            ).all()
        return [
            OperationsLine(key=f"email_{status}_7d", value=int(counts.get(status, 0)))
            for status in FAILED
        ] + [
            OperationsLine(key=f"email_{status}", detail=f"{kind}: {error or status}"[:300], at=at)
            for kind, status, error, at in latest
        ]

    return lines
