"""SMTP through the real aiosmtplib client against a local aiosmtpd server.

The local server speaks plain SMTP, so these tests turn STARTTLS off; production keeps
`PIX_SMTP_START_TLS` on (the default), and one test shows a client that insists on STARTTLS
refuses a server that cannot do it rather than sending in clear text.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from faststream.kafka import TestKafkaBroker
from pix_contracts import OrderPlaced
from pix_notify.app import create_app
from pix_notify.delivery import SEND_MAIL, Courier
from pix_notify.models import emails, jobs
from pix_notify.providers import Mail, SendError, SmtpProvider, message_id
from pix_notify.settings import NotifySettings, SmtpSettings
from pix_runtime.jobs import JobBoard
from pix_runtime.lifecycle import ServiceRuntime
from pix_stack.embedded import free_port
from pydantic import SecretStr
from sqlalchemy import select

SENDER = "pix.immo <noreply@pix.test>"
UNKNOWN = "nobody@makler-example.de"


@dataclass
class Inbox:
    """An aiosmtpd handler: keeps every message, refuses one unknown mailbox with a 550."""

    messages: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address == UNKNOWN:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        self.messages.append((envelope, message_from_bytes(raw, policy=default)))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for e, m in self.messages if address in e.rcpt_tos]

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == b"smtp-secret"
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        # Plain connection in tests only (see the module docstring).
        auth_require_tls=False,
    )
    controller.start()
    yield inbox, port
    controller.stop()


@dataclass
class Notify:
    runtime: ServiceRuntime
    broker: Any
    courier: Courier

    async def row(self, key: str) -> Any:
        async with self.runtime.db.sessions() as session:
            found = await session.execute(select(emails).where(emails.c.idempotency_key == key))
            return found.mappings().one()


@pytest.fixture
async def notify(
    migrated: set[str], tmp_path: Path, smtp_server: tuple[Inbox, int]
) -> AsyncIterator[Notify]:
    _, port = smtp_server
    settings = NotifySettings(
        provider="smtp",
        outbox_dir=tmp_path,
        sender=SENDER,
        smtp=SmtpSettings(
            host="127.0.0.1",
            port=port,
            user="pix",
            password=SecretStr("smtp-secret"),
            start_tls=False,
            timeout_seconds=5,
        ),
        retry_base_seconds=0,
    )
    app, runtime = create_app(settings)
    async with TestKafkaBroker(runtime.broker) as broker:
        yield Notify(runtime, broker, app.state.courier)
    await runtime.db.dispose()


def address() -> str:
    return f"agent-{uuid.uuid4().hex[:10]}@makler-example.de"


async def test_an_event_reaches_the_smtp_server_once_as_a_real_message(
    notify: Notify, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    to = address()
    placed = OrderPlaced(
        order_id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        gallery_id=uuid.uuid4(),
        reference=f"PIX-{uuid.uuid4().hex[:6]}",
        placed_by=uuid.uuid4(),
        contact_name="Erika Muster",
        contact_email=to,
        locale="en",
        property_address="Lindenallee 5, Berlin",  # type: ignore[arg-type]
    )
    for _ in range(2):
        await notify.broker.publish(placed.model_dump_json().encode(), OrderPlaced.topic)
    await notify.runtime.jobs.run_due()

    [received] = inbox.to(to)
    key = f"{placed.event_id}:order_confirmation"
    assert received["Subject"] == f"Your order {placed.reference} has been received"
    assert parseaddr(str(received["From"]))[1] == "noreply@pix.test"
    assert received["Message-ID"] == message_id(key, SENDER)
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert text is not None
    assert html is not None
    assert placed.reference in text.get_content()
    assert "<html" in html.get_content()
    assert "pix" in inbox.logins
    row = await notify.row(key)
    assert (row["status"], row["provider"], row["attempts"]) == ("sent", "smtp", 1)


async def test_a_refused_mailbox_fails_at_once_and_an_unreachable_server_is_retried(
    notify: Notify, smtp_server: tuple[Inbox, int]
) -> None:
    mail = Mail(UNKNOWN, "Betreff", "Hallo", "<p>Hallo</p>")
    key = f"{uuid.uuid4()}:test"
    await notify.courier.deliver(key, "test", mail, "de")
    await notify.runtime.jobs.run_due()
    row = await notify.row(key)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "550" in row["error"]

    _, port = smtp_server
    down = SmtpProvider(
        host="127.0.0.1",
        port=free_port(),
        user=None,
        password=None,
        start_tls=False,
        use_tls=False,
        timeout=2,
    )
    with pytest.raises(SendError) as unreachable:
        await down.send(Mail(address(), "s", "t", "<p>h</p>"), sender=SENDER, idempotency_key="k")
    assert not unreachable.value.permanent

    # A client that insists on STARTTLS does not fall back to clear text.
    strict = SmtpProvider(
        host="127.0.0.1",
        port=port,
        user=None,
        password=None,
        start_tls=True,
        use_tls=False,
        timeout=2,
    )
    with pytest.raises(SendError):
        await strict.send(Mail(address(), "s", "t", "<p>h</p>"), sender=SENDER, idempotency_key="k")


async def test_an_unreachable_smtp_server_counts_as_an_attempt_until_the_mail_fails(
    migrated: set[str], tmp_path: Path
) -> None:
    """The mail server is a third party, not our infrastructure: a refused connection is an
    attempt like any other, so the mail fails after `max_attempts` instead of waiting forever."""
    settings = NotifySettings(
        provider="smtp",
        outbox_dir=tmp_path,
        sender=SENDER,
        smtp=SmtpSettings(host="127.0.0.1", port=free_port(), start_tls=False, timeout_seconds=2),
        max_attempts=2,
        retry_base_seconds=60,
        retry_max_seconds=60,
    )
    app, runtime = create_app(settings)
    key = f"{uuid.uuid4()}:test"
    try:
        await app.state.courier.deliver(key, "test", Mail(address(), "s", "t", "<p>h</p>"), "de")
        await runtime.jobs.run_due()
        async with runtime.db.sessions() as session:
            row = (
                (await session.execute(select(emails).where(emails.c.idempotency_key == key)))
                .mappings()
                .one()
            )
        assert (row["status"], row["attempts"]) == ("retrying", 1)
        runtime.clock.advance(timedelta(seconds=61))
        await runtime.jobs.run_due()
        async with runtime.db.sessions() as session:
            row = (
                (await session.execute(select(emails).where(emails.c.idempotency_key == key)))
                .mappings()
                .one()
            )
        assert (row["status"], row["attempts"]) == ("failed", 2)
        assert "smtp failed" in row["error"]
        runtime.clock.advance(timedelta(days=1))
        await runtime.jobs.run_due()
        [job] = await JobBoard(runtime.db, jobs).find(kind=SEND_MAIL, status="failed", limit=1)
        assert job.key == str(row["id"])
    finally:
        await runtime.db.dispose()
