"""The agent's own mailbox, against local servers that speak OAuth 2.0 and the Gmail API (and
Graph) to the real client libraries: connect with PKCE, answer a lead so the message sits in
the mailbox's SENT, read the lead's answer onto its timeline, a revoked grant breaks the
mailbox (one event, a warning, the platform sends under the agent's name), tenancy, replayed
and foreign OAuth states, and no secret in the logs."""

from __future__ import annotations

import base64
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import structlog
from leads_helpers import LeadsApp, as_user, outbox_events, person
from mailbox_fakes import FakeGoogle, FakeMicrosoft, OAuthServer
from pix_contracts import LeadMessageRequested
from pix_contracts.leads import LEAD_MAIL_SEAL_PURPOSE, AgentMailboxBroken
from pix_leads.app import create_app
from pix_leads.models import agent_mailboxes
from pix_leads.settings import LeadsSettings
from pix_runtime.identity import Identity
from pix_runtime.sealing import derive_key, unseal
from sqlalchemy import select

REDIRECT = "http://pix.test/account/mailbox/callback"


@pytest.fixture
async def leads(
    leads_schema: str, google: FakeGoogle, microsoft: FakeMicrosoft
) -> AsyncIterator[LeadsApp]:
    settings = LeadsSettings(
        smtp_port=0,
        mailbox_redirect_url=REDIRECT,
        **google.settings(),  # type: ignore[arg-type]
        **microsoft.settings(),
    )
    app, runtime = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://leads") as client:
        yield LeadsApp(client, runtime, settings, app)
    await runtime.db.dispose()


def agent_of(org_id: uuid.UUID | None = None, session: str = "sess-1") -> Identity:
    who = person("agent", org_id)
    return who.model_copy(update={"session_id": session, "name": "Maria Maklerin"})


async def authorise(
    leads: LeadsApp, who: Identity, provider: str, fake: OAuthServer
) -> dict[str, str]:
    """The agent clicks "connect", consents at the provider and comes back with code and
    state (as the gateway's callback page would hand them over)."""
    started = await leads.client.post(
        f"/mailboxes/oauth/{provider}/start", headers=as_user(leads.runtime, who)
    )
    assert started.status_code == 200, started.text
    url = started.json()["authorization_url"]
    asked = parse_qs(urlparse(url).query)
    assert asked["code_challenge_method"] == ["S256"]
    assert asked["redirect_uri"] == [REDIRECT]
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(url)
    assert consent.status_code == 302, consent.text
    back = parse_qs(urlparse(consent.headers["location"]).query)
    assert back["state"] == asked["state"]
    return {"state": back["state"][0], "code": back["code"][0]}


async def connect(leads: LeadsApp, who: Identity, provider: str, fake: OAuthServer) -> Any:
    callback = await authorise(leads, who, provider, fake)
    done = await leads.client.post(
        "/mailboxes/oauth/complete", json=callback, headers=as_user(leads.runtime, who)
    )
    assert done.status_code == 200, done.text
    return done.json()


async def new_lead(leads: LeadsApp, who: Identity, email: str) -> str:
    created = await leads.client.post(
        "/leads",
        json={"name": "Lena Beispiel", "email": email, "message": "Ist die Wohnung frei?"},
        headers=as_user(leads.runtime, who),
    )
    assert created.status_code == 201, created.text
    lead_id: str = created.json()["id"]
    await leads.runtime.jobs.run_due()  # the acknowledgement (unassigned: the platform's)
    return lead_id


async def timeline(leads: LeadsApp, who: Identity, lead_id: str) -> dict[str, Any]:
    found = await leads.client.get(f"/leads/{lead_id}", headers=as_user(leads.runtime, who))
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


def answer(to: str, in_reply_to: str, text: str, sender: str) -> bytes:
    return (
        f"From: Lena Beispiel <{sender}>\r\nTo: {to}\r\nSubject: Re: Besichtigung\r\n"
        f"Message-ID: <{uuid.uuid4()}@mail.example.org>\r\nIn-Reply-To: {in_reply_to}\r\n"
        f"References: {in_reply_to}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{text}\r\n\r\n> Dienstag um 17 Uhr?\r\n"
    ).encode()


