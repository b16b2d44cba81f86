"""Notify sends what leads asks for: unsealed, in the lead-mail layout, once per request."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from pix_contracts import LeadMessageRequested
from pix_contracts.leads import LEAD_MAIL_SEAL_PURPOSE
from pix_leads.messages import message_event_id
from pix_notify.app import create_app
from pix_notify.models import emails
from pix_notify.settings import NotifySettings
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.sealing import derive_key, seal
from sqlalchemy import select


@pytest.fixture
async def notify(
    migrated: set[str], tmp_path: Path
) -> AsyncIterator[tuple[ServiceRuntime, Any, Path]]:
    _, runtime = create_app(NotifySettings(outbox_dir=tmp_path))
    async with TestKafkaBroker(runtime.broker) as broker:
        yield runtime, broker, tmp_path
    await runtime.db.dispose()


def request(runtime: ServiceRuntime, recipient: str, text: str) -> LeadMessageRequested:
    lead_id = uuid.uuid4()
    key = f"{lead_id}:acknowledgement"
    sealing = derive_key(runtime.internal_key, LEAD_MAIL_SEAL_PURPOSE)
    return LeadMessageRequested(
        event_id=message_event_id(key),
        lead_id=lead_id,
        org_id=uuid.uuid4(),
        message_key=key,
        kind="acknowledgement",
        locale="de",
        sender_name="Makler Muster GmbH",
        reply_to=f"org-1234+abcd{lead_id.hex[:8]}@leads.pix.localhost",
        sealed_recipient=seal(recipient, sealing, context=key),
        sealed_content=seal(
            json.dumps({"subject": "Ihre Anfrage", "text": text}), sealing, context=key
        ),
    )


async def test_a_lead_message_is_sent_once_with_its_reply_address(
    notify: tuple[ServiceRuntime, Any, Path],
) -> None:
    runtime, broker, folder = notify
    event = request(
        runtime, "lena.beispiel@example.org", "Sehr geehrte Frau Beispiel,\n\n<b>danke</b>!"
    )
    await broker.publish(event, LeadMessageRequested.topic)
    await broker.publish(event, LeadMessageRequested.topic)
    await runtime.jobs.run_due()  # the send itself, where notify sends through a job
    async with runtime.db.sessions() as session:
        rows = list(
            (
                await session.execute(
                    select(emails).where(emails.c.recipient == "lena.beispiel@example.org")
                )
            ).mappings()
        )
    assert len(rows) == 1
    mail = rows[0]
    assert mail["kind"] == "lead_message"
    assert mail["subject"] == "Ihre Anfrage"
    assert "Makler Muster GmbH" in mail["html_body"]
    assert "&lt;b&gt;danke&lt;/b&gt;" in mail["html_body"]
    assert event.reply_to in mail["text_body"]
    sent = list(folder.glob("*.eml"))
    assert len(sent) == 1
    # From the platform's address under the organisation's name; answers reach the lead's
    # conversation through its reply address.
    message = BytesParser(policy=policy.default).parsebytes(sent[0].read_bytes())
    assert message["From"].addresses[0].display_name == "Makler Muster GmbH"
    assert message["From"].addresses[0].addr_spec == "noreply@pix.immo"
    assert message["Reply-To"] == event.reply_to
