"""Captioning: turn an anonymised web rendition into bilingual marketing captions.

The caption is stored twice in storage — `<Pseudonym>.txt` for people, `<Pseudonym>.json` for
machines — and once in the database with its history (one row per version), then announced
as `CaptionReady`. A caption the guard holds (contact data, links, names) is stored with status
`needs_review`, not written to files, and announced as `CaptionFailed(needs_review=True)`;
an edit or a regeneration that passes the guard releases it. After the last provider retry the
asset lands in `failures` (and `CaptionFailed`), where admins see and retry it.

What is captioned is a `CaptionJob` (the photo version), made from the upload event or, for an
edit or a regeneration, from the latest caption. With Replicate and a webhook URL the worker
does not wait for the model: it starts a prediction and a webhook finishes it — see
`pix_captioning.predictions` (`CaptionDesk.predictions`), which writes its outcome through this
desk's `store_version` and `record_failure` (the `CaptionStore` it is given).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime
from typing import Annotated, Any

from pix_contracts import AssetDeleted, AssetUploaded, CaptionFailed, CaptionReady, CaptionText
from pix_runtime.clock import Clock
from pix_runtime.db import WAKE_AFTER_COMMIT, Database, NamedRow
from pix_runtime.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from pix_runtime.identity import Identity
from pix_runtime.inbox import first_delivery
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue, outbox_values
from pix_runtime.storage import LocalStorage, S3Storage
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pix_captioning.content import (
    CaptionJob,
    CaptionRejected,
    Produced,
    caption_document,
    caption_text_file,
    check_shape,
    guard_findings,
)
from pix_captioning.metrics import CAPTIONS, HANDLE_SECONDS, IN_FLIGHT, PROVIDER_LATENCY
from pix_captioning.models import CONSUMER, captions, failures, inbox, outbox, predictions
from pix_captioning.predictions import PredictionDesk, Settle
from pix_captioning.providers import CaptionRequest, Provider, ReplicateProvider
from pix_captioning.queries import CLAIM_AND_VERSION, SEEN_AND_LATEST, STORE_READY, VERSION
from pix_captioning.reliability import CircuitBreaker, GaveUp, RetryPolicy, call_with_retries

SOURCE = "/pix/captioning"
log = get_logger(__name__)


class CaptionVersion(BaseModel):
    """One stored version of an asset's caption."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    asset_id: uuid.UUID
    gallery_id: uuid.UUID
    org_id: uuid.UUID
    pseudonym: str
    asset_version: int
    caption_version: int
    # ready: files written and announced; needs_review: the guard holds it.
    status: str
    review_reason: str | None
    content: CaptionText
    model: str
    provider: str
    prompt_version: str
    edited: bool
    created_by: uuid.UUID | None
    created_at: datetime
    # The rendition the caption describes (None on versions from before regeneration).
    web_key: str | None
    txt_key: str
    json_key: str

    @classmethod
    def from_row(cls, row: NamedRow) -> CaptionVersion:
        return cls.model_validate({name: row[name] for name in cls.model_fields})

    def job(self) -> CaptionJob:
        """The photo version this caption is for, to write another version of its caption."""
        return CaptionJob(
            asset_id=self.asset_id,
            asset_version=self.asset_version,
            gallery_id=self.gallery_id,
            org_id=self.org_id,
            pseudonym=self.pseudonym,
            room_type=self.content.room_type,
            web_key=self.web_key or "",
        )


class CaptionEdit(BaseModel):
    """A human edit: only the fields that change; the rest is taken from the current version."""

    model_config = ConfigDict(extra="forbid")

    title_de: str | None = Field(default=None, min_length=1, max_length=30)
    title_en: str | None = Field(default=None, min_length=1, max_length=30)
    description_de: str | None = Field(default=None, min_length=1, max_length=1000)
    description_en: str | None = Field(default=None, min_length=1, max_length=1000)
    alt_text_de: str | None = Field(default=None, min_length=1, max_length=300)
    alt_text_en: str | None = Field(default=None, min_length=1, max_length=300)
    features: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(
        default=None, max_length=12
    )


