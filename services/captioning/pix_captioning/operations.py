"""Captioning's lines on the operations page: the caption workers of the process that answers
(provider, how many captions it may make at once and how many it is making), whether the
provider's circuit is open, predictions waiting for the provider's webhook, and running jobs."""

from __future__ import annotations

from typing import Protocol

from pix_runtime.db import Database
from pix_runtime.operations import LineSource, OperationsLine
from sqlalchemy import func, select

from pix_captioning.models import jobs, predictions
from pix_captioning.reliability import CircuitBreaker


class Workers(Protocol):
    @property
    def in_flight(self) -> int: ...


def caption_workers(
    db: Database, *, provider: str, concurrency: int, breaker: CircuitBreaker, workers: Workers
) -> LineSource:
    async def lines() -> list[OperationsLine]:
        async with db.sessions() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(predictions)
                .where(predictions.c.completed_at.is_(None))
            )
            running_jobs = await session.scalar(
                select(func.count()).select_from(jobs).where(jobs.c.status == "running")
            )
        return [
            OperationsLine(key="caption_workers", value=concurrency, detail=provider),
            OperationsLine(key="caption_running", value=workers.in_flight, detail=provider),
            OperationsLine(
                key="caption_circuit_open", value=1 if breaker.is_open else 0, detail=provider
            ),
            OperationsLine(key="caption_predictions_waiting", value=int(waiting or 0)),
            OperationsLine(key="caption_jobs_running", value=int(running_jobs or 0)),
        ]

    return lines
