"""The analytics figures of captioning per provider: captions made, failures and the failure
rate, and the provider's latency p50/p95.

Read from this service's own tables. The latency is a prediction's time from start to completion
(`predictions`, kept for providers called with a webhook); a provider called synchronously has
no stored latency and shows none.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pix_runtime.db import Database
from pix_runtime.identity import Identity, report_scope
from pydantic import BaseModel
from sqlalchemy import text

# JIT is off for these short queries: compiling took longer than the query itself.
NO_JIT = text("SET LOCAL jit = off")
PER_PROVIDER = text(
    """
    WITH made AS (
        SELECT provider, count(*) AS captions FROM captioning.captions
        WHERE created_at >= :since AND (CAST(:org_id AS uuid) IS NULL OR org_id = :org_id)
        GROUP BY provider
    ), failed AS (
        SELECT provider, count(*) AS failures FROM captioning.failures
        WHERE kind = 'provider' AND created_at >= :since
          AND (CAST(:org_id AS uuid) IS NULL OR org_id = :org_id)
        GROUP BY provider
    ), latency AS (
        SELECT 'replicate' AS provider,
               percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY extract(epoch FROM completed_at - created_at)) AS p50,
               percentile_cont(0.95) WITHIN GROUP (
                   ORDER BY extract(epoch FROM completed_at - created_at)) AS p95
        FROM captioning.predictions
        WHERE completed_at IS NOT NULL AND created_at >= :since
          AND (CAST(:org_id AS uuid) IS NULL OR (event ->> 'org_id')::uuid = :org_id)
        HAVING count(*) > 0
    )
    SELECT coalesce(made.provider, failed.provider) AS provider,
           coalesce(made.captions, 0) AS captions,
           coalesce(failed.failures, 0) AS failures,
           latency.p50, latency.p95
    FROM made FULL JOIN failed ON failed.provider = made.provider
    LEFT JOIN latency ON latency.provider = coalesce(made.provider, failed.provider)
    ORDER BY 1
    """
)


class ProviderCaptions(BaseModel):
    provider: str
    captions: int
    failures: int
    failure_rate_percent: float
    latency_p50_seconds: float | None
    latency_p95_seconds: float | None


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


class CaptionReports:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def per_provider(
        self, caller: Identity, org_id: uuid.UUID | None, since: datetime
    ) -> list[ProviderCaptions]:
        params = {"since": since, "org_id": report_scope(caller, org_id)}
        async with self._db.sessions() as session:
            await session.execute(NO_JIT)
            rows = (await session.execute(PER_PROVIDER, params)).all()
        return [
            ProviderCaptions(
                provider=r.provider,
                captions=int(r.captions),
                failures=int(r.failures),
                failure_rate_percent=round(
                    100 * int(r.failures) / max(1, int(r.captions) + int(r.failures)), 1
                ),
                latency_p50_seconds=_seconds(r.p50),
                latency_p95_seconds=_seconds(r.p95),
            )
            for r in rows
        ]
