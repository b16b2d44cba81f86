"""Delivery: exactly one email per idempotency key, bounded retries, suppressed addresses.

The row is recorded (`sending`, attempt 1) before the provider is called, in a statement that
only one caller can win (insert on conflict do nothing): whoever inserted the row sends it, a
redelivered event finds the row and does nothing. A failed send becomes `retrying` with a due
time; the periodic `resend_due` claims due rows (`FOR UPDATE SKIP LOCKED`, so replicas never
claim the same row) and sends them again, until `max_attempts`, then `failed` with the error.
A `sending` row older than `stuck_after` was left by a crash mid-send and is claimed the same
way. Such a resend may duplicate a mail the provider had in fact accepted just before the
crash; the stable Message-ID (and Mailgun's `v:idempotency_key`) make that copy recognisable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pix_runtime.db import Database
from pix_runtime.logging import get_logger
from pix_runtime.metrics import count_delivery
from sqlalchemy import RowMapping, and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from pix_notify.models import emails, suppressions
from pix_notify.providers import Mail, MailProvider, SendError

log = get_logger(__name__)

STATUSES = ("sending", "sent", "retrying", "failed", "suppressed", "bounced")
ERROR_CHARS = 500


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_seconds: float = 30.0
    max_seconds: float = 3600.0
    stuck_after_seconds: float = 300.0
    batch: int = 50

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Exponential backoff after the `attempts`-th failure, at least what the provider
        asked for (429 Retry-After)."""
        backoff = min(self.base_seconds * 2.0 ** max(attempts - 1, 0), self.max_seconds)
        return max(backoff, retry_after or 0.0)


