"""Replicate's webhook flow: the worker starts a prediction and does not wait for the model.

With Replicate and a webhook URL (PIX_CAPTION_REPLICATE_WEBHOOK_URL) a caption is made in steps
that may run on different captioning instances:

1. Start (`PredictionDesk.start`, from the upload event). The worker creates a prediction whose
   `completed` webhook points at our public route, records it in `captioning.predictions`
   (claiming the event in the inbox in the same transaction) and returns, so its concurrency
   slot and the event's offset are free while the model runs — seconds, minutes on a cold start.
2. Settle (`PredictionDesk.settle`, from the webhook). The webhook may reach any instance: the
   row holds the upload event, so settling needs nothing else — a caption version with its
   `CaptionReady`, a repair prediction for a malformed answer, the next attempt for a failed
   prediction (after the retry policy's backoff, in the background, so the webhook is answered
   at once), or after the last one the failure with its `CaptionFailed`. Settling marks the
   row (`completed_at`) in the same transaction as its effect, with `UPDATE … WHERE
   completed_at IS NULL` (`settle_row`): a replayed or concurrent webhook finds it settled and
   does nothing, so each prediction is settled exactly once.
3. Reconcile (`PredictionDesk.reconcile`, periodic). A webhook that never comes (lost, or ahead
   of the row's commit) is made up by asking Replicate about predictions open past the grace
   period and settling them the same way; one running past the timeout is cancelled and
   retried. Media's reconciler re-announces what is still uncaptioned after that.
4. Deleting the photo deletes its rows and cancels its running predictions at Replicate.

The worker waiting on the row (LISTEN/NOTIFY or polling our database) was not chosen: it would
hold a slot per running prediction exactly as polling Replicate does, which is what webhooks
are for.

Writing a caption version or a failure is the `CaptionDesk`'s business (`_store`,
`_record_failure`); they take the prediction to settle (`settles=`) and call `settle_row` inside
their own transaction. So this module imports the desk for type hints only, and the desk
imports this module: no import cycle.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pix_contracts import AssetUploaded
from pix_runtime.errors import Conflict, DomainError, Unavailable
from pix_runtime.inbox import first_delivery
from pix_runtime.logging import get_logger
from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pix_captioning.content import CaptionRejected, Produced, parse_caption
from pix_captioning.metrics import FAILURES, PROVIDER_LATENCY
from pix_captioning.models import CONSUMER, inbox, predictions
from pix_captioning.providers import BadWebhook, PredictionState, ReplicateProvider
from pix_captioning.reliability import GaveUp, Permanent, ProviderError, call_with_retries

if TYPE_CHECKING:
    from pix_captioning.service import CaptionDesk

log = get_logger(__name__)


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
    session: AsyncSession, prediction_id: str, event: AssetUploaded, attempt: int, kind: str
) -> None:
    """An open prediction; it keeps the upload event so any instance can settle it."""
    await session.execute(
        predictions.insert().values(
            id=prediction_id,
            asset_id=event.asset_id,
            asset_version=event.version,
            attempt=attempt,
            kind=kind,
            event=json.loads(event.model_dump_json()),
        )
    )


class PredictionDesk:
    """The webhook flow of one `CaptionDesk` (see the module docstring).

    It exists only when Replicate answers by webhook (`CaptionDesk.predictions`). It shares the
    desk's database, retry policies and circuit breaker — one provider, one breaker, whether
    the worker waits for a caption or a webhook brings it — and writes through the desk, so a
    caption or a failure from a prediction is stored exactly like one made while waiting.
    """

    def __init__(
        self,
        desk: CaptionDesk,
        provider: ReplicateProvider,
        *,
        grace_seconds: float,
        timeout_seconds: float,
    ) -> None:
        self._desk = desk
        self._provider = provider
        self._db = desk._db
        # Plain reads on an autocommit connection: no BEGIN/ROLLBACK round trips.
        self._reads = self._db.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._policy = desk._policy  # the worker's: nobody waits for a prediction to start
        self._hurried = desk._hurried  # a webhook request waits for the follow-up to start
        self._breaker = desk._breaker
        self._grace = timedelta(seconds=grace_seconds)
        self._timeout = timeout_seconds
        # Next attempts waiting out their backoff, by the failed prediction they follow.
        self._retries: dict[str, asyncio.Task[str]] = {}

    async def start(self, event: AssetUploaded) -> None:
        """Start the asset version's prediction and record it; the webhook finishes it."""
        provider = self._provider
        if await self._open_for(event):
            # Media re-announced an asset whose prediction still runs: it will be announced.
            async with self._db.transaction() as session:
                await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id)
            log.info("caption.prediction_pending", asset_id=str(event.asset_id))
            return
        request = self._desk._request(event)
        try:
            prediction_id, _ = await call_with_retries(
                lambda: provider.start(request), policy=self._policy, breaker=self._breaker
            )
        except GaveUp as exc:
            await self._desk._record_failure(event, str(exc.last), exc.attempts, inbox_event=True)
            return
        async with self._db.transaction() as session:
            first = await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id)
            if first:
                await _record(session, prediction_id, event, 1, "caption")
        if not first:
            await provider.cancel(prediction_id)  # a concurrent delivery started its own
            return
        log.info("caption.prediction_started", asset_id=str(event.asset_id), id=prediction_id)

    async def _open_for(self, event: AssetUploaded) -> bool:
        """Whether a prediction of this asset version still runs (not settled yet)."""
        query = select(
            exists().where(
                predictions.c.asset_id == event.asset_id,
                predictions.c.asset_version == event.version,
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

    async def settle(self, state: PredictionState) -> str:
        """Finish what a completed prediction started, once. Returns what happened:
        stored, repair, retry, failed; duplicate (settled before), unknown, running."""
        provider = self._provider
        if not state.finished:
            return "running"
        async with self._reads.connect() as conn:
            row = (
                (await conn.execute(select(predictions).where(predictions.c.id == state.id)))
                .mappings()
                .first()
            )
        if row is None:
            return "unknown"  # not ours, its asset deleted, or its row not committed yet
        if row["completed_at"] is not None:
            return "duplicate"
        event = AssetUploaded.model_validate(row["event"])
        took = (datetime.now(UTC) - row["created_at"]).total_seconds()
        ok = state.status == "succeeded"
        PROVIDER_LATENCY.labels(provider.name, "ok" if ok else "error").observe(took)
        if not ok:
            # Usually a transient GPU or cold-start problem: the next attempt, up to the limit.
            FAILURES.labels(provider.name, "retryable").inc()
            self._breaker.failure()
            if row["attempt"] < self._policy.attempts:
                self._retry_later(state, event, row["attempt"])
                return "retry"
            reason = f"prediction {state.status}: {state.error or ''}"
            return await self._give_up(state, event, reason, row["attempt"])
        self._breaker.success()
        try:
            caption = parse_caption(state.output, event.room_type)
        except CaptionRejected as exc:
            if row["kind"] == "caption":  # ask once more, saying what was wrong
                return await self._follow_up(state, event, row["attempt"], problem=str(exc))
            FAILURES.labels(provider.name, Permanent.kind).inc()
            return await self._give_up(
                state, event, f"malformed model output: {exc}", row["attempt"]
            )
        produced = Produced(caption, provider.model, provider.name, provider.prompt_version)
        try:
            await self._desk._store(event, produced, edited=False, by=None, settles=state)
        except Conflict as exc:
            if exc.code != "duplicate":
                raise
            return "duplicate"
        return "stored"

    def _retry_later(self, state: PredictionState, event: AssetUploaded, attempt: int) -> None:
        """Start the next attempt after the policy's backoff (exponential, with jitter).

        In the background, so the webhook is answered at once. The failed prediction stays open
        until the next one is recorded: if this process stops first, the reconciler finds it
        after the grace period and settles it again. A replayed webhook meanwhile schedules
        nothing more here; on another instance it would, and `settle_row` lets one win.
        """
        if state.id in self._retries:
            return
        delay = self._policy.delay(attempt, None)

        async def after_backoff() -> str:
            try:
                await asyncio.sleep(delay)
                return await self._follow_up(state, event, attempt + 1, problem=None)
            except Exception:
                # Database or Replicate away: the prediction stays open for the reconciler.
                log.warning("caption.retry_failed", id=state.id, exc_info=True)
                return "error"
            finally:
                self._retries.pop(state.id, None)

        log.info("caption.retry_scheduled", id=state.id, seconds=round(delay, 2))
        self._retries[state.id] = asyncio.create_task(after_backoff(), name=f"retry-{state.id}")

    async def cancel(self, prediction_ids: list[str]) -> None:
        """Cancel running predictions at Replicate (their photo is gone); best effort: a
        prediction that still finishes sends a webhook that finds nothing to settle."""
        for prediction_id in prediction_ids:
            retry = self._retries.pop(prediction_id, None)
            if retry is not None:
                retry.cancel()
            await self._provider.cancel(prediction_id)

    async def _follow_up(
        self,
        state: PredictionState,
        event: AssetUploaded,
        attempt: int,
        *,
        problem: str | None,
    ) -> str:
        """A repair prediction (`problem` given) or the next attempt; this one is settled."""
        provider = self._provider
        request = self._desk._request(event)
        try:
            next_id, _ = await call_with_retries(
                lambda: provider.start(request, problem=problem),
                policy=self._hurried,
                breaker=self._breaker,
            )
        except GaveUp as exc:
            return await self._give_up(state, event, str(exc.last), attempt)
        outcome = "repair" if problem else "retry"
        async with self._db.transaction() as session:
            settled = await settle_row(session, state, outcome)
            if settled:
                kind = "repair" if problem else "caption"
                await _record(session, next_id, event, attempt, kind)
        if not settled:
            await provider.cancel(next_id)  # a concurrent webhook of the same prediction won
            return "duplicate"
        log.info(
            "caption.prediction_started", asset_id=str(event.asset_id), id=next_id, why=outcome
        )
        return outcome

    async def _give_up(
        self, state: PredictionState, event: AssetUploaded, reason: str, attempts: int
    ) -> str:
        recorded = await self._desk._record_failure(
            event, reason, attempts, inbox_event=False, settles=state
        )
        return "failed" if recorded else "duplicate"

    async def reconcile(self) -> int:
        """Ask Replicate about predictions whose webhook did not come within the grace period
        and settle the finished ones; cancel (and retry) those running past the timeout.
        Runs in every captioning process; settling once is `settle`'s business."""
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
