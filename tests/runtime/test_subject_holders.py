"""A person's records in the services that keep them as text, through pix_runtime's subject API
(POST /privacy/subjects/find|export|erase): notify's mails by address, the assistant's
conversation messages by address or number (any spelling of it); the caller's organisation
only; erasure deletes the mails and redacts the messages."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pix_assistant.app import create_app as assistant_app
from pix_assistant.models import conversations, messages
from pix_notify.app import create_app as notify_app
from pix_notify.models import emails
from pix_notify.settings import NotifySettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime

Service = tuple[httpx.AsyncClient, ServiceRuntime]


def agent(org_id: uuid.UUID) -> Identity:
    return Identity(
        user_id=uuid.uuid4(),
        org_id=org_id,
        role="agent",
        email="agent@makler.example.com",
        name="Max Makler",
        email_verified=True,
    )


async def started(app: Any, runtime: ServiceRuntime) -> AsyncIterator[Service]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client, runtime
    await runtime.db.dispose()


@pytest.fixture
async def notify(migrated: set[str], tmp_path: Path) -> AsyncIterator[Service]:
    async for service in started(*notify_app(NotifySettings(outbox_dir=tmp_path))):
        yield service


@pytest.fixture
async def assistant(migrated: set[str]) -> AsyncIterator[Service]:
    async for service in started(*assistant_app()):
        yield service


async def ask(service: Service, who: Identity, action: str, **query: str) -> Any:
    client, runtime = service
    response = await client.post(
        f"/privacy/subjects/{action}",
        json=query,
        headers={IDENTITY_HEADER: sign_identity(who, runtime.internal_key)},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_notify_finds_exports_and_erases_the_mails_to_an_address(notify: Service) -> None:
    _, runtime = notify
    org, other_org = uuid.uuid4(), uuid.uuid4()
    address = f"lena.{uuid.uuid4().hex[:8]}@example.org"
    async with runtime.db.transaction() as session:
        for owner in (org, org, other_org):
            mail_id = uuid.uuid4()
            await session.execute(
                emails.insert().values(
                    id=mail_id,
                    idempotency_key=f"subject:{mail_id}",
                    kind="lead_message",
                    recipient=address.upper() if owner == org else address,
                    locale="de",
                    subject="Ihre Anfrage",
                    text_body="Guten Tag Frau Beispiel",
                    html_body="",
                    status="sent",
                    provider="outbox",
                    org_id=owner,
                )
            )
    me = agent(org)
    found = await ask(notify, me, "find", email=address)
    assert len(found["records"]) == 2
    assert {r["text"] for r in found["records"]} == {""}
    exported = await ask(notify, me, "export", email=address)
    assert "Guten Tag Frau Beispiel" in exported["records"][0]["text"]
    assert await ask(notify, me, "erase", email=address) == {"service": "notify", "erased": 2}
    assert (await ask(notify, me, "find", email=address))["records"] == []
    assert len((await ask(notify, agent(other_org), "find", email=address))["records"]) == 1


async def test_the_assistant_redacts_messages_naming_the_person(assistant: Service) -> None:
    _, runtime = assistant
    org = uuid.uuid4()
    me = agent(org)
    conversation = uuid.uuid4()
    now = datetime.now(UTC)
    async with runtime.db.transaction() as session:
        await session.execute(
            conversations.insert().values(
                id=conversation, org_id=org, user_id=me.user_id, created_at=now, updated_at=now
            )
        )
        for content in (
            "Schreib Lena (lena.beispiel@example.org) wegen der Besichtigung",
            "Ruf sie an: +49 30 23125-401",
            "Wie ist das Wetter?",
        ):
            await session.execute(
                messages.insert().values(
                    conversation_id=conversation,
                    org_id=org,
                    role="user",
                    content=content,
                    created_at=now,
                )
            )
    by_phone = await ask(assistant, me, "export", phone="030 23125 401")
    assert [r["text"] for r in by_phone["records"]] == ["Ruf sie an: +49 30 23125-401"]
    both = await ask(assistant, me, "find", email="Lena.Beispiel@example.org", phone="03023125401")
    assert len(both["records"]) == 2
    erased = await ask(
        assistant, me, "erase", email="lena.beispiel@example.org", phone="030 23125401"
    )
    assert erased == {"service": "assistant", "erased": 2}
    assert (await ask(assistant, me, "find", email="lena.beispiel@example.org"))["records"] == []
    assert (await ask(assistant, agent(uuid.uuid4()), "find", phone="030 23125 401"))[
        "records"
    ] == []