class CaptionFailure(BaseModel):
    """An asset the workers gave up on (provider failures, a caption held for review)."""

    id: uuid.UUID
    asset_id: uuid.UUID
    asset_version: int
    gallery_id: uuid.UUID
    org_id: uuid.UUID
    pseudonym: str
    kind: str
    reason: str
    attempts: int
    provider: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


# Statement parameters (column name to value), not a value of the domain.
def _ready_params(row: dict[str, Any], ready: CaptionReady) -> dict[str, Any]:
    """`STORE_READY`'s parameters: the version's row (`c_…`) and its outbox row (`o_…`)."""
    return {
        **{f"c_{k}": v for k, v in row.items()},
        **{f"o_{k}": v for k, v in outbox_values(ready, source=SOURCE).items()},
    }


class CaptionDesk:
    def __init__(
        self,
        db: Database,
        storage: LocalStorage | S3Storage,
        provider: Provider,
        *,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Clock | None = None,
        webhook_grace_seconds: float = 60.0,
        prediction_timeout_seconds: float = 120.0,
    ) -> None:
        self._db = db
        # Plain reads on an autocommit connection: no BEGIN/ROLLBACK round trips.
        self._reads = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._storage = storage
        self.provider = provider
        self._policy = policy or RetryPolicy()
        # A person waits (regenerate, admin retry), or a webhook request does: fewer attempts.
        self._hurried = RetryPolicy(attempts=min(2, self._policy.attempts), base_seconds=0.5)
        self._breaker = breaker or CircuitBreaker(provider.name, threshold=5, reset_seconds=30)
        # A process stores one caption at a time. A store is a few milliseconds of work on the
        # event loop, and with concurrency the provider's answers come back in bursts (requests
        # started together, answers after the same time). Interleaved, every caption of a burst
        # is done only when the whole burst is; one after another, the first is done after one
        # store, the second after two: for jobs of equal size, first come first served has the
        # lower mean wait. The price is that stores do not overlap their own waits on the
        # database and storage: with S3, two PUTs a store, which still allows tens a second.
        self._storing = asyncio.Lock()
        # Only when the provider answers by webhook (Replicate with a webhook URL): then the
        # worker starts a prediction instead of waiting, and the webhook route and the
        # reconciler settle it. It shares the policies and breaker above.
        self.predictions: PredictionDesk | None = (
            PredictionDesk(
                self,
                db,
                provider,
                policy=self._policy,
                hurried=self._hurried,
                breaker=self._breaker,
                clock=clock or Clock(),
                grace_seconds=webhook_grace_seconds,
                timeout_seconds=prediction_timeout_seconds,
            )
            if isinstance(provider, ReplicateProvider) and provider.webhook_url
            else None
        )

    async def warm_up(self, connections: int) -> None:
        """Open `connections` database connections and prepare the first read on each.

        Otherwise the first burst of events pays for connecting (and asyncpg's per-connection
        statement preparation) while it is being handled.
        """
        everyone = asyncio.Barrier(connections)
        params = {"event_id": uuid.uuid4(), "asset_id": uuid.uuid4(), "asset_version": 0}

        async def one() -> None:
            async with self._reads.connect() as conn:
                await conn.execute(SEEN_AND_LATEST, params)
                await everyone.wait()  # hold it until all are open, so they are distinct

        await asyncio.gather(*(one() for _ in range(connections)))

    # --- deletion -------------------------------------------------------------------------------

    async def forget_asset(self, event: AssetDeleted) -> None:
        """A deleted photo's captions go too: every version's files, rows and failures."""
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                return
            keys = (
                await session.execute(
                    delete(captions)
                    .where(captions.c.asset_id == event.asset_id)
                    .returning(captions.c.txt_key, captions.c.json_key)
                )
            ).all()
            await session.execute(delete(failures).where(failures.c.asset_id == event.asset_id))
            # A webhook still to come finds no prediction and changes nothing.
            running = (
                await session.execute(
                    delete(predictions)
                    .where(predictions.c.asset_id == event.asset_id)
                    .returning(predictions.c.id, predictions.c.completed_at)
                )
            ).all()
        # Files after the commit: a crash in between leaves files without rows, never the
        # reverse (a caption row pointing at deleted files).
        for txt_key, json_key in {tuple(k) for k in keys}:
            for key in (txt_key, json_key):
                if key:
                    await self._storage.delete(key)
        if self.predictions is not None:  # the model need not run on for a deleted photo
            await self.predictions.cancel([id_ for id_, done in running if done is None])
        log.info("caption.forgotten", asset_id=str(event.asset_id), versions=len(keys))

    # --- the upload event ---------------------------------------------------------------------

    async def caption_asset(self, event: AssetUploaded) -> None:
        """Caption one uploaded photo; the provider runs once per asset version.

        A redelivered event is a no-op; a new announcement of an asset version that already has
        a caption (media's reconciler) re-announces that caption without captioning again.
        """
        if event.kind != "photo":
            # Floor plans and videos are deliverables, not rooms: media never announces them,
            # and a caption of one would put a plan's lines in a listing as a room's text.
            log.warning("caption.not_a_photo", asset_id=str(event.asset_id), kind=event.kind)
            return
        started = time.perf_counter()
        IN_FLIGHT.inc()
        job = CaptionJob.of(event)
        try:
            seen, existing = await self._seen_and_latest(event)
            if seen:
                # Handled before (a redelivery after a failure, say): never call the provider.
                log.info("caption.redelivery_ignored", asset_id=str(event.asset_id))
                return
            if existing is not None:
                await self._announce_again(event, existing)
                return
            if self.predictions is not None:
                await self.predictions.start(job, event.event_id)
                return
            try:
                produced = await self._produce(job, self._policy)
            except GaveUp as exc:
                await self.record_failure(
                    job, str(exc.last), exc.attempts, inbox_event=event.event_id
                )
                return
            try:
                await self._store(job, produced, edited=False, by=None, inbox_event=event.event_id)
            except Conflict as exc:
                if exc.code != "duplicate":
                    raise
                # Two deliveries raced past the first check; the other one stored it.
                log.info("caption.redelivery_ignored", asset_id=str(event.asset_id))
        finally:
            IN_FLIGHT.dec()
            HANDLE_SECONDS.labels(self.provider.name).observe(time.perf_counter() - started)

    async def _produce(self, job: CaptionJob, policy: RetryPolicy) -> Produced:
        request = CaptionRequest.of(job)
        provider = self.provider

        async def call() -> CaptionText:
            t0 = time.perf_counter()
            outcome = "error"
            try:
                result = await provider.caption(request)
                outcome = "ok"
                return result
            finally:
                PROVIDER_LATENCY.labels(provider.name, outcome).observe(time.perf_counter() - t0)

        caption, _ = await call_with_retries(call, policy=policy, breaker=self._breaker)
        return Produced(caption, provider.model, provider.name, provider.prompt_version)

    # --- storing a version --------------------------------------------------------------------

    async def store_version(self, job: CaptionJob, produced: Produced, *, settles: Settle) -> None:
        """A version from a prediction (`CaptionStore`): `settles` runs in its transaction."""
        await self._store(job, produced, edited=False, by=None, settles=settles)

    async def _store(
        self,
        job: CaptionJob,
        produced: Produced,
        *,
        edited: bool,
        by: uuid.UUID | None,
        inbox_event: uuid.UUID | None = None,
        settles: Settle | None = None,
    ) -> CaptionVersion:
        """Write one caption version: files (unless held for review), row, event — or nothing.

        `inbox_event` / `settles`: the upload event or the prediction this version finishes;
        if it was handled before, nothing is written (`Conflict("duplicate")`).
        """
        findings = guard_findings(produced.caption)
        async with self._storing, self._db.transaction() as session:
            # One round trip: claim the event in the inbox (waits for a concurrent delivery of
            # it to commit or roll back) and read the asset's latest version number.
            first, latest = (
                await session.execute(
                    CLAIM_AND_VERSION if inbox_event is not None else VERSION,
                    {"event_id": inbox_event, "asset_id": job.asset_id},
                )
            ).one()
            if not first:
                raise Conflict("duplicate", "event already handled")
            if settles is not None and not await settles(session):
                raise Conflict("duplicate", "prediction already settled")
            row, ready = self._version(job, produced, latest + 1, findings, edited=edited, by=by)
            try:
                if findings:
                    statement = captions.insert().values(**row).returning(captions)
                    result = await session.execute(statement)
                else:
                    result = await session.execute(STORE_READY, _ready_params(row, ready))
                stored = CaptionVersion.from_row(result.mappings().one())
            except IntegrityError as exc:
                raise Conflict("concurrent_edit", "the caption changed meanwhile") from exc
            if findings:
                reason = "needs_review: " + ", ".join(findings)
                await self._upsert_failure(
                    session, job, kind="needs_review", reason=reason, attempts=1
                )
                await enqueue(session, outbox, self._failed(job, reason, 1, True), source=SOURCE)
            else:
                session.info[WAKE_AFTER_COMMIT] = True
                await self._write_files(job, produced, row)
        CAPTIONS.labels(produced.provider, stored.status).inc()
        log.info(
            "caption.stored",
            asset_id=str(job.asset_id),
            version=stored.caption_version,
            status=stored.status,
        )
        return stored

    @staticmethod
    def _version(
        job: CaptionJob,
        produced: Produced,
        version: int,
        findings: list[str],
        *,
        edited: bool,
        by: uuid.UUID | None,
    ) -> tuple[dict[str, Any], CaptionReady]:
        """The row of a new caption version (the values to insert), and the event that announces
        it once ready."""
        base = f"captions/{job.gallery_id}/{job.pseudonym}"
        row = {
            "id": uuid.uuid4(),
            "asset_id": job.asset_id,
            "asset_version": job.asset_version,
            "caption_version": version,
            "gallery_id": job.gallery_id,
            "org_id": job.org_id,
            "pseudonym": job.pseudonym,
            "content": produced.caption.model_dump(),
            "model": produced.model,
            "provider": produced.provider,
            "prompt_version": produced.prompt_version,
            "edited": edited,
            "status": "needs_review" if findings else "ready",
            "review_reason": ", ".join(findings) or None,
            "created_by": by,
            "web_key": job.web_key,
            "txt_key": f"{base}.txt",
            "json_key": f"{base}.json",
        }
        ready = CaptionReady(
            asset_id=job.asset_id,
            gallery_id=job.gallery_id,
            org_id=job.org_id,
            asset_version=job.asset_version,
            caption_version=version,
            pseudonym=job.pseudonym,
            caption=produced.caption,
            model=produced.model,
            provider=produced.provider,
            prompt_version=produced.prompt_version,
            edited=edited,
            txt_key=row["txt_key"],
            json_key=row["json_key"],
            web_key=job.web_key,
        )
        return row, ready

    async def _write_files(self, job: CaptionJob, produced: Produced, row: dict[str, Any]) -> None:
        """The `.json` and `.txt` of a ready version, last inside its transaction: if writing
        fails the transaction rolls back and nothing is announced; the files of a later version
        overwrite these (same keys). Only the delivery that claimed the inbox row gets here."""
        document = caption_document(
            produced.caption,
            pseudonym=job.pseudonym,
            version=row["caption_version"],
            model=produced.model,
            provider=produced.provider,
            prompt_version=produced.prompt_version,
            edited=row["edited"],
        )
        await self._storage.put_bytes(
            row["json_key"],
            json.dumps(document, ensure_ascii=False, indent=2).encode(),
            "application/json",
        )
        await self._storage.put_bytes(
            row["txt_key"],
            caption_text_file(job.pseudonym, produced.caption).encode(),
            "text/plain",
        )

    async def record_failure(
        self,
        job: CaptionJob,
        reason: str,
        attempts: int,
        *,
        inbox_event: uuid.UUID | None = None,
        settles: Settle | None = None,
    ) -> bool:
        """List the asset for admins and announce `CaptionFailed`; False if the upload event
        (`inbox_event`) or the prediction (`settles`) was handled before."""
        log.warning("caption.failed", asset_id=str(job.asset_id), reason=reason[:200])
        async with self._db.transaction() as session:
            if inbox_event and not await first_delivery(
                session, inbox, consumer=CONSUMER, event_id=inbox_event
            ):
                return False
            if settles is not None and not await settles(session):
                return False
            await self._upsert_failure(
                session, job, kind="provider", reason=reason, attempts=attempts
            )
            await enqueue(
                session, outbox, self._failed(job, reason, attempts, False), source=SOURCE
            )
        return True

    async def _upsert_failure(
        self, session: AsyncSession, job: CaptionJob, *, kind: str, reason: str, attempts: int
    ) -> None:
        values: dict[str, Any] = {
            "kind": kind,
            "reason": reason[:500],
            "attempts": attempts,
            "provider": self.provider.name,
            "event": job.model_dump(mode="json"),
        }
        stmt = insert(failures).values(
            id=uuid.uuid4(),
            asset_id=job.asset_id,
            asset_version=job.asset_version,
            gallery_id=job.gallery_id,
            org_id=job.org_id,
            pseudonym=job.pseudonym,
            **values,
        )
        await session.execute(
            stmt.on_conflict_do_update(
                constraint="failures_asset_version",
                set_={
                    **values,
                    "attempts": failures.c.attempts + attempts,
                    "updated_at": func.now(),
                    "resolved_at": None,
                },
            )
        )

    @staticmethod
    def _failed(job: CaptionJob, reason: str, attempts: int, needs_review: bool) -> CaptionFailed:
        return CaptionFailed(
            asset_id=job.asset_id,
            gallery_id=job.gallery_id,
            org_id=job.org_id,
            asset_version=job.asset_version,
            pseudonym=job.pseudonym,
            reason=reason[:500],
            attempts=attempts,
            needs_review=needs_review,
        )

    async def _announce_again(self, event: AssetUploaded, row: NamedRow) -> None:
        async with self._db.transaction() as session:
            if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                log.info("caption.redelivery_ignored", asset_id=str(event.asset_id))
                return
            if row["status"] != "ready":
                return  # held for review: nothing to re-announce until someone releases it
            await enqueue(
                session,
                outbox,
                CaptionReady(
                    asset_id=row["asset_id"],
                    gallery_id=row["gallery_id"],
                    org_id=row["org_id"],
                    asset_version=row["asset_version"],
                    caption_version=row["caption_version"],
                    pseudonym=row["pseudonym"],
                    caption=CaptionText.model_validate(row["content"]),
                    model=row["model"],
                    provider=row["provider"],
                    prompt_version=row["prompt_version"],
                    edited=row["edited"],
                    txt_key=row["txt_key"],
                    json_key=row["json_key"],
                    web_key=event.web_key,
                ),
                source=SOURCE,
            )
        log.info("caption.announced_again", asset_id=str(event.asset_id))

    # --- reads --------------------------------------------------------------------------------

    async def _latest(self, asset_id: uuid.UUID) -> CaptionVersion | None:
        query = select(captions).where(captions.c.asset_id == asset_id)
        async with self._db.sessions() as session:
            result = await session.execute(
                query.order_by(captions.c.caption_version.desc()).limit(1)
            )
            row = result.mappings().first()
        return None if row is None else CaptionVersion.from_row(row)

    async def _seen_and_latest(self, event: AssetUploaded) -> tuple[bool, NamedRow | None]:
        """Whether the event was handled before, else this asset version's latest caption.

        One statement outside a transaction: a plain read needs no BEGIN/COMMIT.
        """
        params = {
            "event_id": event.event_id,
            "asset_id": event.asset_id,
            "asset_version": event.version,
        }
        async with self._reads.connect() as conn:
            row = (await conn.execute(SEEN_AND_LATEST, params)).mappings().one()
        if row["pix_seen"]:
            return True, None
        return False, row if row["id"] is not None else None

    async def current(self, asset_id: uuid.UUID, by: Identity) -> CaptionVersion:
        latest = await self._latest(asset_id)
        if latest is None or not by.may_access(latest.org_id):
            raise NotFound("caption")
        return latest

    async def history(self, asset_id: uuid.UUID, by: Identity) -> list[CaptionVersion]:
        await self.current(asset_id, by)
        async with self._db.sessions() as session:
            result = await session.execute(
                select(captions)
                .where(captions.c.asset_id == asset_id)
                .order_by(captions.c.caption_version.desc())
            )
            return [CaptionVersion.from_row(row) for row in result.mappings()]

    async def gallery(self, gallery_id: uuid.UUID, by: Identity) -> list[CaptionVersion]:
        """The latest version of every captioned asset of a gallery; NotFound when the caller
        sees none (another organisation's gallery answers as an unknown one, never `[]`)."""
        newer = captions.alias("newer")
        query = select(captions).where(
            captions.c.gallery_id == gallery_id,
            ~select(newer.c.id)
            .where(
                newer.c.asset_id == captions.c.asset_id,
                newer.c.caption_version > captions.c.caption_version,
            )
            .exists(),
        )
        if not by.is_admin:
            query = query.where(captions.c.org_id == by.org_id)
        async with self._db.sessions() as session:
            found = sorted(
                (CaptionVersion.from_row(row) for row in (await session.execute(query)).mappings()),
                key=lambda version: version.pseudonym,
            )
        if not found:
            raise NotFound("gallery")
        return found

    # --- editing and regenerating ---------------------------------------------------------------

    async def edit(self, asset_id: uuid.UUID, changes: CaptionEdit, by: Identity) -> CaptionVersion:
        """A human edit: a new version with `edited=True`; it must pass shape and guard."""
        current = await self.current(asset_id, by)
        merged = {**current.content.model_dump(), **changes.model_dump(exclude_none=True)}
        try:
            caption = CaptionText.model_validate(merged)
            check_shape(caption)
        except (ValueError, CaptionRejected) as exc:
            raise Invalid("invalid_caption", str(exc)[:300]) from exc
        findings = guard_findings(caption)
        if findings:
            raise Invalid("caption_rejected", "captions must not contain " + ", ".join(findings))
        produced = Produced(caption, current.model, current.provider, current.prompt_version)
        return await self._store(current.job(), produced, edited=True, by=by.user_id)

    async def regenerate(self, asset_id: uuid.UUID, by: Identity) -> CaptionVersion:
        """Run the provider again on demand; the result is a new, unedited version."""
        current = await self.current(asset_id, by)
        if not current.web_key:
            raise Conflict("no_rendition", "this caption predates regeneration support")
        return await self._run_now(current.job(), by)

    async def _run_now(self, job: CaptionJob, by: Identity) -> CaptionVersion:
        # A person waits for the answer: fewer attempts than the background worker makes, and
        # a Replicate prediction is polled, not left to the webhook.
        try:
            produced = await self._produce(job, self._hurried)
        except GaveUp as exc:
            async with self._db.transaction() as session:
                await self._upsert_failure(
                    session, job, kind="provider", reason=str(exc.last), attempts=exc.attempts
                )
            raise Unavailable("provider_failed", f"captioning failed: {exc.last}") from exc
        return await self._store(job, produced, edited=False, by=by.user_id)

    # --- failures (admin) -----------------------------------------------------------------------

    async def failures(
        self, by: Identity, *, include_resolved: bool = False
    ) -> list[CaptionFailure]:
        if not by.is_admin:
            raise Forbidden()
        query = select(failures).order_by(failures.c.updated_at.desc()).limit(500)
        if not include_resolved:
            query = query.where(failures.c.resolved_at.is_(None))
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).mappings()
            return [CaptionFailure.model_validate(row) for row in rows]

    async def retry_failure(self, failure_id: uuid.UUID, by: Identity) -> CaptionVersion:
        if not by.is_admin:
            raise Forbidden()
        async with self._db.sessions() as session:
            row = (
                (await session.execute(select(failures).where(failures.c.id == failure_id)))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound("failure")
        if row["resolved_at"] is not None:
            raise Conflict("resolved", "this failure is already resolved")
        return await self._run_now(CaptionJob.model_validate(row["event"]), by)