class Courier:
    def __init__(
        self, db: Database, provider: MailProvider, *, sender: str, policy: RetryPolicy
    ) -> None:
        self._db = db
        self._provider = provider
        self._sender = sender
        self._policy = policy

    @property
    def provider_name(self) -> str:
        return self._provider.name

    async def deliver(self, key: str, kind: str, mail: Mail, locale: str) -> None:
        """Record, then send, exactly once per key (see the module docstring)."""
        address = mail.recipient.lower()
        async with self._db.transaction() as session:
            blocked = await session.scalar(
                select(suppressions.c.reason).where(suppressions.c.email == address)
            )
            row_id = await session.scalar(
                insert(emails)
                .values(
                    id=uuid.uuid4(),
                    idempotency_key=key,
                    kind=kind,
                    recipient=mail.recipient,
                    locale=locale,
                    subject=mail.subject,
                    text_body=mail.text,
                    html_body=mail.html,
                    provider=self._provider.name,
                    status="suppressed" if blocked else "sending",
                    attempts=0 if blocked else 1,
                    attempted_at=None if blocked else func.now(),
                    error=f"address suppressed ({blocked})" if blocked else None,
                )
                .on_conflict_do_nothing(index_elements=[emails.c.idempotency_key])
                .returning(emails.c.id)
            )
        if row_id is None:
            # Already recorded: sent, or a failed attempt that the retry job owns now.
            return
        if blocked:
            log.info("mail.suppressed", kind=kind, key=key, reason=blocked)
            return
        await self._send(row_id, key, mail, attempts=1)

    async def _send(self, row_id: uuid.UUID, key: str, mail: Mail, *, attempts: int) -> None:
        try:
            provider_id = await self._provider.send(mail, sender=self._sender, idempotency_key=key)
        except SendError as exc:
            await self._record_failure(row_id, key, attempts, exc)
            return
        except Exception as exc:
            # A bug or an unexpected library error: retried like an outage (bounded), so one
            # bad mail neither crashes the consumer nor blocks its partition.
            log.warning("mail.provider_crashed", key=key, exc_info=True)
            await self._record_failure(row_id, key, attempts, SendError(repr(exc)))
            return
        async with self._db.transaction() as session:
            await session.execute(
                update(emails)
                .where(emails.c.id == row_id, emails.c.status == "sending")
                .values(
                    status="sent",
                    sent_at=func.now(),
                    error=None,
                    next_attempt_at=None,
                    provider_message_id=provider_id[:300] if provider_id else None,
                )
            )
        log.info("mail.sent", key=key, attempts=attempts, provider=self._provider.name)
        count_delivery("email", "sent")

    async def _record_failure(
        self, row_id: uuid.UUID, key: str, attempts: int, exc: SendError
    ) -> None:
        error = str(exc)[:ERROR_CHARS]
        give_up = exc.permanent or attempts >= self._policy.max_attempts
        values: dict[str, Any]
        if give_up:
            values = {"status": "failed", "error": error, "next_attempt_at": None}
        else:
            delay = self._policy.delay(attempts, exc.retry_after)
            values = {
                "status": "retrying",
                "error": error,
                "next_attempt_at": func.now() + timedelta(seconds=delay),
            }
        async with self._db.transaction() as session:
            await session.execute(
                update(emails)
                .where(emails.c.id == row_id, emails.c.status == "sending")
                .values(**values)
            )
        count_delivery("email", "failed" if give_up else "retrying")
        log.warning(
            "mail.failed" if give_up else "mail.retrying",
            key=key,
            attempts=attempts,
            permanent=exc.permanent,
            error=error,
        )

    async def resend_due(self) -> int:
        """The periodic job: send again what is due (failed attempts, crashed sends)."""
        policy = self._policy
        stuck_before = func.now() - timedelta(seconds=policy.stuck_after_seconds)
        started = func.coalesce(emails.c.attempted_at, emails.c.created_at)
        stuck = and_(emails.c.status == "sending", started < stuck_before)
        async with self._db.transaction() as session:
            # A crashed send that already used its last attempt is not tried once more.
            await session.execute(
                update(emails)
                .where(stuck, emails.c.attempts >= policy.max_attempts)
                .values(status="failed", error="gave up: the last attempt never finished")
            )
            due = (
                select(emails.c.id)
                .where(
                    or_(
                        and_(emails.c.status == "retrying", emails.c.next_attempt_at <= func.now()),
                        stuck,
                    )
                )
                .order_by(emails.c.created_at)
                .limit(policy.batch)
                .with_for_update(skip_locked=True)
            )
            claimed = (
                (
                    await session.execute(
                        update(emails)
                        .where(emails.c.id.in_(due.scalar_subquery()))
                        .values(
                            status="sending",
                            attempts=emails.c.attempts + 1,
                            attempted_at=func.now(),
                            next_attempt_at=None,
                        )
                        .returning(
                            emails.c.id,
                            emails.c.idempotency_key,
                            emails.c.recipient,
                            emails.c.subject,
                            emails.c.text_body,
                            emails.c.html_body,
                            emails.c.attempts,
                        )
                    )
                )
                .mappings()
                .all()
            )
        for row in claimed:
            if await self._is_suppressed(row["recipient"]):
                await self._mark(row["id"], "suppressed", "address suppressed")
                continue
            mail = Mail(row["recipient"], row["subject"], row["text_body"], row["html_body"])
            await self._send(row["id"], row["idempotency_key"], mail, attempts=row["attempts"])
        return len(claimed)

    async def _is_suppressed(self, address: str) -> bool:
        async with self._db.sessions() as session:
            found = await session.scalar(
                select(suppressions.c.email).where(suppressions.c.email == address.lower())
            )
        return found is not None

    async def _mark(self, row_id: uuid.UUID, status: str, error: str | None) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(emails)
                .where(emails.c.id == row_id)
                .values(status=status, error=error, next_attempt_at=None)
            )

    async def log(
        self, *, status: str | None = None, recipient: str | None = None, limit: int = 100
    ) -> list[RowMapping]:
        """The delivery log, newest first; `recipient` matches the whole address, any case."""
        query = select(emails).order_by(emails.c.created_at.desc(), emails.c.id).limit(limit)
        if status:
            query = query.where(emails.c.status == status)
        if recipient:
            query = query.where(func.lower(emails.c.recipient) == recipient.strip().lower())
        async with self._db.sessions() as session:
            return list((await session.execute(query)).mappings().all())

    async def suppress(self, address: str, *, reason: str, detail: str | None, source: str) -> None:
        """Stop mailing `address`; mail still waiting for a retry is not sent either."""
        address = address.strip().lower()
        detail = detail[:ERROR_CHARS] if detail else None
        async with self._db.transaction() as session:
            await session.execute(
                insert(suppressions)
                .values(email=address, reason=reason, detail=detail, source=source)
                .on_conflict_do_update(
                    index_elements=[suppressions.c.email],
                    set_={"reason": reason, "detail": detail, "source": source},
                )
            )
            await session.execute(
                update(emails)
                .where(func.lower(emails.c.recipient) == address, emails.c.status == "retrying")
                .values(status="suppressed", error=f"address suppressed ({reason})")
            )
        log.info("mail.address_suppressed", reason=reason, source=source)

    async def mark_bounced(self, key: str, detail: str | None) -> None:
        """The provider reports the sent mail `key` as permanently undeliverable."""
        async with self._db.transaction() as session:
            await session.execute(
                update(emails)
                .where(emails.c.idempotency_key == key, emails.c.status == "sent")
                .values(status="bounced", error=(detail or "bounced")[:ERROR_CHARS])
            )

    async def suppressions(self, limit: int = 500) -> list[RowMapping]:
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(suppressions).order_by(suppressions.c.created_at.desc()).limit(limit)
            )
            return list(rows.mappings().all())

    async def lift(self, address: str) -> bool:
        """An admin lifts a suppression (the address was fixed); True if there was one."""
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(suppressions)
                .where(suppressions.c.email == address.strip().lower())
                .returning(suppressions.c.email)
            )
            return result.first() is not None
