"""The client's mail about a delivered gallery: "ready" once, then "updated", throttled.

Only delivered export versions (`delivery` set) are mailed; interim previews never are. Each
delivered version is remembered per gallery (`gallery_mail`), and one job per gallery (key: the
gallery id) mails the latest of them:
- the first mail of a gallery is "gallery ready" (idempotency key per gallery: one, ever);
- later delivered versions (a photo added, a caption edited) become one "gallery updated" mail
  no sooner than `gallery_update_interval_seconds` after the gallery's previous mail, with the
  version that is latest when it goes out. Versions that arrive meanwhile wait for that job.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from pix_contracts import GalleryExported
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.i18n import format_moment
from pix_runtime.inbox import first_delivery
from pix_runtime.jobs import JobContext, enqueue_job
from pix_runtime.logging import get_logger
from pydantic import BaseModel
from sqlalchemy import RowMapping, case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_notify.delivery import Courier
from pix_notify.models import gallery_mail, inbox, jobs, recipients
from pix_notify.providers import Mail

CONSUMER = "notify"
GALLERY_MAIL = "notify.gallery-mail"
log = get_logger(__name__)


class GalleryMailDue(BaseModel):
    gallery_id: uuid.UUID


class GalleryMailer:
    def __init__(
        self,
        db: Database,
        courier: Courier,
        render: Callable[..., Mail],
        *,
        clock: Clock,
        update_interval: timedelta,
    ) -> None:
        self._db = db
        self._courier = courier
        self._render = render
        self._clock = clock
        self._interval = update_interval

    async def exported(self, event: GalleryExported) -> None:
        """Remember a delivered version and make sure a mail job is due for it."""
        if event.delivery is None:
            return
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            upsert = insert(gallery_mail).values(
                gallery_id=event.gallery_id,
                org_id=event.org_id,
                latest_version=event.version,
                latest_export=event.model_dump(mode="json"),
            )
            row = (
                (
                    await session.execute(
                        upsert.on_conflict_do_update(
                            index_elements=[gallery_mail.c.gallery_id],
                            set_={
                                "latest_version": func.greatest(
                                    gallery_mail.c.latest_version, upsert.excluded.latest_version
                                ),
                                "latest_export": case(
                                    (
                                        upsert.excluded.latest_version
                                        > gallery_mail.c.latest_version,
                                        upsert.excluded.latest_export,
                                    ),
                                    else_=gallery_mail.c.latest_export,
                                ),
                            },
                        ).returning(*gallery_mail.c)
                    )
                )
                .mappings()
                .one()
            )
            await self._schedule(session, row)

    async def _schedule(self, session: AsyncSession, row: RowMapping) -> None:
        mailed = row["mailed_version"]
        if mailed is not None and row["latest_version"] <= mailed:
            return
        await enqueue_job(
            session,
            jobs,
            GALLERY_MAIL,
            GalleryMailDue(gallery_id=row["gallery_id"]),
            run_at=self._due(row["last_mailed_at"]),
            key=str(row["gallery_id"]),
        )

    def _due(self, last_mailed_at: datetime | None) -> datetime:
        now = self._clock.now()
        if last_mailed_at is None:
            return now
        return max(now, last_mailed_at + self._interval)

    async def send(self, payload: GalleryMailDue, ctx: JobContext) -> None:
        """The job: mail the latest delivered version, if the client has not had it."""
        async with self._db.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(gallery_mail).where(gallery_mail.c.gallery_id == payload.gallery_id)
                    )
                )
                .mappings()
                .first()
            )
            who = (
                (
                    await session.execute(
                        select(recipients).where(recipients.c.gallery_id == payload.gallery_id)
                    )
                )
                .mappings()
                .first()
            )
        if row is None or (
            row["mailed_version"] is not None and row["latest_version"] <= row["mailed_version"]
        ):
            return
        if who is None:
            # The order event has not arrived yet; the job's retries let it catch up.
            raise LookupError(f"no recipient known for gallery {payload.gallery_id}")
        export = GalleryExported.model_validate(row["latest_export"])
        first = row["ready_mailed_at"] is None
        kind = "gallery_ready" if first else "gallery_updated"
        # `<what>:<kind>` like every other mail (the dev outbox names its files after it).
        key = (
            f"{export.gallery_id}:{kind}"
            if first
            else f"{export.gallery_id}:v{export.version}:{kind}"
        )
        expires = min(f.url_expires_at for f in export.files) if export.files else None
        mail = self._render(
            kind,
            who["locale"],
            who["email"],
            name=who["name"],
            reference=who["reference"],
            asset_count=export.asset_count,
            version=export.version,
            files=export.files,
            expires=format_moment(expires, who["locale"]) if expires else "-",
        )
        # Idempotent by key: a crash after this and before the commit below sends nothing twice.
        await self._courier.deliver(key, kind, mail, who["locale"], export.org_id)
        async with self._db.transaction() as session:
            now = self._clock.now()
            current = (
                (
                    await session.execute(
                        update(gallery_mail)
                        .where(gallery_mail.c.gallery_id == payload.gallery_id)
                        .values(
                            mailed_version=func.greatest(
                                func.coalesce(gallery_mail.c.mailed_version, 0), export.version
                            ),
                            ready_mailed_at=func.coalesce(gallery_mail.c.ready_mailed_at, now),
                            last_mailed_at=now,
                        )
                        .returning(*gallery_mail.c)
                    )
                )
                .mappings()
                .one()
            )
            # Done first, so a newer version that arrived meanwhile gets its own (later) job.
            await ctx.finish(session)
            await self._schedule(session, current)
        log.info(
            "mail.gallery", kind=kind, gallery_id=str(export.gallery_id), version=export.version
        )
