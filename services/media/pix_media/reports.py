"""The analytics figures of media: photos processed per day.

Read from the assets table itself. A photo counts on the day (Berlin) it was uploaded; processed
means its renditions were stored (processed or captioned since), rejected that it was not usable.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pix_runtime.db import Database
from pix_runtime.identity import Identity, report_scope
from pydantic import BaseModel
from sqlalchemy import text

# A year of every organisation is ~500k photos: they are counted per UTC hour first (`date_bin`,
# plain arithmetic) and only the hours are turned into Berlin days, since converting each row's
# time to Berlin time cost more than the rest of the query (Berlin's offset is whole hours, so an
# hour never straddles two days). JIT is off: compiling took longer than the query.
NO_JIT = text("SET LOCAL jit = off")
DAILY = text(
    """
    SELECT to_char(timezone('Europe/Berlin', hour), 'YYYY-MM-DD') AS day,
           coalesce(sum(n) FILTER (WHERE status IN ('processed', 'captioned')), 0)::bigint
               AS processed,
           coalesce(sum(n) FILTER (WHERE status IN ('rejected', 'failed')), 0)::bigint
               AS rejected
    FROM (
        SELECT date_bin('1 hour', created_at, TIMESTAMPTZ '2000-01-03 00:00Z') AS hour,
               status, count(*) AS n
        FROM media.assets
        WHERE created_at >= :since AND (CAST(:org_id AS uuid) IS NULL OR org_id = :org_id)
        GROUP BY 1, 2
    ) hourly
    GROUP BY 1 ORDER BY 1
    """
)


class DayPhotos(BaseModel):
    day: str
    processed: int
    rejected: int


class MediaReports:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def photos_per_day(
        self, caller: Identity, org_id: uuid.UUID | None, since: datetime
    ) -> list[DayPhotos]:
        params = {"since": since, "org_id": report_scope(caller, org_id)}
        async with self._db.sessions() as session:
            await session.execute(NO_JIT)
            rows = (await session.execute(DAILY, params)).all()
        return [
            DayPhotos(day=r.day, processed=int(r.processed), rejected=int(r.rejected)) for r in rows
        ]
