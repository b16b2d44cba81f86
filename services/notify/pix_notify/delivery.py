"""Delivery: exactly one email per idempotency key, bounded retries, suppressed addresses.

`deliver` records the row (`sending`) and a `notify.send-mail` job (key: the row's id) in one
transaction that only one caller can win (insert on conflict do nothing): a redelivered event
finds the row and does nothing. The job sends through the provider and marks the row `sent`
together with the job's completion. A `SendError` marks the row `retrying` and the job layer
tries again with the kind's `RetryPolicy` (at least as late as a provider's Retry-After); a
rejection or the last attempt marks it `failed`. A process that dies mid-send leaves the job's
lease to run out and another takes it over. Such a resend may duplicate a mail the provider
had in fact accepted just before the crash; the stable Message-ID (and Mailgun's
`v:idempotency_key`) make that copy recognisable.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Literal, NoReturn, get_args

from pix_runtime.db import Database
from pix_runtime.jobs import JobContext, JobQueue, PermanentJobError, RetryPolicy, enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.metrics import count_delivery
from pix_runtime.personal_data import subject_digest
from pydantic import BaseModel
from sqlalchemy import String, and_, cast, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from pix_notify.models import emails, jobs, suppressions
from pix_notify.preferences import switched_off
from pix_notify.providers import Attachment, Mail, MailProvider, SendError

log = get_logger(__name__)

# skipped: the recipient switched the mail's kind off (pix_notify.preferences); never queued.
MailStatus = Literal["sending", "sent", "retrying", "failed", "suppressed", "bounced", "skipped"]
STATUSES: tuple[MailStatus, ...] = get_args(MailStatus)
ERROR_CHARS = 500
SEND_MAIL = "notify.send-mail"
UNDECIDED = ("sending", "retrying")
# Reset, verification and invitation links are credentials: the log never shows them, or an
# administrator could take over any account from the mail log.
LINK_TOKEN = re.compile(r"token=[^\s\"'<>&]+")


def redact_links(text: str) -> str:
    return LINK_TOKEN.sub("token=[redacted]", text)


class LoggedMail(BaseModel):
    """A mail in the delivery log, its links redacted."""

    id: uuid.UUID
    kind: str
    recipient: str
    locale: str
    subject: str
    text_body: str
    status: MailStatus
    provider: str
    attempts: int
    error: str | None
    provider_message_id: str | None
    created_at: datetime
    attempted_at: datetime | None
    # When a `retrying` mail's job is due again.
    next_attempt_at: datetime | None
    sent_at: datetime | None


class Suppression(BaseModel):
    email: str
    reason: str
    detail: str | None
    source: str
    created_at: datetime


class SendMail(BaseModel):
    email_id: uuid.UUID


class Courier:
    def __init__(
        self,
        db: Database,
        provider: MailProvider,
        *,
        sender: str,
        policy: RetryPolicy,
        lease: timedelta = timedelta(minutes=5),
        subject_key: bytes | None = None,
        log_retention: timedelta = timedelta(days=90),
    ) -> None:
        self._log_retention = log_retention
        self._db = db
        self._subject_key = subject_key
        self._provider = provider
        self._sender = sender
        self._policy = policy
        self._lease = lease

    def digest(self, address: str) -> str | None:
        """The address's keyed digest (None without a key: the erasure then scans)."""
        return subject_digest(address, self._subject_key) if self._subject_key else None

    async def purge_log(self, ctx: JobContext) -> int:
        """Retention (periodic): mails whose delivery is decided leave the log `log_retention`
        after they were written; one still being sent stays until it is decided."""
        cutoff = ctx.now - self._log_retention
        async with self._db.transaction() as session:
            gone = await session.execute(
                delete(emails)
                .where(emails.c.created_at < cutoff, emails.c.status.not_in(UNDECIDED))
                .returning(emails.c.id)
            )
            count = len(gone.all())
        log.info("retention.mail_log_deleted", count=count)
        return count

    @property
    def provider_name(self) -> str:
        return self._provider.name

    @property
    def sender(self) -> str:
        return self._sender

    def register(self, queue: JobQueue) -> None:
        """Send mail from `queue`'s jobs; a send still running after `lease` is taken over."""
        queue.register(SEND_MAIL, SendMail, self.send, policy=self._policy, timeout=self._lease)

    async def deliver(
        self, key: str, kind: str, mail: Mail, locale: str, org_id: uuid.UUID | None = None
    ) -> None:
        """Record the mail and its send job, exactly once per key (see the module docstring)."""
        address = mail.recipient.lower()
        async with self._db.transaction() as session:
            blocked = await session.scalar(
                select(suppressions.c.reason).where(suppressions.c.email == address)
            )
            # Recorded, not dropped: the mail log shows what the recipient chose not to get.
            unwanted = None if blocked else await switched_off(session, address, kind)
            if unwanted:
                status, error = "skipped", f"switched off by the recipient ({unwanted})"
            elif blocked:
                status, error = "suppressed", f"address suppressed ({blocked})"
            else:
                status, error = "sending", None
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
                    sender_name=mail.sender_name,
                    reply_to=mail.reply_to,
                    attachments=[a.as_json() for a in mail.attachments],
                    provider=self._provider.name,
                    recipient_digest=self.digest(mail.recipient),
                    org_id=org_id,
                    status=status,
                    attempts=0,
                    error=error,
                )
                .on_conflict_do_nothing(index_elements=[emails.c.idempotency_key])
                .returning(emails.c.id)
            )
            if row_id is not None and status == "sending":
                await enqueue_job(
                    session, jobs, SEND_MAIL, SendMail(email_id=row_id), key=str(row_id)
                )
        if row_id is not None and blocked:
            log.info("mail.suppressed", kind=kind, key=key, reason=blocked)
        elif row_id is not None and unwanted:
            log.info("mail.skipped", kind=kind, key=key, preference=unwanted)

    async def send(self, payload: SendMail, ctx: JobContext) -> None:
        """The job: one attempt at sending the mail, its outcome on the row."""
        async with self._db.transaction() as session:
            row = (
                (
                    await session.execute(
                        select(emails).where(
                            emails.c.id == payload.email_id,
                            emails.c.status.in_(("sending", "retrying")),
                        )
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                # Sent already, or suppressed by a bounce while it waited for a retry.
                return
            blocked = await session.scalar(
                select(suppressions.c.reason).where(
                    suppressions.c.email == row["recipient"].lower()
                )
            )
            await session.execute(
                update(emails)
                .where(emails.c.id == row["id"])
                .values(
                    status="suppressed" if blocked else "sending",
                    error=f"address suppressed ({blocked})" if blocked else row["error"],
                    attempts=row["attempts"] if blocked else ctx.attempt,
                    attempted_at=row["attempted_at"] if blocked else ctx.now,
                )
            )
            if blocked:
                await ctx.finish(session)
                return
        key = row["idempotency_key"]
        mail = Mail(
            row["recipient"],
            row["subject"],
            row["text_body"],
            row["html_body"],
            sender_name=row["sender_name"],
            reply_to=row["reply_to"],
            attachments=tuple(Attachment(**a) for a in row["attachments"]),
        )
        failure: SendError | None = None
        try:
            provider_id = await self._provider.send(mail, sender=self._sender, idempotency_key=key)
        except SendError as exc:
            failure = exc
        except Exception as exc:
            # A bug or an unexpected library error: retried (bounded), so one bad mail does
            # not fail for good on the first try.
            log.warning("mail.provider_crashed", key=key, exc_info=True)
            failure = SendError(repr(exc))
        if failure is not None:
            # Outside the `except`: the job layer must not see the provider's refused
            # connection as an outage of our own (which would not count as an attempt).
            await self._failed(row["id"], key, ctx, failure)
        async with self._db.transaction() as session:
            await session.execute(
                update(emails)
                .where(emails.c.id == row["id"], emails.c.status == "sending")
                .values(
                    status="sent",
                    sent_at=func.now(),
                    error=None,
                    provider_message_id=provider_id[:300] if provider_id else None,
                )
            )
            await ctx.finish(session)
        log.info("mail.sent", key=key, attempts=ctx.attempt, provider=self._provider.name)
        count_delivery("email", "sent")

    async def _failed(
        self, row_id: uuid.UUID, key: str, ctx: JobContext, exc: SendError
    ) -> NoReturn:
        """Record the failed attempt, then raise: the job layer retries it (not before a
        provider's Retry-After, which `exc` carries), or a permanent error ends it."""
        error = str(exc)[:ERROR_CHARS]
        give_up = exc.permanent or ctx.attempt >= self._policy.max_attempts
        async with self._db.transaction() as session:
            await session.execute(
                update(emails)
                .where(emails.c.id == row_id, emails.c.status == "sending")
                .values(status="failed" if give_up else "retrying", error=error)
            )
        count_delivery("email", "failed" if give_up else "retrying")
        log.warning(
            "mail.failed" if give_up else "mail.retrying",
            key=key,
            attempts=ctx.attempt,
            permanent=exc.permanent,
            error=error,
        )
        # Raised afresh, without the provider's error as cause, for the same reason.
        if give_up:
            raise PermanentJobError(error)
        raise SendError(error, retry_after=exc.retry_after)

    async def log(
        self, *, status: MailStatus | None = None, recipient: str | None = None, limit: int = 100
    ) -> list[LoggedMail]:
        """The delivery log, newest first; `recipient` matches the whole address, any case."""
        waiting = and_(
            jobs.c.kind == SEND_MAIL,
            jobs.c.key == cast(emails.c.id, String),
            jobs.c.status == "queued",
        )
        query = (
            select(
                *(c for c in emails.c if c.name != "next_attempt_at"),
                jobs.c.run_at.label("next_attempt_at"),
            )
            .select_from(emails.outerjoin(jobs, waiting))
            .order_by(emails.c.created_at.desc(), emails.c.id)
            .limit(limit)
        )
        if status:
            query = query.where(emails.c.status == status)
        if recipient:
            query = query.where(func.lower(emails.c.recipient) == recipient.strip().lower())
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return [
            LoggedMail.model_validate({**row, "text_body": redact_links(row["text_body"])})
            for row in rows
        ]

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

    async def suppressions(self, limit: int = 500) -> list[Suppression]:
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(suppressions).order_by(suppressions.c.created_at.desc()).limit(limit)
            )
            return [Suppression.model_validate(dict(row)) for row in rows.mappings()]

    async def lift(self, address: str) -> bool:
        """An admin lifts a suppression (the address was fixed); True if there was one."""
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(suppressions)
                .where(suppressions.c.email == address.strip().lower())
                .returning(suppressions.c.email)
            )
            return result.first() is not None
