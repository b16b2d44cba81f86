"""Mailgun through the real httpx client against a local server speaking its messages API;
retries (the job layer's, driven with the service clock), crash recovery, the delivery log, and
the signed bounce webhook."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from faststream.kafka import TestKafkaBroker
from pix_contracts import OrderPlaced
from pix_notify.app import create_app, main
from pix_notify.delivery import Courier
from pix_notify.models import emails, jobs
from pix_notify.providers import Mail, MailConfigError, MailgunProvider, build_provider, message_id
from pix_notify.settings import MAILGUN_EU_API, MailgunSettings, NotifySettings
from pix_runtime.identity import Identity, sign_identity
from pix_runtime.jobs import JobQueue, RetryPolicy
from pix_runtime.lifecycle import ServiceRuntime
from pix_stack.embedded import free_port
from pydantic import SecretStr
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API_KEY = "key-test-" + secrets.token_hex(8)
DOMAIN = "mg.pix.test"
SIGNING_KEY = "whsk-" + secrets.token_hex(16)
SENDER = "pix.immo <noreply@mg.pix.test>"
# What the fake asks for on a 429: longer than the fixture's longest backoff, so a retry that
# waits for it can only be the Retry-After's doing.
RETRY_AFTER_SECONDS = 900
# The fixture's backoff: 60 s doubling, capped at 120 s; past this every retry is due.
BACKOFF = timedelta(seconds=121)


@dataclass
class FakeMailgun:
    """Speaks `POST /v3/{domain}/messages` as documented: basic auth `api:<key>`, multipart form,
    `{"id", "message"}` on success. `answers` are statuses to give before succeeding again."""

    port: int
    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def to(self, address: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["fields"].get("to") == address]

    async def messages(self, request: Request) -> JSONResponse:
        expected = "Basic " + base64.b64encode(f"api:{API_KEY}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return JSONResponse({"message": "Invalid private key"}, status_code=401)
        content_type = request.headers.get("content-type", "")
        raw = await request.body()
        parsed = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        fields = {
            # Form fields are UTF-8 without a charset parameter (what browsers and httpx send).
            str(part.get_param("name", header="content-disposition")): part.get_payload(
                decode=True
            ).decode()
            for part in parsed.iter_parts()
        }
        status = self.answers.pop(0) if self.answers else 200
        self.requests.append(
            {
                "domain": request.path_params["domain"],
                "content_type": content_type.split(";")[0],
                "fields": fields,
                "status": status,
            }
        )
        if status == 429:
            return JSONResponse(
                {"message": "rate limited"},
                status_code=429,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        if status != 200:
            return JSONResponse({"message": f"simulated {status}"}, status_code=status)
        return JSONResponse(
            {"id": f"<{uuid.uuid4().hex}@{DOMAIN}>", "message": "Queued. Thank you."}
        )


@pytest.fixture(scope="module")
async def mailgun() -> AsyncIterator[FakeMailgun]:
    fake = FakeMailgun(port=free_port())
    app = Starlette(routes=[Route("/v3/{domain}/messages", fake.messages, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=fake.port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield fake
    server.should_exit = True
    await task


@dataclass
class Notify:
    runtime: ServiceRuntime
    broker: Any
    courier: Courier
    http: httpx.AsyncClient
    fake: FakeMailgun

    def admin(self) -> dict[str, str]:
        who = Identity(
            user_id=uuid.uuid4(), org_id=uuid.uuid4(), role="admin", email="a@pix.immo", name="A"
        )
        return {"X-Pix-Identity": sign_identity(who, self.runtime.internal_key)}

    async def row(self, key: str) -> Any:
        async with self.runtime.db.sessions() as session:
            found = await session.execute(select(emails).where(emails.c.idempotency_key == key))
            return found.mappings().one()

    async def send(self, key: str, recipient: str) -> None:
        """Deliver a test mail and run its send job."""
        await self.courier.deliver(key, "test", mail_to(recipient), "de")
        await self.runtime.jobs.run_due()

    async def later(self, by: timedelta = BACKOFF) -> int:
        """Move the service's clock on and run the jobs due then."""
        self.runtime.clock.advance(by)
        return await self.runtime.jobs.run_due()

    async def next_attempt_at(self, recipient: str) -> Any:
        """When the mail log says the mail is tried again."""
        log = await self.http.get("/mail", params={"recipient": recipient}, headers=self.admin())
        [row] = log.json()
        return row["next_attempt_at"]


async def _drop_queued_jobs(runtime: ServiceRuntime) -> None:
    """Other tests' mail waiting for a retry must not take this test's answers from the fake."""
    async with runtime.db.transaction() as session:
        await session.execute(
            update(jobs).where(jobs.c.status == "queued").values(status="cancelled")
        )


