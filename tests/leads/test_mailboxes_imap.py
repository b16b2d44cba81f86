"""Any mailbox over IMAP and SMTP: pymap (a real IMAP server, in memory) and aiosmtpd with
AUTH; the agent's answer goes out by SMTP and is filed in Sent by IMAP APPEND, the lead's
answer is read from INBOX by UID since the last one seen. And Outlook through Graph."""

from __future__ import annotations

import imaplib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from leads_helpers import LeadsApp, as_user, outbox_events
from mailbox_fakes import FakeMicrosoft, PymapServer, free_port
from pix_contracts import LeadMessageRequested
from pix_contracts.leads import AgentMailboxBroken
from pix_leads.app import create_app
from pix_leads.settings import LeadsSettings
from test_mailboxes import agent_of, answer, connect, new_lead, timeline


class Outgoing:
    def __init__(self) -> None:
        self.mails: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.mails.append(content)
        return "250 OK"


def authenticate(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == PymapServer.user.encode()
        and auth_data.password == PymapServer.password.encode()
    )
    return AuthResult(success=ok)


@pytest.fixture(scope="module")
def pymap() -> Iterator[PymapServer]:
    server = PymapServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Outgoing, int]]:
    handler = Outgoing()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
async def leads(leads_schema: str, microsoft: FakeMicrosoft) -> AsyncIterator[LeadsApp]:
    settings = LeadsSettings(
        smtp_port=0,
        mailbox_allow_plaintext=True,
        mailbox_redirect_url="http://pix.test/account/mailbox/callback",
        **microsoft.settings(),  # type: ignore[arg-type]
    )
    app, runtime = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://leads") as client:
        yield LeadsApp(client, runtime, settings, app)
    await runtime.db.dispose()


def imap_session(pymap: PymapServer) -> imaplib.IMAP4:
    imap = imaplib.IMAP4("127.0.0.1", pymap.port)
    imap.login(pymap.user, pymap.password)
    return imap


def folder(pymap: PymapServer, name: str) -> list[Any]:
    imap = imap_session(pymap)
    try:
        imap.select(name, readonly=True)
        _, data = imap.uid("SEARCH", "ALL")
        found = []
        for uid in (data[0] or b"").split():
            _, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next(p[1] for p in parts if isinstance(p, tuple))
            found.append(message_from_bytes(raw, policy=policy.default))
        return found
    finally:
        imap.logout()


def deliver(pymap: PymapServer, raw: bytes) -> None:
    imap = imap_session(pymap)
    try:
        imap.append("INBOX", None, imaplib.Time2Internaldate(time.time()), raw)
    finally:
        imap.logout()


