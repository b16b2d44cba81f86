"""The ways in: real SMTP to the service's server (250 only once stored and recorded; nothing
lost if the process dies before parsing), Mailgun's signed inbound webhook, the website form."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
import pytest
from leads_helpers import LeadsApp, as_user, corpus, outbox_events, person, raw_row
from pix_contracts import LeadCreated
from pix_leads.app import create_app
from pix_leads.models import leads as leads_table
from pix_leads.models import raw_messages
from pix_leads.settings import LeadsSettings
from pix_runtime.identity import Identity
from pix_stack.embedded import free_port
from pydantic import SecretStr
from sqlalchemy import func, select

SIGNING_KEY = "mg-signing-" + secrets.token_hex(8)


async def settings_of(client: httpx.AsyncClient, runtime: Any, who: Identity) -> dict[str, Any]:
    response = await client.get("/settings", headers=as_user(runtime, who))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def count_raw(runtime: Any) -> int:
    async with runtime.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(raw_messages)) or 0)


async def test_smtp_accepts_only_after_storing_and_survives_a_crash(leads_schema: str) -> None:
    port = free_port()
    app, runtime = create_app(LeadsSettings(smtp_port=port))
    smtp = app.state.smtp
    agent = person()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://leads") as client:
        box = await settings_of(client, runtime, agent)
    await smtp.start()
    try:
        before = await count_raw(runtime)
        errors, _ = await aiosmtplib.send(
            corpus("is24_text_qp"),
            sender="kontaktanfrage@immobilienscout24.de",
            recipients=[box["intake_address"]],
            hostname="127.0.0.1",
            port=port,
        )
        assert errors == {}
        # Accepted means stored and recorded: the row is there before anything parsed it.
        assert await count_raw(runtime) == before + 1
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await aiosmtplib.send(
                corpus("is24_text_qp"),
                sender="x@example.net",
                recipients=["nobody-here@leads.pix.localhost"],
                hostname="127.0.0.1",
                port=port,
            )
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await aiosmtplib.send(
                corpus("is24_text_qp"),
                sender="x@example.net",
                recipients=["someone@elsewhere.example.com"],
                hostname="127.0.0.1",
                port=port,
            )
    finally:
        await smtp.stop()
        await runtime.db.dispose()
    # The process "died" after the 250: the SMTP path made the lead in the accepting
    # transaction (its jobs wait for a new process); the job path is in test_leads_intake.
    _app2, runtime2 = create_app(LeadsSettings(smtp_port=0))
    try:
        assert await runtime2.jobs.run_due() >= 1
        async with runtime2.db.sessions() as session:
            names = list(
                (
                    await session.execute(
                        select(leads_table.c.name).where(leads_table.c.org_id == agent.org_id)
                    )
                ).scalars()
            )
        assert names == ["Jonas Testmann"]
    finally:
        await runtime2.db.dispose()


@pytest.fixture
async def running(leads_schema: str, tansu: Any) -> AsyncIterator[tuple[Any, Any, int]]:
    """The service as it runs: lifespan (broker, outbox relay, job loop, SMTP server)."""
    port = free_port()
    app, runtime = create_app(LeadsSettings(smtp_port=port))
    async with app.router.lifespan_context(app):
        yield app, runtime, port
    await runtime.db.dispose()


async def test_mail_over_smtp_to_the_running_service_becomes_a_lead(running: Any) -> None:
    app, runtime, port = running
    agent = person()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://leads") as client:
        box = await settings_of(client, runtime, agent)
        await aiosmtplib.send(
            corpus("willhaben_html"),
            sender="noreply@willhaben.at",
            recipients=[box["intake_address"]],
            hostname="127.0.0.1",
            port=port,
        )
        deadline = time.monotonic() + 30
        listed: list[Any] = []
        while time.monotonic() < deadline:
            listed = (await client.get("/leads", headers=as_user(runtime, agent))).json()
            if listed and listed[0]["status"] == "CONTACTED":
                break
            await asyncio.sleep(0.05)
        assert [(x["name"], x["source"], x["status"]) for x in listed] == [
            ("Lukas Steirer", "willhaben", "CONTACTED")
        ]
    created = await outbox_events(runtime, LeadCreated, listed[0]["id"])
    assert len(created) == 1


def mailgun_fields(
    raw: bytes, recipient: str, *, key: str = SIGNING_KEY, ts: float | None = None
) -> dict[str, str]:
    timestamp = str(int(ts if ts is not None else time.time()))
    token = secrets.token_hex(25)
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
        "recipient": recipient,
        "sender": "noreply@immowelt.de",
        "body-mime": raw.decode("utf-8", errors="replace"),
    }


@pytest.fixture
async def mailgun_app(leads_schema: str) -> AsyncIterator[LeadsApp]:
    settings = LeadsSettings(smtp_port=0, mailgun_webhook_signing_key=SecretStr(SIGNING_KEY))
    app, runtime = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://leads") as client:
        yield LeadsApp(client, runtime, settings, app)
    await runtime.db.dispose()


async def test_mailgun_inbound_is_signed_and_never_replayed(mailgun_app: LeadsApp) -> None:
    client, runtime = mailgun_app.client, mailgun_app.runtime
    agent = person()
    box = await settings_of(client, runtime, agent)
    fields = mailgun_fields(corpus("immowelt_text"), box["intake_address"])
    # Mailgun posts multipart/form-data.
    files = {k: (None, v) for k, v in fields.items()}
    taken = await client.post("/public/mailgun/mime", files=files)
    assert taken.status_code == 200, taken.text
    raw_id = uuid.UUID(taken.json()["id"])
    assert (await raw_row(runtime, raw_id))["channel"] == "mailgun"
    replay = await client.post("/public/mailgun/mime", files=files)
    assert replay.status_code == 403
    assert replay.json()["error"]["code"] == "replayed"
    forged = mailgun_fields(corpus("immowelt_text"), box["intake_address"], key="wrong")
    refused = await client.post(
        "/public/mailgun/mime", files={k: (None, v) for k, v in forged.items()}
    )
    assert refused.json()["error"]["code"] == "bad_signature"
    stale = mailgun_fields(corpus("immowelt_text"), box["intake_address"], ts=time.time() - 3600)
    old = await client.post("/public/mailgun/mime", files={k: (None, v) for k, v in stale.items()})
    assert old.json()["error"]["code"] == "stale"
    await runtime.jobs.run_due()
    lead_id = (await raw_row(runtime, raw_id))["lead_id"]
    lead = (await client.get(f"/leads/{lead_id}", headers=as_user(runtime, agent))).json()
    assert lead["lead"]["name"] == "Tarik Beispielmann"


async def test_mailgun_takes_a_message_with_attachments_over_the_json_limit(
    mailgun_app: LeadsApp,
) -> None:
    """Portal mails with an exposé or a payslip attached are megabytes: the 1 MiB JSON limit
    does not apply, the message limit does."""
    client, runtime = mailgun_app.client, mailgun_app.runtime
    box = await settings_of(client, runtime, person())
    message = EmailMessage()
    message["From"] = "Interessent <kauf@example.org>"
    message["To"] = box["intake_address"]
    message["Subject"] = "Anfrage mit Unterlagen"
    message.set_content("Guten Tag, anbei meine Unterlagen. Finanzierung ist gesichert.")
    message.add_attachment(
        os.urandom(2 * 1024 * 1024), maintype="application", subtype="pdf", filename="a.pdf"
    )
    fields = mailgun_fields(message.as_bytes(), box["intake_address"])
    parts = {k: (None, v) for k, v in fields.items()}
    taken = await client.post("/public/mailgun/mime", files=parts)
    assert taken.status_code == 200, taken.text
    mailgun_app.settings.max_message_bytes = 1024 * 1024
    refused = await client.post("/public/mailgun/mime", files=parts)
    assert refused.status_code == 413


async def test_without_a_signing_key_mailgun_is_refused(leads: LeadsApp) -> None:
    fields = mailgun_fields(corpus("immowelt_text"), "x@leads.pix.localhost")
    response = await leads.client.post(
        "/public/mailgun/mime", files={k: (None, v) for k, v in fields.items()}
    )
    assert response.status_code == 403


async def test_the_website_form_with_consent_honeypot_and_rate_limit(leads: LeadsApp) -> None:
    agent = person()
    box = await settings_of(leads.client, leads.runtime, agent)
    url = f"/public/forms/{box['form_key']}"
    assert box["form_url"].endswith(url)
    assert 'name="website"' in box["snippet_html"]
    assert 'name="consent"' in box["snippet_html"]
    form = {
        "name": "Wanda Web",
        "email": "wanda@example.org",
        "phone": "030 23125 600",
        "message": "Ich möchte gern besichtigen, Finanzierung ist gesichert.",
        "consent": True,
        "consent_text": "Ich willige ein.",
    }
    created = await leads.client.post(url, json=form)
    assert created.status_code == 201, created.text
    headers = as_user(leads.runtime, agent)
    listed = (await leads.client.get("/leads", headers=headers)).json()
    assert [(x["name"], x["source"]) for x in listed] == [("Wanda Web", "website")]
    lead = (await leads.client.get(f"/leads/{listed[0]['id']}", headers=headers)).json()["lead"]
    assert lead["consent_text"] == "Ich willige ein."
    assert lead["consent_at"] is not None
    assert lead["financing"] == "confirmed"

    bot = await leads.client.post(url, json={**form, "website": "http://spam.example"})
    assert bot.status_code == 200
    no_consent = await leads.client.post(url, json={**form, "consent": False})
    assert no_consent.status_code == 422
    assert no_consent.json()["error"]["field"] == "consent"
    html_post = await leads.client.post(
        url,
        data={"name": "Paula Post", "email": "paula@example.org", "consent": "on", "locale": "de"},
    )
    assert html_post.status_code == 200
    assert "Vielen Dank" in html_post.text
    limited = await leads.client.post(url, json={**form, "email": "third@example.org"})
    assert limited.status_code == 201
    over = await leads.client.post(url, json={**form, "email": "fourth@example.org"})
    assert over.status_code == 429
    assert (await leads.client.post("/public/forms/unknown-key", json=form)).status_code == 404
    assert (
        await leads.client.post(url, content=b"{oops", headers={"content-type": "application/json"})
    ).status_code == 422
    wrong_type = await leads.client.post(url, json={**form, "name": 5})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["error"]["field"] == "name"
    not_an_object = await leads.client.post(url, json=[1, 2])
    assert not_an_object.status_code == 422
    script = await leads.client.get(f"{url}/embed.js")
    assert script.status_code == 200
    assert box["form_url"] in script.text


async def test_the_form_limit_holds_across_a_window_edge(leads: LeadsApp) -> None:
    """Hits just before a window's edge still count just after it (a sliding window), and the
    quota comes back once a whole window has passed."""
    agent = person()
    box = await settings_of(leads.client, leads.runtime, agent)
    url = f"/public/forms/{box['form_key']}"
    window = leads.settings.form_window_seconds
    now = leads.runtime.clock.now().timestamp()
    edge = (now // window + 1) * window
    leads.runtime.clock.advance(timedelta(seconds=edge - now - 2))

    def form(n: int) -> dict[str, Any]:
        return {"name": f"Edge {n}", "email": f"edge{n}@example.org", "consent": True}

    for n in range(leads.settings.form_limit):
        response = await leads.client.post(url, json=form(n))
        assert response.status_code == 201, response.text
    leads.runtime.clock.advance(timedelta(seconds=4))  # now 2 s into the next window
    assert leads.runtime.clock.now().timestamp() >= edge
    over = await leads.client.post(url, json=form(99))
    assert over.status_code == 429
    leads.runtime.clock.advance(timedelta(seconds=window))
    again = await leads.client.post(url, json=form(100))
    assert again.status_code == 201, again.text


async def test_a_message_no_parser_understands_waits_for_review_with_its_original(
    leads: LeadsApp,
) -> None:
    agent = person()
    box = await settings_of(leads.client, leads.runtime, agent)
    received = await leads.app.state.intake.receive(  # type: ignore[attr-defined]
        corpus("is24_without_contact"),
        channel="smtp",
        mail_from=None,
        rcpt_to=[box["intake_address"]],
    )
    await leads.runtime.jobs.run_due()
    row = await raw_row(leads.runtime, received.id)
    assert row["status"] == "needs_review"
    headers = as_user(leads.runtime, agent)
    detail = (await leads.client.get(f"/leads/{row['lead_id']}", headers=headers)).json()
    assert detail["lead"]["needs_review"] is True
    assert detail["planned"] == []  # no acknowledgement to nobody
    original = await leads.client.get(
        f"/leads/{row['lead_id']}/messages/{received.id}/original", headers=headers
    )
    assert original.status_code == 200
    assert original.content == corpus("is24_without_contact")
    still = await leads.client.post(f"/leads/{row['lead_id']}/reparse", headers=headers)
    assert still.status_code == 422
    assert still.json()["error"]["code"] == "still_unparseable"
    review = (
        await leads.client.get("/leads", params={"needs_review": "true"}, headers=headers)
    ).json()
    assert [x["id"] for x in review] == [str(row["lead_id"])]