@pytest.fixture
async def notify(migrated: set[str], tmp_path: Path, mailgun: FakeMailgun) -> AsyncIterator[Notify]:
    mailgun.answers.clear()
    settings = NotifySettings(
        provider="mailgun",
        outbox_dir=tmp_path,
        sender=SENDER,
        mailgun=MailgunSettings(
            api_key=SecretStr(API_KEY),
            domain=DOMAIN,
            api_base=mailgun.base,
            webhook_signing_key=SecretStr(SIGNING_KEY),
        ),
        max_attempts=3,
        retry_base_seconds=60,
        retry_max_seconds=120,
        stuck_after_seconds=60,
    )
    app, runtime = create_app(settings)
    await _drop_queued_jobs(runtime)
    transport = httpx.ASGITransport(app=app)
    async with (
        TestKafkaBroker(runtime.broker) as broker,
        httpx.AsyncClient(transport=transport, base_url="http://notify") as http,
    ):
        yield Notify(runtime, broker, app.state.courier, http, mailgun)
    await _drop_queued_jobs(runtime)
    await runtime.db.dispose()


def address() -> str:
    return f"agent-{uuid.uuid4().hex[:10]}@makler-example.de"


def mail_to(recipient: str) -> Mail:
    return Mail(recipient, "Betreff", "Hallo", "<html><body>Hallo</body></html>")


async def test_each_event_is_one_documented_mailgun_request_even_when_redelivered(
    notify: Notify,
) -> None:
    to = address()
    placed = OrderPlaced(
        order_id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        gallery_id=uuid.uuid4(),
        reference=f"PIX-{uuid.uuid4().hex[:6]}",
        placed_by=uuid.uuid4(),
        contact_name="Erika Muster",
        contact_email=to,
        locale="de",
        property_address="Lindenallee 5, Berlin",  # type: ignore[arg-type]
    )
    for _ in range(3):
        await notify.broker.publish(placed.model_dump_json().encode(), OrderPlaced.topic)
    await notify.runtime.jobs.run_due()

    [request] = notify.fake.to(to)
    key = f"{placed.event_id}:order_confirmation"
    assert request["domain"] == DOMAIN
    assert request["content_type"] == "multipart/form-data"
    sent = request["fields"]
    assert sent["from"] == SENDER
    assert sent["subject"] == f"Ihr Auftrag {placed.reference} ist eingegangen"
    assert placed.reference in sent["text"]
    assert "<html" in sent["html"]
    assert sent["v:idempotency_key"] == key
    assert sent["h:Message-Id"] == message_id(key, SENDER)
    assert sent["h:Message-Id"].endswith("@mg.pix.test>")
    row = await notify.row(key)
    assert (row["status"], row["attempts"], row["provider"]) == ("sent", 1, "mailgun")
    assert row["provider_message_id"].endswith(f"@{DOMAIN}>")
    # Nothing due: the job layer sends nothing more.
    await notify.later()
    assert len(notify.fake.to(to)) == 1


async def test_an_organisations_mail_carries_its_name_and_the_leads_reply_address(
    notify: Notify,
) -> None:
    to = address()
    mail = Mail(
        to,
        "Ihre Anfrage",
        "Danke",
        "<p>Danke</p>",
        sender_name="Makler Müller & Söhne",
        reply_to="muller+l1a2b3c4@leads.pix.test",
    )
    await notify.courier.deliver(f"lead:{to}", "lead_message", mail, "de")
    await notify.runtime.jobs.run_due()
    [request] = notify.fake.to(to)
    # Sent from the platform's own (authenticated) domain, under the organisation's name.
    assert request["fields"]["from"] == "Makler Müller & Söhne <noreply@mg.pix.test>"
    assert request["fields"]["h:Reply-To"] == "muller+l1a2b3c4@leads.pix.test"


async def test_5xx_and_429_are_retried_with_backoff_by_the_job(notify: Notify) -> None:
    to, key = address(), f"{uuid.uuid4()}:test"
    notify.fake.answers.extend([502, 429])
    await notify.send(key, to)
    row = await notify.row(key)
    assert (row["status"], row["attempts"]) == ("retrying", 1)
    assert "502" in row["error"]

    assert await notify.later() == 1
    row = await notify.row(key)
    assert (row["status"], row["attempts"]) == ("retrying", 2)
    assert "429" in row["error"]
    # Mailgun asked for 900 s (Retry-After): not due before that.
    due = datetime.fromisoformat(await notify.next_attempt_at(to))
    assert due >= row["attempted_at"] + timedelta(seconds=RETRY_AFTER_SECONDS)
    await notify.later()  # the backoff alone would be over
    assert len(notify.fake.to(to)) == 2

    await notify.later(timedelta(seconds=RETRY_AFTER_SECONDS))
    row = await notify.row(key)
    assert (row["status"], row["attempts"], row["error"]) == ("sent", 3, None)
    requests = notify.fake.to(to)
    assert [r["status"] for r in requests] == [502, 429, 200]
    # Every try carries the same identity, so Mailgun's events show them as one message.
    assert {r["fields"]["h:Message-Id"] for r in requests} == {message_id(key, SENDER)}
    assert {r["fields"]["v:idempotency_key"] for r in requests} == {key}


