"""Replicate's webhook flow: the worker starts a prediction and does not wait for the model.

With Replicate and a webhook URL (PIX_CAPTION_REPLICATE_WEBHOOK_URL) a caption is made in steps
that may run on different captioning instances:

1. Start (`PredictionDesk.start`, from the upload event). The worker creates a prediction whose
   `completed` webhook points at our public route, records it in `captioning.predictions`
   (claiming the event in the inbox in the same transaction) and returns, so its concurrency
   slot and the event's offset are free while the model runs — seconds, minutes on a cold start.
2. Settle (`PredictionDesk.settle`, from the webhook). The webhook may reach any instance: the
   row holds the `CaptionJob`, so settling needs nothing else — a caption version with its
   `CaptionReady`, a repair prediction for a malformed answer, the next attempt for a failed
   prediction (a `captioning.prediction-retry` job after the retry policy's backoff, so the
   webhook is answered at once), or after the last one the failure with its `CaptionFailed`.
   Settling marks the row (`completed_at`) in the same transaction as its effect, with
   `UPDATE … WHERE completed_at IS NULL`: a replayed or concurrent webhook finds it settled and
   does nothing, so each prediction is settled exactly once.
3. Reconcile (`PredictionDesk.reconcile`, a periodic job, once across the instances). A webhook
   that never comes (lost, or ahead of the row's commit) is made up by asking Replicate about
   predictions open past the grace period and settling them the same way; one running past the
   timeout is cancelled and retried. Media's reconciler re-announces what is still uncaptioned
   after that.
4. Deleting the photo deletes its rows and cancels its running predictions at Replicate.

The worker waiting on the row (LISTEN/NOTIFY or polling our database) was not chosen: it would
hold a slot per running prediction exactly as polling Replicate does, which is what webhooks
are for.

Writing a caption version or a failure is the caption store's business (`CaptionStore`, the
`CaptionDesk`): it gets the settling of the prediction as a step to run inside its own
transaction (`settles`), and knows nothing else of predictions; this module knows nothing of
the store but that interface.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol

from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import Conflict, DomainError, Unavailable
from pix_runtime.inbox import first_delivery
from pix_runtime.jobs import JobContext, enqueue_job
from pix_runtime.logging import get_logger
from pydantic import BaseModel
from sqlalchemy import RowMapping, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pix_captioning.content import CaptionJob, CaptionRejected, Produced, parse_caption
from pix_captioning.metrics import FAILURES, PROVIDER_LATENCY
from pix_captioning.models import CONSUMER, inbox, jobs, predictions
from pix_captioning.providers import BadWebhook, CaptionRequest, PredictionState, ReplicateProvider
from pix_captioning.reliability import (
    CircuitBreaker,
    GaveUp,
    Permanent,
    ProviderError,
    RetryPolicy,
    call_with_retries,
)

log = get_logger(__name__)

RETRY = "captioning.prediction-retry"

# Run by the store inside the transaction that writes what settling does; False: the prediction
# was settled before (a replayed webhook), so nothing may be written.
Settle = Callable[[AsyncSession], Awaitable[bool]]


class CaptionStore(Protocol):
    """Where the outcome of a prediction is written (the `CaptionDesk`)."""

    async def store_version(self, job: CaptionJob, produced: Produced, *, settles: Settle) -> None:
        """A caption version; `Conflict("duplicate")` if `settles` says it was settled."""

    async def record_failure(
        self,
        job: CaptionJob,
        reason: str,
        attempts: int,
        *,
        inbox_event: uuid.UUID | None = None,
        settles: Settle | None = None,
    ) -> bool:
        """List the photo as failed and announce it; False if handled before."""
        ...


class PredictionRetry(BaseModel):
    """The next attempt after a failed prediction, once its backoff is over."""

    prediction_id: str
    status: str
    error: str


class InvalidSignature(DomainError):
    status = 401

    def __init__(self, reason: str) -> None:
        super().__init__("invalid_signature", f"the webhook does not verify: {reason}")


async def settle_row(session: AsyncSession, state: PredictionState, outcome: str) -> bool:
    """Mark the prediction settled; False if it already was (a replayed webhook).

    Runs in the transaction of what settling does (a caption version, a failure, the next
    prediction), so the mark and its effect commit together or not at all.
    """
    result = await session.execute(
        update(predictions)
        .where(predictions.c.id == state.id, predictions.c.completed_at.is_(None))
        .values(
            status=state.status,
            outcome=outcome,
            output=state.output or None,
            error=state.error[:500] if state.error else None,
            completed_at=func.now(),
        )
        .returning(predictions.c.id)
    )
    return result.first() is not None


async def _record(
    session: AsyncSession, prediction_id: str, job: CaptionJob, attempt: int, kind: str
) -> None:
    """An open prediction; it keeps the caption job so any instance can settle it."""
    await session.execute(
        predictions.insert().values(
            id=prediction_id,
            asset_id=job.asset_id,
            asset_version=job.asset_version,
            attempt=attempt,
            kind=kind,
            event=job.model_dump(mode="json"),
        )
    )


class PredictionDesk:
    """The webhook flow (see the module docstring).

    It exists only when Replicate answers by webhook. It uses the store's retry policies and
    circuit breaker — one provider, one breaker, whether the worker waits for a caption or a
    webhook brings it — and writes through the store, so a caption or a failure from a
    prediction is stored exactly like one made while waiting.
    """

    def __init__(
        self,
        store: CaptionStore,
        db: Database,
        provider: ReplicateProvider,
        *,
        policy: RetryPolicy,
        hurried: RetryPolicy,
        breaker: CircuitBreaker,
        clock: Clock,
        grace_seconds: float,
        timeout_seconds: float,
    ) -> None:
        self._store = store
        self._db = db
        self._provider = provider
        # Plain reads on an autocommit connection: no BEGIN/ROLLBACK round trips.
        self._reads = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._policy = policy  # the worker's: nobody waits for a prediction to start
        self._hurried = hurried  # a webhook request waits for the follow-up to start
        self._breaker = breaker
        self._clock = clock
        self._grace = timedelta(seconds=grace_seconds)
        self._timeout = timeout_seconds

    async def start(self, job: CaptionJob, event_id: uuid.UUID) -> None:
        """Start the photo version's prediction and record it with the upload event's inbox
        row (`event_id`); the webhook finishes it."""
        provider = self._provider
        if await self._open_for(job):
            # Media re-announced an asset whose prediction still runs: it will be announced.
            async with self._db.transaction() as session:
                await first_delivery(session, inbox, consumer=CONSUMER, event_id=event_id)
            log.info("caption.prediction_pending", asset_id=str(job.asset_id))
            return
        request = CaptionRequest.of(job)
        try:
            prediction_id, _ = await call_with_retries(
                lambda: provider.start(request), policy=self._policy, breaker=self._breaker
            )
        except GaveUp as exc:
            await self._store.record_failure(job, str(exc.last), exc.attempts, inbox_event=event_id)
            return
        async with self._db.transaction() as session:
            first = await first_delivery(session, inbox, consumer=CONSUMER, event_id=event_id)
            if first:
                await _record(session, prediction_id, job, 1, "caption")
        if not first:
            await provider.cancel(prediction_id)  # a concurrent delivery started its own
            return
        log.info("caption.prediction_started", asset_id=str(job.asset_id), id=prediction_id)

    async def _open_for(self, job: CaptionJob) -> bool:
        """Whether a prediction of this asset version still runs (not settled yet)."""
        query = select(
            exists().where(
                predictions.c.asset_id == job.asset_id,
                predictions.c.asset_version == job.asset_version,
                predictions.c.completed_at.is_(None),
            )
        )
        async with self._reads.connect() as conn:
            return bool(await conn.scalar(query))

    async def receive_webhook(self, headers: Mapping[str, str], body: bytes) -> str:
        """Verify a webhook from Replicate and settle its prediction; what that did."""
        try:
            state = await self._provider.verify_webhook(headers, body)
        except BadWebhook as exc:
            log.warning("caption.webhook_refused", reason=str(exc))
            raise InvalidSignature(str(exc)) from exc
        except ProviderError as exc:  # the signing secret could not be fetched: retry later
            raise Unavailable("webhook_secret", "the webhook secret is unavailable") from exc
        outcome = await self.settle(state)
        log.info("caption.webhook", id=state.id, status=state.status, outcome=outcome)
        return outcome

    async def _row(self, prediction_id: str) -> RowMapping | None:
        async with self._reads.connect() as conn:
            query = select(predictions).where(predictions.c.id == prediction_id)
            return (await conn.execute(query)).mappings().first()

    async def settle(self, state: PredictionState) -> str:
        """Finish what a completed prediction started, once. Returns what happened:
        stored, repair, retry, failed; duplicate (settled before), unknown, running."""
        provider = self._provider
        if not state.finished:
            return "running"
        row = await self._row(state.id)
        if row is None:
            return "unknown"  # not ours, its asset deleted, or its row not committed yet
        if row["completed_at"] is not None:
            return "duplicate"
        job = CaptionJob.model_validate(row["event"])
        took = (datetime.now(UTC) - row["created_at"]).total_seconds()
        ok = state.status == "succeeded"
        PROVIDER_LATENCY.labels(provider.name, "ok" if ok else "error").observe(took)
        if not ok:
            # Usually a transient GPU or cold-start problem: the next attempt, up to the limit.
            FAILURES.labels(provider.name, "retryable").inc()
            self._breaker.failure()
            if row["attempt"] < self._policy.attempts:
                await self._retry_later(state, row["attempt"])
                return "retry"
            reason = f"prediction {state.status}: {state.error or ''}"
            return await self._give_up(state, job, reason, row["attempt"])
        self._breaker.success()
        try:
            caption = parse_caption(state.output, job.room_type)
        except CaptionRejected as exc:
            if row["kind"] == "caption":  # ask once more, saying what was wrong
                return await self._follow_up(state, job, row["attempt"], problem=str(exc))
            FAILURES.labels(provider.name, Permanent.kind).inc()
            return await self._give_up(state, job, f"malformed model output: {exc}", row["attempt"])
        produced = Produced(caption, provider.model, provider.name, provider.prompt_version)
        try:
            await self._store.store_version(
                job, produced, settles=partial(settle_row, state=state, outcome="stored")
            )
        except Conflict as exc:
            if exc.code != "duplicate":
                raise
            return "duplicate"
        return "stored"

    async def _retry_later(self, state: PredictionState, attempt: int) -> None:
        """The next attempt as a job after the policy's backoff, so the webhook is answered at
        once. The failed prediction stays open until the next one is recorded: if that never
        happens, the reconciler finds it after the grace period and settles it again. The job's
        key is the failed prediction: a replayed webhook schedules nothing more."""
        delay = self._policy.delay(attempt, None)
        retry = PredictionRetry(prediction_id=state.id, status=state.status, error=state.error)
        async with self._db.transaction() as session:
            scheduled = await enqueue_job(
                session,
                jobs,
                RETRY,
                retry,
                run_at=self._clock.now() + timedelta(seconds=delay),
                key=state.id,
            )
        if scheduled:
            log.info("caption.retry_scheduled", id=state.id, seconds=round(delay, 2))

    async def retry(self, retry: PredictionRetry, ctx: JobContext) -> None:
        """The `captioning.prediction-retry` job: the next attempt, unless the failed prediction
        was settled meanwhile (the reconciler) or its photo deleted."""
        row = await self._row(retry.prediction_id)
        if row is None or row["completed_at"] is not None:
            return
        state = PredictionState(retry.prediction_id, retry.status, "", retry.error)
        await self._follow_up(
            state, CaptionJob.model_validate(row["event"]), row["attempt"] + 1, problem=None
        )

    async def cancel(self, prediction_ids: list[str]) -> None:
        """Cancel running predictions at Replicate (their photo is gone); best effort: a
        prediction that still finishes sends a webhook that finds nothing to settle, and a
        retry job finds nothing to retry."""
        for prediction_id in prediction_ids:
            await self._provider.cancel(prediction_id)

    async def _follow_up(
        self,
        state: PredictionState,
        job: CaptionJob,
        attempt: int,
        *,
        problem: str | None,
    ) -> str:
        """A repair prediction (`problem` given) or the next attempt; this one is settled."""
        provider = self._provider
        request = CaptionRequest.of(job)
        try:
            next_id, _ = await call_with_retries(
                lambda: provider.start(request, problem=problem),
                policy=self._hurried,
                breaker=self._breaker,
            )
        except GaveUp as exc:
            return await self._give_up(state, job, str(exc.last), attempt)
        outcome = "repair" if problem else "retry"
        async with self._db.transaction() as session:
            settled = await settle_row(session, state, outcome)
            if settled:
                kind = "repair" if problem else "caption"
                await _record(session, next_id, job, attempt, kind)
        if not settled:
            await provider.cancel(next_id)  # a concurrent webhook of the same prediction won
            return "duplicate"
        log.info("caption.prediction_started", asset_id=str(job.asset_id), id=next_id, why=outcome)
        return outcome

    async def _give_up(
        self, state: PredictionState, job: CaptionJob, reason: str, attempts: int
    ) -> str:
        recorded = await self._store.record_failure(
            job, reason, attempts, settles=partial(settle_row, state=state, outcome="failed")
        )
        return "failed" if recorded else "duplicate"

    async def reconcile(self) -> int:
        """Ask Replicate about predictions whose webhook did not come within the grace period
        and settle the finished ones; cancel (and retry) those running past the timeout.
        A periodic job; settling once is `settle`'s business."""
        provider = self._provider
        age = func.extract("epoch", func.now() - predictions.c.created_at)
        query = (
            select(predictions.c.id, age.label("age"))
            .where(
                predictions.c.completed_at.is_(None),
                predictions.c.created_at < func.now() - self._grace,
            )
            .order_by(predictions.c.created_at)
            .limit(100)
        )
        async with self._reads.connect() as conn:
            rows = (await conn.execute(query)).all()
        settled = 0
        for prediction_id, seconds in rows:
            try:
                state = await provider.fetch(prediction_id)
            except Permanent as exc:  # Replicate does not know it (any more)
                state = PredictionState(prediction_id, "failed", "", str(exc))
            except ProviderError as exc:
                log.warning("caption.reconcile_failed", id=prediction_id, error=str(exc)[:200])
                continue
            if not state.finished:
                if float(seconds) < self._timeout:
                    continue
                await provider.cancel(prediction_id)
                state = PredictionState(prediction_id, "canceled", "", "prediction timed out")
            log.info("caption.webhook_missing", id=prediction_id, status=state.status)
            if await self.settle(state) not in ("duplicate", "unknown"):
                settled += 1
        return settled
