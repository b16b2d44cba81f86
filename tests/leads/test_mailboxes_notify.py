"""Notify tells the agent once that their mailbox broke: the address unsealed, the reconnect
link, German or English; a redelivered event mails nothing more."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from pix_contracts.leads import LEAD_MAIL_SEAL_PURPOSE, AgentMailboxBroken
from pix_notify.app import create_app
from pix_notify.models import emails
from pix_notify.settings import NotifySettings
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.sealing import derive_key, seal
from sqlalchemy import select


@pytest.fixture
async def notify(migrated: set[str], tmp_path: Path) -> AsyncIterator[tuple[ServiceRuntime, Any]]:
    _, runtime = create_app(NotifySettings(outbox_dir=tmp_path))
    async with TestKafkaBroker(runtime.broker) as broker:
        yield runtime, broker
    await runtime.db.dispose()


@pytest.mark.parametrize("locale", ["de", "en"])
async def test_the_agent_hears_once_that_the_mailbox_broke(
    notify: tuple[ServiceRuntime, Any], locale: str
) -> None:
    runtime, broker = notify
    mailbox_id = uuid.uuid4()
    address = f"maria-{uuid.uuid4().hex[:8]}@makler.example.com"
    key = derive_key(runtime.internal_key, LEAD_MAIL_SEAL_PURPOSE)
    event = AgentMailboxBroken(
        mailbox_id=mailbox_id,
        org_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        provider="gmail",
        locale=locale,  # type: ignore[arg-type]
        reason="invalid_grant",
        agent_name="Maria Maklerin",
        sealed_recipient=seal(address, key, context=str(mailbox_id)),
    )
    await broker.publish(event, AgentMailboxBroken.topic)
    await broker.publish(event, AgentMailboxBroken.topic)
    await runtime.jobs.run_due()
    async with runtime.db.sessions() as session:
        rows = list(
            (await session.execute(select(emails).where(emails.c.recipient == address))).mappings()
        )
    assert len(rows) == 1
    mail = rows[0]
    assert mail["kind"] == "mailbox_broken"
    expected = "Ihr Postfach ist nicht mehr verbunden" if locale == "de" else "no longer connected"
    assert expected in mail["subject"]
    assert "/account/mailbox" in mail["text_body"]
    assert "Gmail" in mail["text_body"]
    assert "Maria Maklerin" in mail["html_body"]