def test_backoff_doubles_up_to_the_cap_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_seconds=30, max_seconds=300)
    # Full jitter: each delay lies between half its ceiling and the ceiling.
    for attempt, ceiling in zip((1, 2, 3, 4, 5), (30, 60, 120, 240, 300), strict=True):
        assert ceiling / 2 <= policy.delay(attempt) <= ceiling
    assert policy.delay(1, at_least=90) == 90


async def test_gives_up_after_max_attempts_and_at_once_on_a_rejection(notify: Notify) -> None:
    to, key = address(), f"{uuid.uuid4()}:test"
    notify.fake.answers.extend([503, 503, 503, 503])
    await notify.send(key, to)
    for _ in range(4):
        await notify.later()
    row = await notify.row(key)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert "mailgun answered 503" in row["error"]
    assert len(notify.fake.to(to)) == 3
    notify.fake.answers.clear()

    rejected, rejected_key = address(), f"{uuid.uuid4()}:test"
    notify.fake.answers.append(400)
    await notify.send(rejected_key, rejected)
    await notify.later()
    row = await notify.row(rejected_key)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert len(notify.fake.to(rejected)) == 1


async def test_a_send_that_crashed_midway_is_resent_once_by_the_job(notify: Notify) -> None:
    to, key = address(), f"{uuid.uuid4()}:test"

    class Crash(BaseException):
        """The process dies inside the provider call."""

    class Dying:
        name = "mailgun"

        async def send(self, mail: Mail, *, sender: str, idempotency_key: str) -> str | None:
            raise Crash()

    # Another replica, whose process dies inside the provider call (its job lease is 60 s).
    crashing = Courier(
        notify.runtime.db, Dying(), sender=SENDER, policy=RetryPolicy(), lease=timedelta(seconds=60)
    )
    dead = JobQueue(notify.runtime.db, jobs, clock=notify.runtime.clock)
    crashing.register(dead)
    await notify.courier.deliver(key, "test", mail_to(to), "de")
    with pytest.raises(Crash):
        await dead.run_due()
    assert (await notify.row(key))["status"] == "sending"

    # A redelivered event does not send: the row exists, the job owns it now.
    await notify.courier.deliver(key, "test", mail_to(to), "de")
    assert notify.fake.to(to) == []
    # A send that started a moment ago may still be running: left alone.
    assert await notify.runtime.jobs.run_due() == 0
    assert notify.fake.to(to) == []

    # Its lease ran out: taken over and sent once.
    await notify.later(timedelta(seconds=61))
    await notify.later()
    assert len(notify.fake.to(to)) == 1
    row = await notify.row(key)
    assert (row["status"], row["attempts"]) == ("sent", 2)


def signed(
    event: dict[str, Any], *, key: str = SIGNING_KEY, timestamp: int | None = None
) -> dict[str, Any]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    token = secrets.token_hex(25)
    digest = hmac.new(key.encode(), f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": stamp, "token": token, "signature": digest},
        "event-data": event,
    }


def bounce(recipient: str, key: str | None = None) -> dict[str, Any]:
    return {
        "event": "failed",
        "severity": "permanent",
        "reason": "bounce",
        "recipient": recipient,
        "delivery-status": {"code": 550, "message": "5.1.1 mailbox does not exist"},
        "user-variables": {"idempotency_key": key} if key else {},
        "message": {"headers": {"message-id": "x@mg.pix.test"}},
    }


async def test_a_hard_bounce_suppresses_further_mail_to_the_address(notify: Notify) -> None:
    to, first = address(), f"{uuid.uuid4()}:test"
    await notify.send(first, to)
    assert len(notify.fake.to(to)) == 1

    # No X-Pix-Identity: Mailgun's signature is the credential.
    answer = await notify.http.post("/webhooks/mailgun", json=signed(bounce(to.upper(), first)))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "suppressed"}
    row = await notify.row(first)
    assert row["status"] == "bounced"
    assert "mailbox does not exist" in row["error"]

    later = f"{uuid.uuid4()}:test"
    await notify.send(later, to)
    row = await notify.row(later)
    assert (row["status"], row["attempts"]) == ("suppressed", 0)
    assert len(notify.fake.to(to)) == 1

    listed = await notify.http.get("/suppressions", headers=notify.admin())
    assert any(s["email"] == to and s["reason"] == "hard_bounce" for s in listed.json())
    lifted = await notify.http.delete(f"/suppressions/{to}", headers=notify.admin())
    assert lifted.status_code == 204
    again = f"{uuid.uuid4()}:test"
    await notify.send(again, to)
    assert (await notify.row(again))["status"] == "sent"


