"""Intake: every message is stored (object storage) and recorded before anything parses it.

`receive` stores the bytes, records the row and enqueues its processing job in one
transaction, and only then does the SMTP server answer 250 (or the webhook 200): an accepted
message survives a crash at any later point, and a parser bug leaves it `received` or turns it
into a lead marked "needs review" with the original attached, which can be re-parsed after a
fix. Replies to a lead's plus-address (`<slug>+<token>@…`) join that lead's conversation.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from pix_runtime.clock import Clock
from pix_runtime.db import DriverStatement
from pix_runtime.errors import DomainError, Invalid, NotFound
from pix_runtime.identity import Identity
from pix_runtime.jobs import JobContext, enqueue_job
from pix_runtime.logging import current_correlation_id, get_logger
from pix_runtime.storage import LocalStorage, S3Storage
from prometheus_client import Histogram
from pydantic import BaseModel, Field
from sqlalchemy import RowMapping, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_leads import models as m
from pix_leads.enrichment import normalise_email, normalise_phone
from pix_leads.fields import financing_of, time_frame_of
from pix_leads.mail import ReadMail, read_mail, without_quote
from pix_leads.parsers import (
    Inquiry,
    NotAnInquiry,
    Unparseable,
    classify,
    parse_inquiry,
)
from pix_leads.records import ReceivedMessage
from pix_leads.service import ACKNOWLEDGE, Arrival, LeadBook, LeadRef
from pix_leads.tenancy import lead_scope

log = get_logger(__name__)

PROCESS = "leads.process-message"
_ADDRESS = re.compile(r"^([a-z0-9][a-z0-9.\-]{0,62})(?:\+([a-z0-9]{4,40}))?@(.+)$")


ORG_OF_SLUG = DriverStatement(
    select(m.mailboxes.c.org_id).where(m.mailboxes.c.slug == bindparam("slug"))
)
# The SET clause comes from the parameters' names (built once, not per message).
RECORD_OUTCOME = update(m.raw_messages).where(m.raw_messages.c.id == bindparam("raw_id"))


# The most messages one accepting transaction takes, and how many such transactions run at
# once (while one waits for its commit, the next is on its way).
ACCEPT_BATCH = 64
ACCEPTERS = 2
# How long a stopping intake waits for the accepting transactions under way.
SETTLE_SECONDS = 10.0
ACCEPTED_TOGETHER = Histogram(
    "pix_leads_accepted_together",
    "Messages per accepting transaction (more under load)",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)


@dataclass
class Delivery:
    """A message waiting for the next accepting transaction; `accepted` is set once it is
    durable (or fails, and the sender hears to try again)."""

    row: dict[str, Any]
    raw: bytes
    correlation_id: str | None
    accepted: asyncio.Future[None]

    def answer(self, failure: Exception | None = None) -> None:
        """Durable (or, with `failure`, not); the first answer stands."""
        if self.accepted.done():
            return
        if failure is None:
            self.accepted.set_result(None)
        else:
            self.accepted.set_exception(failure)


def _plain_inquiry(delivery: Delivery) -> Inquiry | None:
    """The inquiry in a message that is nothing else: not to a lead's reply address, read by a
    parser. None for the rest, which the one-by-one path tells apart."""
    if any(p is not None and p[1] for p in map(address_parts, delivery.row["rcpt_to"])):
        return None
    try:
        return parse_inquiry(read_mail(delivery.raw), envelope_from=delivery.row["mail_from"])
    except Exception:
        return None


def _outcome_read(accepted: asyncio.Future[None]) -> None:
    if not accepted.cancelled():
        accepted.exception()


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class RawRef(BaseModel):
    raw_id: uuid.UUID


class TooManyRequests(DomainError):
    status = 429


class Refused(DomainError):
    status = 403


class WebForm(BaseModel):
    """The website form's fields (also accepted as a plain HTML form post)."""

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(default="", max_length=320)
    phone: str = Field(default="", max_length=80)
    message: str = Field(default="", max_length=10_000)
    listing: str = Field(default="", max_length=100, description="listing id or reference")
    consent: bool = False
    consent_text: str = Field(default="", max_length=2000)
    # The honeypot: hidden from people, filled in by bots.
    website: str = Field(default="", max_length=500)
    locale: str = Field(default="de", max_length=5)


