"""The SMTP intake (aiosmtpd), served on the service's own event loop.

A recipient is accepted only if it is an intake address of this service's domain with a known
organisation (no open relay, no catch-all). DATA is answered 250 only after `Intake.receive`
stored the bytes and committed the row together with its lead (or, if parsing it failed, its
processing job); any failure before that is a 451, so the sending server keeps the message and
tries again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session
from pix_runtime.logging import get_logger, new_correlation_id
from prometheus_client import Histogram

from pix_leads.intake import Intake

log = get_logger(__name__)

ACCEPT_SECONDS = Histogram(
    "pix_leads_smtp_accept_seconds", "From the end of DATA to the 250 (stored and recorded)"
)


class IntakeHandler:
    def __init__(self, intake: Intake) -> None:
        self._intake = intake
        # The organisation RCPT found, so DATA does not look it up again.
        self._orgs: weakref.WeakKeyDictionary[Envelope, uuid.UUID] = weakref.WeakKeyDictionary()

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not self._intake.accepts_domain(address):
            return "550 5.7.1 relaying denied"
        org_id = await self._intake.org_for_address(address)
        if org_id is None:
            return "550 5.1.1 no such mailbox"
        self._orgs.setdefault(envelope, org_id)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        started = time.perf_counter()
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="surrogateescape")
        if raw is None:
            return "554 5.6.0 no message"
        # Each message is a request of its own: its lead's events and jobs carry this id.
        with structlog.contextvars.bound_contextvars(request_id=new_correlation_id()):
            try:
                await self._intake.receive(
                    raw,
                    channel="smtp",
                    mail_from=envelope.mail_from,
                    rcpt_to=list(envelope.rcpt_tos),
                    parse_now=True,
                    org_id=self._orgs.get(envelope),
                )
            except Exception:
                log.error("smtp.store_failed", exc_info=True)
                return "451 4.3.0 temporary failure, try again later"
        ACCEPT_SECONDS.observe(time.perf_counter() - started)
        return "250 2.0.0 accepted"


class SmtpIntake:
    def __init__(
        self, intake: Intake, *, host: str, port: int, max_bytes: int, hostname: str
    ) -> None:
        self._intake = intake
        self._handler = IntakeHandler(intake)
        self._host = host
        self._port = port
        self._max_bytes = max_bytes
        self._hostname = hostname
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0 in tests... which turns it off)."""
        return self._port

    async def start(self) -> None:
        if self._port <= 0:
            return
        # aiosmtpd logs every command at INFO, envelope addresses included: five lines a
        # message that say nothing our own logs do not, and personal data besides.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(
                self._handler,
                data_size_limit=self._max_bytes,
                enable_SMTPUTF8=True,
                decode_data=False,
                hostname=self._hostname,
                ident="pix.immo leads",
            ),
            host=self._host,
            port=self._port,
        )
        log.info("smtp.listening", host=self._host, port=self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self._intake.settle()