async def test_a_bounce_also_stops_mail_waiting_for_a_retry(notify: Notify) -> None:
    to, key = address(), f"{uuid.uuid4()}:test"
    notify.fake.answers.append(503)
    await notify.send(key, to)
    answer = await notify.http.post("/webhooks/mailgun", json=signed(bounce(to)))
    assert answer.status_code == 200
    await notify.later()
    assert (await notify.row(key))["status"] == "suppressed"
    assert len(notify.fake.to(to)) == 1


async def test_webhook_refuses_bad_stale_and_replayed_signatures(notify: Notify) -> None:
    to = address()
    forged = await notify.http.post(
        "/webhooks/mailgun", json=signed(bounce(to), key="not-the-signing-key")
    )
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "invalid_signature"

    stale = await notify.http.post(
        "/webhooks/mailgun", json=signed(bounce(to), timestamp=int(time.time()) - 3600)
    )
    assert stale.status_code == 401
    assert stale.json()["error"]["code"] == "stale_signature"

    body = signed({"event": "failed", "severity": "temporary", "recipient": to})
    first = await notify.http.post("/webhooks/mailgun", json=body)
    assert first.json() == {"status": "ignored"}
    replay = await notify.http.post("/webhooks/mailgun", json=body)
    assert replay.status_code == 409
    assert replay.json()["error"]["code"] == "replayed_signature"

    malformed = await notify.http.post(
        "/webhooks/mailgun", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "malformed_json"
    unsigned = await notify.http.post("/webhooks/mailgun", json={"event-data": bounce(to)})
    assert unsigned.status_code == 422
    assert unsigned.json()["error"]["field"] == "signature"

    # None of these suppressed anything.
    key = f"{uuid.uuid4()}:test"
    await notify.send(key, to)
    assert (await notify.row(key))["status"] == "sent"


async def test_mail_log_shows_status_and_filters_for_admins_only(notify: Notify) -> None:
    to = address()
    keys = [f"{uuid.uuid4()}:test" for _ in range(3)]
    notify.fake.answers.extend([200, 400])
    for key in keys[:2]:
        await notify.send(key, to)
    notify.fake.answers.append(503)
    await notify.send(keys[2], to.upper())

    log = await notify.http.get("/mail", params={"recipient": to}, headers=notify.admin())
    assert log.status_code == 200
    rows = log.json()
    assert [r["status"] for r in rows] == ["retrying", "failed", "sent"]  # newest first
    assert rows[0]["attempts"] == 1
    assert rows[0]["next_attempt_at"]
    assert "400" in rows[1]["error"]
    failed = await notify.http.get(
        "/mail", params={"recipient": to, "status": "failed"}, headers=notify.admin()
    )
    assert [r["status"] for r in failed.json()] == ["failed"]

    bad = await notify.http.get("/mail", params={"status": "lost"}, headers=notify.admin())
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "status"
    client = Identity(
        user_id=uuid.uuid4(), org_id=uuid.uuid4(), role="client", email="c@x.de", name="C"
    )
    denied = await notify.http.get(
        "/mail", headers={"X-Pix-Identity": sign_identity(client, notify.runtime.internal_key)}
    )
    assert denied.status_code == 403
    assert (await notify.http.get("/mail")).status_code == 401
    notify.fake.answers.clear()
    await notify.later()


def test_mailgun_without_credentials_refuses_to_start_and_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("MAILGUN_API_KEY", "MAILGUN_DOMAIN", "PIX_NOTIFY_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIX_MAIL_PROVIDER", "mailgun")
    settings = NotifySettings()
    assert settings.provider == "mailgun"
    assert settings.mailgun.api_base == MAILGUN_EU_API == "https://api.eu.mailgun.net"
    with pytest.raises(MailConfigError, match="MAILGUN_API_KEY, MAILGUN_DOMAIN"):
        build_provider(settings)
    with pytest.raises(SystemExit, match="MAILGUN_API_KEY, MAILGUN_DOMAIN"):
        main()

    monkeypatch.setenv("MAILGUN_DOMAIN", DOMAIN)
    with pytest.raises(MailConfigError) as missing:
        build_provider(NotifySettings())
    assert "MAILGUN_API_KEY" in str(missing.value)
    assert "MAILGUN_DOMAIN" not in str(missing.value)

    monkeypatch.setenv("MAILGUN_API_KEY", API_KEY)
    provider = build_provider(NotifySettings())
    assert isinstance(provider, MailgunProvider)
    assert API_KEY not in repr(provider)
    assert API_KEY not in repr(NotifySettings())