def address_parts(address: str) -> tuple[str, str | None, str] | None:
    """(slug, reply token or None, domain) of an intake address."""
    match = _ADDRESS.match(address.strip().strip("<>").lower())
    return (match.group(1), match.group(2), match.group(3)) if match else None


class Intake:
    def __init__(
        self,
        book: LeadBook,
        storage: LocalStorage | S3Storage,
        *,
        clock: Clock,
        inbound_domain: str,
        form_limit: int = 5,
        form_window_seconds: int = 600,
    ) -> None:
        self._book = book
        self._db = book.db
        self._storage = storage
        self._clock = clock
        self._domain = inbound_domain.lower()
        self._form_limit = form_limit
        self._form_window = form_window_seconds
        # An iTIP REPLY to a viewing (pix_leads.viewings.Viewings.take_reply): True when it was
        # one, and then it is no ordinary reply.
        self.calendar_replies: (
            Callable[[AsyncSession, uuid.UUID, ReadMail, uuid.UUID | None], Awaitable[bool]] | None
        ) = None
        self._waiting: list[Delivery] = []
        self._accepting: set[asyncio.Task[None]] = set()

    # --- mailboxes ----------------------------------------------------------------------------

    async def org_for_address(self, address: str) -> uuid.UUID | None:
        parts = address_parts(address)
        if parts is None:
            return None
        # Asked for every recipient of every message: one statement on the driver connection,
        # not a session's three round trips.
        async with self._db.driver_connection() as driver:
            row = await ORG_OF_SLUG.fetchrow(driver, slug=parts[0])
        return row["org_id"] if row is not None else None

    def accepts_domain(self, address: str) -> bool:
        parts = address_parts(address)
        return parts is not None and parts[2] == self._domain

    # --- receiving ----------------------------------------------------------------------------

    async def receive(
        self,
        raw: bytes,
        *,
        channel: str,
        mail_from: str | None,
        rcpt_to: list[str],
        parse_now: bool = False,
        org_id: uuid.UUID | None = None,
    ) -> ReceivedMessage:
        """Store, record and queue the message; returns once all three are durable.

        With `parse_now` the message is also parsed into its lead in the same transaction (the
        SMTP path: no job claim, no second commit before `leads.lead.created.v1`). The raw
        row is inserted first and the parse runs in a savepoint: if it fails, the savepoint is
        rolled back and the processing job is queued instead, so an accepted message is never
        lost. `org_id` is the organisation the caller already looked up for the recipient."""
        now = self._clock.now()
        raw_id = uuid.uuid4()
        key = f"leads/raw/{now:%Y/%m/%d}/{raw_id}.eml"
        stored = await self._storage.put_bytes(key, raw, "message/rfc822")
        for address in rcpt_to if org_id is None else ():
            org_id = await self.org_for_address(address)
            if org_id is not None:
                break
        status = "received" if org_id is not None else "unroutable"
        row = {
            "id": raw_id,
            "org_id": org_id,
            "channel": channel,
            "mail_from": mail_from[:320] if mail_from is not None else None,
            "rcpt_to": [a[:320] for a in rcpt_to[:20]],
            "storage_key": stored.key,
            "sha256": stored.sha256,
            "byte_size": stored.size,
            "received_at": now,
            "status": status,
        }
        if org_id is not None and parse_now:
            await self._accept_together(row, raw)
        else:
            await self._record(row, raw, parse_now=False)
        if org_id is None:
            log.warning("intake.unroutable", raw_id=str(raw_id), rcpt=rcpt_to[:3])
        return ReceivedMessage(
            id=raw_id, org_id=org_id, status=row["status"], storage_key=stored.key
        )

    async def _record(self, row: dict[str, Any], raw: bytes, *, parse_now: bool) -> None:
        """Record one message, parsed at once or by its processing job."""
        async with self._db.transaction() as session:
            await session.execute(m.raw_messages.insert(), row)
            parsed = False
            if row["org_id"] is not None and parse_now:
                parsed = await self._parse_now(session, row, raw)
            if row["org_id"] is not None and not parsed:
                ref = RawRef(raw_id=row["id"])
                await enqueue_job(session, m.jobs, PROCESS, ref, key=str(row["id"]))

    # --- accepting many at once -----------------------------------------------------------------

    async def _accept_together(self, row: dict[str, Any], raw: bytes) -> None:
        """Record and parse the message with the others arriving meanwhile: while one
        transaction runs, the deliveries that come in wait for the next, which takes them all.
        Alone, a message goes straight in; under load, the statements per message fall."""
        delivery = Delivery(
            row, raw, current_correlation_id(), asyncio.get_running_loop().create_future()
        )
        self._waiting.append(delivery)
        self._accepting = {task for task in self._accepting if not task.done()}
        if len(self._accepting) < ACCEPTERS:
            self._accepting.add(asyncio.create_task(self._accept_waiting()))
        # A sender that hangs up does not take the others' transaction with it.
        try:
            await asyncio.shield(delivery.accepted)
        except asyncio.CancelledError:
            # Nobody reads the outcome now; read it so a failure is not reported as unread.
            delivery.accepted.add_done_callback(_outcome_read)
            raise

    async def settle(self) -> None:
        """On shutdown: let the accepting transactions under way commit, so a sender hears
        its 250 rather than losing the connection mid-commit (it would send again)."""
        running = [task for task in self._accepting if not task.done()]
        if running:
            _, late = await asyncio.wait(running, timeout=SETTLE_SECONDS)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _accept_waiting(self) -> None:
        while self._waiting:
            batch = self._waiting[:ACCEPT_BATCH]
            del self._waiting[:ACCEPT_BATCH]
            try:
                await self._accept_batch(batch)
            finally:
                # Stopped midway: whoever still waits hears "try again later" (SMTP 451).
                unanswered = batch
                if _cancelling():
                    unanswered = batch + self._waiting
                    del self._waiting[:]
                for delivery in unanswered:
                    delivery.answer(RuntimeError("the intake stopped"))

    async def _accept_batch(self, batch: list[Delivery]) -> None:
        """New inquiries go in together (`LeadBook.add_new_leads`); replies, auto-replies,
        what no parser reads, duplicates and any batch that failed go one by one, the way a
        single message does: nothing is lost to the batch."""
        ACCEPTED_TOGETHER.observe(len(batch))
        together = [(d, inquiry) for d in batch if (inquiry := _plain_inquiry(d)) is not None]
        one_by_one = [d for d in batch if all(d is not t for t, _ in together)]
        if together:
            try:
                lead_ids = await self._add_together(together)
            except Exception:
                log.warning("intake.together_failed", count=len(together), exc_info=True)
                lead_ids = [None] * len(together)
            for (delivery, _), lead_id in zip(together, lead_ids, strict=True):
                if lead_id is None:
                    one_by_one.append(delivery)
                else:
                    delivery.row["status"] = "lead"
                    delivery.answer()
        for delivery in one_by_one:
            with structlog.contextvars.bound_contextvars(request_id=delivery.correlation_id):
                try:
                    await self._record(delivery.row, delivery.raw, parse_now=True)
                except Exception as exc:
                    delivery.answer(exc)
                else:
                    delivery.answer()

    async def _add_together(
        self, together: list[tuple[Delivery, Inquiry]]
    ) -> list[uuid.UUID | None]:
        arrivals = [
            Arrival(d.row["org_id"], inquiry, d.row["id"], d.correlation_id)
            for d, inquiry in together
        ]
        now = self._clock.now()
        async with self._db.transaction() as session:
            lead_ids = await self._book.add_new_leads(session, arrivals)
            rows = [
                d.row
                | {"status": "lead", "kind": "inquiry", "portal": inquiry.source}
                | {"lead_id": lead_id, "error": None, "processed_at": now, "attempts": 1}
                for (d, inquiry), lead_id in zip(together, lead_ids, strict=True)
                if lead_id is not None
            ]
            if rows:
                await session.execute(m.raw_messages.insert(), rows)
        return lead_ids

    async def _parse_now(self, session: AsyncSession, row: dict[str, Any], raw: bytes) -> bool:
        """Parse a just-recorded message inside its receiving transaction; False (and nothing
        of it kept) if that failed, so the caller queues the processing job instead."""
        try:
            async with session.begin_nested():
                outcome = await self._apply(session, row, raw)
                # The row was inserted just now: what the outcome leaves out is still empty.
                await session.execute(
                    RECORD_OUTCOME,
                    {"kind": None, "portal": None, "lead_id": None, "error": None}
                    | outcome
                    | {"raw_id": row["id"], "processed_at": self._clock.now(), "attempts": 1},
                )
        except Exception:
            log.warning("intake.parse_now_failed", raw_id=str(row["id"]), exc_info=True)
            return False
        row["status"] = outcome["status"]
        return True

    async def process(self, ref: RawRef, ctx: JobContext) -> None:
        """Parse a recorded message into a lead, a reply, or nothing (auto-reply, bounce)."""
        async with self._db.transaction() as session:
            row = (
                (
                    await session.execute(
                        select(m.raw_messages)
                        .where(m.raw_messages.c.id == ref.raw_id)
                        .with_for_update()
                    )
                )
                .mappings()
                .first()
            )
            if row is None or row["status"] != "received" or row["org_id"] is None:
                await ctx.finish(session)
                return
            raw = await self._storage.get_bytes(row["storage_key"])
            outcome = await self._apply(session, row, raw)
            await session.execute(
                update(m.raw_messages)
                .where(m.raw_messages.c.id == ref.raw_id)
                .values(**outcome, processed_at=self._clock.now(), attempts=ctx.attempt)
            )
            await ctx.finish(session)

    async def _apply(
        self, session: AsyncSession, row: RowMapping | dict[str, Any], raw: bytes
    ) -> dict[str, Any]:
        org_id: uuid.UUID = row["org_id"]
        token = next(
            (p[1] for p in map(address_parts, row["rcpt_to"]) if p is not None and p[1]), None
        )
        # A reply to a lead's own address joins its conversation (unless a machine sent it).
        lead_id = await self._lead_of_token(session, org_id, token) if token else None
        machine: str | None = None  # an auto-reply or bounce to the lead's address
        # Only reading and parsing are guarded: a database error is not the message's fault and
        # fails the job (it is retried), it never turns a good message into a review case.
        try:
            mail = read_mail(raw)
            if lead_id is not None:
                machine = classify(mail, row["mail_from"])
                words = without_quote(mail.body) or mail.body.strip()
            else:
                inquiry = parse_inquiry(mail, envelope_from=row["mail_from"])
        except NotAnInquiry as exc:
            return {"status": "ignored", "kind": exc.kind}
        except Exception as exc:
            # Nothing accepted is lost: a lead for a person to look at, with the original.
            log.warning("intake.unparseable", raw_id=str(row["id"]), error=repr(exc)[:300])
            review_id, _ = await self._book.add_inquiry(
                session,
                org_id,
                _review_inquiry(raw),
                raw_message_id=row["id"],
                needs_review=True,
            )
            kind = "unparseable" if isinstance(exc, Unparseable) else "parser_error"
            return {
                "status": "needs_review",
                "kind": kind,
                "lead_id": review_id,
                "error": repr(exc)[:2000],
            }
        if lead_id is not None:
            # A calendar's answer (iTIP REPLY) counts even where its sender marks it automatic.
            if self.calendar_replies is not None and await self.calendar_replies(
                session, lead_id, mail, row["id"]
            ):
                return {"status": "reply", "kind": "calendar_reply", "lead_id": lead_id}
            if machine:
                return {"status": "ignored", "kind": machine}
            await self._book.attach_reply(
                session, lead_id, words[:20_000], raw_message_id=row["id"]
            )
            return {"status": "reply", "kind": "reply", "lead_id": lead_id}
        new_id, created = await self._book.add_inquiry(
            session, org_id, inquiry, raw_message_id=row["id"]
        )
        return {
            "status": "lead",
            "kind": "inquiry" if created else "duplicate",
            "portal": inquiry.source,
            "lead_id": new_id,
        }

    async def _lead_of_token(
        self, session: AsyncSession, org_id: uuid.UUID, token: str
    ) -> uuid.UUID | None:
        found: uuid.UUID | None = await session.scalar(
            select(m.leads.c.id).where(m.leads.c.org_id == org_id, m.leads.c.reply_token == token)
        )
        return found

    async def reparse(self, lead_id: uuid.UUID, viewer: Identity) -> None:
        """Run the parsers again over a needs-review lead's original (after a parser fix)."""
        async with self._db.transaction() as session:
            lead = (
                (
                    await session.execute(
                        select(m.leads)
                        .where(
                            m.leads.c.id == lead_id,
                            lead_scope(viewer),
                        )
                        .with_for_update()
                    )
                )
                .mappings()
                .first()
            )
            if lead is None:
                raise NotFound("lead")
            raw_row = (
                (
                    await session.execute(
                        select(m.raw_messages)
                        .where(m.raw_messages.c.lead_id == lead_id)
                        .order_by(m.raw_messages.c.received_at)
                        .limit(1)
                    )
                )
                .mappings()
                .first()
            )
            if raw_row is None or not lead["needs_review"]:
                raise Invalid("not_reviewable", "the lead has no original waiting for review")
            raw = await self._storage.get_bytes(raw_row["storage_key"])
            try:
                inquiry = parse_inquiry(read_mail(raw), envelope_from=raw_row["mail_from"])
            except (NotAnInquiry, Unparseable) as exc:
                raise Invalid("still_unparseable", f"the parsers still fail: {exc}") from exc
            await session.execute(
                update(m.leads)
                .where(m.leads.c.id == lead_id)
                .values(needs_review=False, source=inquiry.source)
            )
            await self._fill(session, lead_id, inquiry)
            await self._book.record(
                session, lead, "reparsed", data={"source": inquiry.source}, actor=viewer.user_id
            )
            await session.execute(
                update(m.raw_messages)
                .where(m.raw_messages.c.id == raw_row["id"])
                .values(status="lead", kind="inquiry", portal=inquiry.source, error=None)
            )
            row = await self._book.rescore(session, lead_id)
            if row["email"]:
                await enqueue_job(
                    session, m.jobs, ACKNOWLEDGE, LeadRef(lead_id=lead_id), key=str(lead_id)
                )

    async def _fill(self, session: AsyncSession, lead_id: uuid.UUID, inquiry: Inquiry) -> None:
        await session.execute(
            update(m.leads)
            .where(m.leads.c.id == lead_id)
            .values(
                name=inquiry.name[:200],
                email=normalise_email(inquiry.email),
                phone=normalise_phone(inquiry.phone, prefer=inquiry.phone_region),
                message=inquiry.message[:20_000],
                financing=inquiry.financing,
                time_frame=inquiry.time_frame,
                budget_max_eur=inquiry.budget_max_eur,
                requested_viewing=inquiry.requested_viewing,
                requested_callback=inquiry.requested_callback,
                locale=inquiry.locale,
                portal_listing_ref=inquiry.portal_listing_id or inquiry.listing_reference,
                listing_title=inquiry.listing_title,
                conversation_text=inquiry.message[:20_000],
            )
        )

    # --- the website form ---------------------------------------------------------------------

    async def submit_form(self, form_key: str, form: WebForm, client: str) -> uuid.UUID | None:
        """A website inquiry; None for a bot caught by the honeypot (answered like success)."""
        async with self._db.sessions() as session:
            mailbox = (
                (
                    await session.execute(
                        select(m.mailboxes).where(m.mailboxes.c.form_key == form_key)
                    )
                )
                .mappings()
                .first()
            )
        if mailbox is None:
            raise NotFound("form")
        if form.website.strip():
            log.info("form.honeypot", org_id=str(mailbox["org_id"]))
            return None
        if not form.consent:
            raise Invalid("consent_required", "the consent checkbox must be ticked", "consent")
        if not form.email.strip() and not form.phone.strip():
            raise Invalid("contact_required", "an email address or phone number is needed", "email")
        await self._count_hit(f"{mailbox['org_id']}:{client}")
        now = self._clock.now()
        consent_text = form.consent_text.strip() or DEFAULT_CONSENT[mailbox["locale"] == "en"]
        record = form.model_dump(exclude={"website"}) | {
            "received_at": now.isoformat(),
            "client": client,
        }
        received = await self.receive(
            json.dumps(record, ensure_ascii=False).encode(),
            channel="form",
            mail_from=None,
            rcpt_to=[],
        )
        inquiry = Inquiry(
            source="website",
            name=form.name.strip(),
            email=form.email.strip() or None,
            phone=form.phone.strip() or None,
            message=form.message.strip(),
            listing_reference=form.listing.strip() or None,
            locale="en" if form.locale.startswith("en") else "de",
        )
        inquiry.financing = financing_of(inquiry.message)
        inquiry.time_frame = time_frame_of(inquiry.message)
        listing_id = _uuid_or_none(form.listing)
        async with self._db.transaction() as session:
            lead_id, _ = await self._book.add_inquiry(
                session,
                mailbox["org_id"],
                inquiry,
                raw_message_id=received.id,
                consent=(consent_text, now),
                listing_id=listing_id,
            )
            await session.execute(
                update(m.raw_messages)
                .where(m.raw_messages.c.id == received.id)
                .values(
                    org_id=mailbox["org_id"],
                    status="lead",
                    kind="form",
                    portal="website",
                    lead_id=lead_id,
                    processed_at=now,
                )
            )
        return lead_id

    async def _count_hit(self, bucket: str) -> None:
        """A sliding window: this window's hits plus the last window's, weighted by how much of it
        still overlaps the last `form_window` seconds. A fixed window let a client send twice the
        limit across a window's edge (and a test straddling one see no limit at all)."""
        now = self._clock.now()
        seconds = now.timestamp()
        start = seconds // self._form_window * self._form_window
        window = datetime.fromtimestamp(start, tz=now.tzinfo)
        previous = window - timedelta(seconds=self._form_window)
        async with self._db.transaction() as session:
            hits = await session.scalar(
                insert(m.form_hits)
                .values(bucket=bucket[:200], window_start=window, hits=1)
                .on_conflict_do_update(
                    index_elements=[m.form_hits.c.bucket, m.form_hits.c.window_start],
                    set_={"hits": m.form_hits.c.hits + 1},
                )
                .returning(m.form_hits.c.hits)
            )
            before = await session.scalar(
                select(m.form_hits.c.hits).where(
                    m.form_hits.c.bucket == bucket[:200], m.form_hits.c.window_start == previous
                )
            )
            await session.execute(
                m.form_hits.delete().where(m.form_hits.c.window_start < window - timedelta(days=1))
            )
        overlap = 1.0 - (seconds - start) / self._form_window
        if (hits or 0) + (before or 0) * overlap > self._form_limit:
            raise TooManyRequests("rate_limited", "too many inquiries from this address; try later")

    # --- Mailgun inbound ----------------------------------------------------------------------

    async def verify_mailgun(
        self,
        *,
        signing_key: str | None,
        timestamp: str,
        token: str,
        signature: str,
        tolerance: float,
    ) -> None:
        """Mailgun signs `timestamp + token` with the webhook signing key (HMAC-SHA256)."""
        if not signing_key:
            raise Refused("not_configured", "Mailgun inbound is not configured")
        expected = hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), signature):
            raise Refused("bad_signature", "the signature does not match")
        try:
            age = abs(self._clock.now().timestamp() - float(timestamp))
        except ValueError as exc:
            raise Refused("bad_signature", "the timestamp is not a number") from exc
        if age > tolerance:
            raise Refused("stale", "the signature is too old")
        async with self._db.transaction() as session:
            fresh = await session.scalar(
                insert(m.webhook_tokens)
                .values(token=token[:200])
                .on_conflict_do_nothing()
                .returning(m.webhook_tokens.c.token)
            )
        if fresh is None:
            raise Refused("replayed", "this request was seen before")


DEFAULT_CONSENT = {
    False: "Ich bin damit einverstanden, dass meine Angaben zur Bearbeitung meiner Anfrage "
    "gespeichert und verwendet werden. Die Einwilligung kann ich jederzeit widerrufen.",
    True: "I agree that my details are stored and used to answer my inquiry. I can withdraw "
    "this consent at any time.",
}


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def _review_inquiry(raw: bytes) -> Inquiry:
    """What can be shown of a message no parser understood: sender and the start of the text."""
    try:
        mail = read_mail(raw)
        return Inquiry(
            source="email",
            name=mail.from_name[:200],
            message=(mail.subject + "\n\n" + mail.body)[:2000],
        )
    except Exception:
        return Inquiry(source="email", message=raw[:2000].decode("utf-8", errors="replace"))


def new_slug() -> str:
    return "org-" + secrets.token_hex(4)