async def test_gmail_sends_from_the_agents_mailbox_reads_answers_and_breaks_when_revoked(
    leads: LeadsApp, google: FakeGoogle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    agent = agent_of()
    headers = as_user(leads.runtime, agent)
    with structlog.testing.capture_logs() as logs:
        offered = (await leads.client.get("/mailboxes/mine", headers=headers)).json()
        assert offered == {"mailbox": None, "providers": ["gmail", "outlook", "imap"]}
        mailbox = await connect(leads, agent, "gmail", google)
        assert mailbox["address"] == google.address
        assert mailbox["status"] == "live"
        sender = f"lena-{uuid.uuid4().hex[:6]}@example.org"
        lead_id = await new_lead(leads, agent, sender)

        # The agent answers from the lead's page: out through Gmail, into its SENT.
        before = len(google.sent())
        sent = await leads.client.post(
            f"/leads/{lead_id}/messages",
            json={"subject": "Besichtigung", "text": "Dienstag um 17 Uhr?"},
            headers=headers,
        )
        assert sent.status_code == 201, sent.text
        assert sent.json()["data"]["via"] == "mailbox"
        await leads.runtime.jobs.run_due()
        await leads.runtime.jobs.run_due()  # a retried or repeated run sends nothing more
        out = google.sent()[before:]
        assert len(out) == 1
        message = out[0]
        assert message["To"] == sender
        assert message["From"].addresses[0].addr_spec == google.address
        assert message["From"].addresses[0].display_name == "Maria Maklerin"
        assert "+" in message["Reply-To"]
        assert message["Message-ID"].endswith(f"@{leads.settings.inbound_domain}>")
        assert message.get_content().strip() == "Dienstag um 17 Uhr?"
        asks = await outbox_events(leads.runtime, LeadMessageRequested, lead_id)
        assert [a.kind for a in asks] == ["acknowledgement"]  # the reply did not go via notify

        # The lead answers into the agent's inbox: on the timeline, and CONVERSATION.
        google.deliver(answer(google.address, message["Message-ID"], "Passt mir gut!", sender))
        google.deliver(  # someone else's mail: not read into anything
            b"From: newsletter@shop.example\r\nTo: x@gmail.example\r\n"
            b"Subject: Sale\r\n\r\nSale!\r\n"
        )
        synced = await leads.client.post(f"/mailboxes/{mailbox['id']}/sync", headers=headers)
        assert synced.status_code == 202
        await leads.runtime.jobs.run_due()
        detail = await timeline(leads, agent, lead_id)
        assert detail["lead"]["status"] == "CONVERSATION"
        answers = [a for a in detail["timeline"] if a["kind"] == "email_in"]
        assert [a["text"] for a in answers] == ["Passt mir gut!"]
        # Read again (a new poll): nothing twice.
        await leads.client.post(f"/mailboxes/{mailbox['id']}/sync", headers=headers)
        await leads.runtime.jobs.run_due()
        detail = await timeline(leads, agent, lead_id)
        assert len([a for a in detail["timeline"] if a["kind"] == "email_in"]) == 1
        overview = (await leads.client.get("/mailboxes/mine", headers=headers)).json()
        assert overview["mailbox"]["last_sync_at"] is not None

        # The agent revokes the grant at Google: the next send finds it broken and the
        # platform sends the message under the agent's name instead.
        google.revoke_everything()
        again = await leads.client.post(
            f"/leads/{lead_id}/messages", json={"text": "Bis Dienstag!"}, headers=headers
        )
        assert again.status_code == 201
        await leads.runtime.jobs.run_due()
        assert len(google.sent()) == before + 1
        asks = await outbox_events(leads.runtime, LeadMessageRequested, lead_id)
        assert [a.kind for a in asks] == ["acknowledgement", "reply"]
        key = derive_key(leads.runtime.internal_key, LEAD_MAIL_SEAL_PURPOSE)
        assert asks[1].sender_name == "Maria Maklerin"
        assert unseal(asks[1].sealed_recipient, key, context=asks[1].message_key) == sender
        content = json.loads(unseal(asks[1].sealed_content, key, context=asks[1].message_key))
        assert content["text"] == "Bis Dienstag!"
        overview = (await leads.client.get("/mailboxes/mine", headers=headers)).json()
        assert overview["mailbox"]["status"] == "broken"
        assert overview["mailbox"]["broken_reason"] == "invalid_grant"
        broken = [
            e
            for e in await outbox_events(leads.runtime, AgentMailboxBroken)
            if e.mailbox_id == uuid.UUID(mailbox["id"])
        ]
        assert len(broken) == 1
        assert unseal(broken[0].sealed_recipient, key, context=mailbox["id"]) == agent.email

        # Broken: the next message goes through the platform at once, under the agent's name.
        third = await leads.client.post(
            f"/leads/{lead_id}/messages", json={"text": "Noch eine Frage?"}, headers=headers
        )
        assert third.json()["data"]["via"] == "platform"
        asks = await outbox_events(leads.runtime, LeadMessageRequested, lead_id)
        assert asks[-1].sender_name == "Maria Maklerin"

        # Disconnecting deletes it (and revokes at Google).
        gone = await leads.client.delete(f"/mailboxes/{mailbox['id']}", headers=headers)
        assert gone.status_code == 204
        assert (await leads.client.get("/mailboxes/mine", headers=headers)).json()[
            "mailbox"
        ] is None

    # Tokens and the client secret appear in no log line of any library; the one-time codes
    # (which the test's own browser logs with its redirects) in none of ours.
    ours = json.dumps(logs, default=str)
    for secret in [google.client_secret, *google.issued]:
        assert secret not in ours
        assert secret not in caplog.text
    codes = [r["code"] for r in google.token_requests if "code" in r]
    assert codes
    for code in codes:
        assert code not in ours


async def test_a_replayed_or_foreign_oauth_state_is_refused(
    leads: LeadsApp, google: FakeGoogle
) -> None:
    agent = agent_of()
    callback = await authorise(leads, agent, "gmail", google)
    # Another user (same organisation) cannot complete it, nor the same user in another session.
    colleague = agent_of(agent.org_id)
    other_session = agent.model_copy(update={"session_id": "sess-2"})
    for who in (colleague, other_session):
        refused = await leads.client.post(
            "/mailboxes/oauth/complete", json=callback, headers=as_user(leads.runtime, who)
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "bad_state"
    # The first wrong try consumed the state: even its owner cannot use it now.
    replay = await leads.client.post(
        "/mailboxes/oauth/complete", json=callback, headers=as_user(leads.runtime, agent)
    )
    assert replay.status_code == 422
    # A fresh one works once, and a replay of it is refused.
    callback = await authorise(leads, agent, "gmail", google)
    headers = as_user(leads.runtime, agent)
    first = await leads.client.post("/mailboxes/oauth/complete", json=callback, headers=headers)
    assert first.status_code == 200, first.text
    second = await leads.client.post("/mailboxes/oauth/complete", json=callback, headers=headers)
    assert second.status_code == 422
    assert second.json()["error"]["code"] == "bad_state"


async def test_another_organisations_mailbox_is_not_found(
    leads: LeadsApp, google: FakeGoogle
) -> None:
    agent = agent_of()
    mailbox = await connect(leads, agent, "gmail", google)
    stranger = agent_of()
    owner = person("owner")
    for who in (stranger, owner):
        headers = as_user(leads.runtime, who)
        assert (
            await leads.client.get(f"/mailboxes/{mailbox['id']}", headers=headers)
        ).status_code == 404
        assert (
            await leads.client.delete(f"/mailboxes/{mailbox['id']}", headers=headers)
        ).status_code == 404
        assert (
            await leads.client.post(f"/mailboxes/{mailbox['id']}/sync", headers=headers)
        ).status_code == 404
    # A colleague (agent) in the same organisation does not see it either; its owner does.
    colleague = agent_of(agent.org_id)
    found = await leads.client.get(
        f"/mailboxes/{mailbox['id']}", headers=as_user(leads.runtime, colleague)
    )
    assert found.status_code == 404
    boss = person("owner", agent.org_id)
    found = await leads.client.get(
        f"/mailboxes/{mailbox['id']}", headers=as_user(leads.runtime, boss)
    )
    assert found.status_code == 200


async def test_credentials_are_sealed_at_rest_and_survive_a_key_rotation(
    leads_schema: str, google: FakeGoogle
) -> None:
    old, new = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    agent = agent_of()

    async def started(keys: str) -> tuple[LeadsApp, httpx.AsyncClient]:
        settings = LeadsSettings(
            smtp_port=0,
            secrets_key=keys,  # type: ignore[arg-type]
            mailbox_redirect_url=REDIRECT,
            **google.settings(),  # type: ignore[arg-type]
        )
        app, runtime = create_app(settings)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leads")
        return LeadsApp(client, runtime, settings, app), client

    before, client = await started(old)
    mailbox = await connect(before, agent, "gmail", google)
    async with before.runtime.db.sessions() as session:
        sealed = await session.scalar(
            select(agent_mailboxes.c.sealed_credentials).where(
                agent_mailboxes.c.id == uuid.UUID(mailbox["id"])
            )
        )
    assert sealed is not None
    for secret in google.issued:
        assert secret.encode() not in sealed
    await client.aclose()
    await before.runtime.db.dispose()

    # The new key first, the old one kept: the mailbox still opens and reads.
    after, client = await started(f"{new},{old}")
    headers = as_user(after.runtime, agent)
    synced = await after.client.post(f"/mailboxes/{mailbox['id']}/sync", headers=headers)
    assert synced.status_code == 202
    await after.runtime.jobs.run_due()
    overview = (await after.client.get("/mailboxes/mine", headers=headers)).json()
    assert overview["mailbox"]["status"] == "live"
    assert overview["mailbox"]["last_sync_at"] is not None
    await client.aclose()
    await after.runtime.db.dispose()