async def test_imap_and_smtp_send_file_in_sent_and_read_answers(
    leads: LeadsApp, pymap: PymapServer, smtp: tuple[Outgoing, int]
) -> None:
    outgoing, smtp_port = smtp
    agent = agent_of()
    headers = as_user(leads.runtime, agent)
    form: dict[str, Any] = {
        "username": pymap.user,
        "password": "wrong",
        "imap_host": "127.0.0.1",
        "imap_port": pymap.port,
        "imap_security": "plain",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_security": "plain",
        "sent_folder": "Sent",
    }
    refused = await leads.client.post("/mailboxes/imap", json=form, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "login_failed"
    form["password"] = pymap.password
    connected = await leads.client.post("/mailboxes/imap", json=form, headers=headers)
    assert connected.status_code == 200, connected.text
    mailbox = connected.json()
    assert mailbox["provider"] == "imap"
    assert mailbox["address"] == agent.email  # the username is no address

    sender = f"lena-{uuid.uuid4().hex[:6]}@example.org"
    lead_id = await new_lead(leads, agent, sender)
    in_sent = len(folder(pymap, "Sent"))
    sent = await leads.client.post(
        f"/leads/{lead_id}/messages", json={"text": "Dienstag um 17 Uhr?"}, headers=headers
    )
    assert sent.status_code == 201, sent.text
    await leads.runtime.jobs.run_due()
    assert len(outgoing.mails) >= 1
    delivered = message_from_bytes(outgoing.mails[-1], policy=policy.default)
    assert delivered["To"] == sender
    filed = folder(pymap, "Sent")
    assert len(filed) == in_sent + 1
    assert filed[-1]["Message-ID"] == delivered["Message-ID"]

    deliver(pymap, answer(agent.email, delivered["Message-ID"], "Gerne, bis dann!", sender))
    await leads.client.post(f"/mailboxes/{mailbox['id']}/sync", headers=headers)
    await leads.runtime.jobs.run_due()
    detail = await timeline(leads, agent, lead_id)
    assert detail["lead"]["status"] == "CONVERSATION"
    assert [a["text"] for a in detail["timeline"] if a["kind"] == "email_in"] == [
        "Gerne, bis dann!"
    ]


async def test_plaintext_servers_are_refused_unless_allowed(leads_schema: str) -> None:
    app, runtime = create_app(LeadsSettings(smtp_port=0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://leads") as client:
        form = {
            "username": "a@b.example",
            "password": "x",
            "imap_host": "127.0.0.1",
            "imap_security": "plain",
            "smtp_host": "127.0.0.1",
        }
        refused = await client.post(
            "/mailboxes/imap", json=form, headers=as_user(runtime, agent_of())
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "tls_required"
        # Without client ids only IMAP is offered.
        offered = await client.get("/mailboxes/mine", headers=as_user(runtime, agent_of()))
        assert offered.json()["providers"] == ["imap"]
    await runtime.db.dispose()


async def test_outlook_sends_through_graph_and_reads_the_inbox_delta(
    leads: LeadsApp, microsoft: FakeMicrosoft
) -> None:
    agent = agent_of()
    headers = as_user(leads.runtime, agent)
    microsoft.deliver(b"From: old@example.org\r\nSubject: old\r\n\r\nalready there\r\n")
    mailbox = await connect(leads, agent, "outlook", microsoft)
    assert mailbox["address"] == microsoft.address
    sender = f"lena-{uuid.uuid4().hex[:6]}@example.org"
    lead_id = await new_lead(leads, agent, sender)
    sent = await leads.client.post(
        f"/leads/{lead_id}/messages", json={"text": "Mittwoch?"}, headers=headers
    )
    assert sent.status_code == 201
    await leads.runtime.jobs.run_due()
    out = microsoft.sent()
    assert len(out) == 1
    assert out[0]["To"] == sender
    # The lead writes anew (no thread headers): matched by the sender's address.
    microsoft.deliver(
        f"From: {sender}\r\nTo: {microsoft.address}\r\nSubject: Frage\r\n"
        f"Message-ID: <{uuid.uuid4()}@example.org>\r\n\r\nMittwoch passt.\r\n".encode()
    )
    # An expired access token is refreshed on the 401.
    microsoft.expire_access_tokens()
    await leads.client.post(f"/mailboxes/{mailbox['id']}/sync", headers=headers)
    await leads.runtime.jobs.run_due()
    detail = await timeline(leads, agent, lead_id)
    assert [a["text"] for a in detail["timeline"] if a["kind"] == "email_in"] == ["Mittwoch passt."]
    overview = (await leads.client.get("/mailboxes/mine", headers=headers)).json()
    assert overview["mailbox"]["status"] == "live"


async def test_a_changed_imap_password_breaks_the_mailbox_and_mail_falls_back(
    leads: LeadsApp, smtp: tuple[Outgoing, int]
) -> None:
    server = PymapServer()
    server.start()
    try:
        agent = agent_of()
        headers = as_user(leads.runtime, agent)
        form = {
            "username": server.user,
            "password": server.password,
            "imap_host": "127.0.0.1",
            "imap_port": server.port,
            "imap_security": "plain",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp[1],
            "smtp_security": "plain",
        }
        connected = await leads.client.post("/mailboxes/imap", json=form, headers=headers)
        assert connected.status_code == 200, connected.text
        mailbox_id = connected.json()["id"]
        # The agent changes the password at their provider.
        server.stop()
        server = PymapServer(port=server.port, password="a-new-password")
        server.start()
        await leads.client.post(f"/mailboxes/{mailbox_id}/sync", headers=headers)
        await leads.runtime.jobs.run_due()
        overview = (await leads.client.get("/mailboxes/mine", headers=headers)).json()
        assert overview["mailbox"]["status"] == "broken"
        assert overview["mailbox"]["broken_reason"] == "imap_login_failed"
        broken = [
            e
            for e in await outbox_events(leads.runtime, AgentMailboxBroken)
            if str(e.mailbox_id) == mailbox_id
        ]
        assert len(broken) == 1
        sender = f"lena-{uuid.uuid4().hex[:6]}@example.org"
        lead_id = await new_lead(leads, agent, sender)
        sent = await leads.client.post(
            f"/leads/{lead_id}/messages", json={"text": "Hallo?"}, headers=headers
        )
        assert sent.json()["data"]["via"] == "platform"
        asks = await outbox_events(leads.runtime, LeadMessageRequested, lead_id)
        assert asks[-1].kind == "reply"
        assert asks[-1].sender_name == "Maria Maklerin"
    finally:
        server.stop()
