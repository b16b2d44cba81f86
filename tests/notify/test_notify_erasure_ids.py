"""auth.user.deleted.v2 names the user by ids and the address's keyed digest; notify still finds
and erases every mail, recipient and suppression of the address (rows from before the digest
was kept as well), and nothing of anybody else."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from pix_contracts import OrderPlaced, UserDeletedV2
from pix_notify.app import create_app
from pix_notify.models import emails, recipients, suppressions
from pix_notify.settings import NotifySettings
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.personal_data import subject_digest, subject_key
from sqlalchemy import func, select


@pytest.fixture
async def notify(migrated: set[str], tmp_path: Path) -> AsyncIterator[tuple[ServiceRuntime, Any]]:
    _, runtime = create_app(NotifySettings(outbox_dir=tmp_path))
    async with TestKafkaBroker(runtime.broker) as broker:
        yield runtime, broker
    await runtime.db.dispose()


def placed(by: uuid.UUID, email: str) -> OrderPlaced:
    return OrderPlaced(
        order_id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        gallery_id=uuid.uuid4(),
        reference=f"PIX-{uuid.uuid4().hex[:6]}",
        placed_by=by,
        contact_name="Erika Muster",
        contact_email=email,
        property_address="Lindenallee 5, Berlin",
    )


async def count(runtime: ServiceRuntime, address: str) -> dict[str, int]:
    async with runtime.db.sessions() as session:
        return {
            "emails": await session.scalar(
                select(func.count()).where(func.lower(emails.c.recipient) == address.lower())
            )
            or 0,
            "recipients": await session.scalar(
                select(func.count()).where(func.lower(recipients.c.email) == address.lower())
            )
            or 0,
            "suppressions": await session.scalar(
                select(func.count()).where(suppressions.c.email == address.lower())
            )
            or 0,
        }


async def test_an_erasure_by_ids_and_digest_reaches_every_row_of_the_address(
    notify: tuple[ServiceRuntime, Any],
) -> None:
    runtime, broker = notify
    leaving, staying = uuid.uuid4(), uuid.uuid4()
    address = f"Erika.{uuid.uuid4().hex[:8]}@Makler-Example.de"
    other = f"karl.{uuid.uuid4().hex[:8]}@makler-example.de"
    for event in (placed(leaving, address), placed(staying, other)):
        await broker.publish(event.model_dump_json().encode(), OrderPlaced.topic)
    async with runtime.db.transaction() as session:
        # A mail logged before digests were kept, and a hard bounce of the address.
        await session.execute(
            emails.insert().values(
                id=uuid.uuid4(),
                idempotency_key=f"legacy:{uuid.uuid4()}",
                kind="password_changed",
                recipient=address.lower(),
                locale="de",
                subject="Passwort geändert",
                text_body="",
                html_body="",
                status="sent",
                provider="outbox",
            )
        )
        await session.execute(
            suppressions.insert().values(email=address.lower(), reason="bounce", source="test")
        )
    assert await count(runtime, address) == {"emails": 2, "recipients": 1, "suppressions": 1}

    digest = subject_digest(address, subject_key(runtime.internal_key))
    deleted = UserDeletedV2(user_id=leaving, org_id=uuid.uuid4(), email_digest=digest)
    assert address.lower() not in deleted.model_dump_json().lower()
    for _ in range(2):  # a redelivery finds nothing left
        await broker.publish(deleted.model_dump_json().encode(), UserDeletedV2.topic)

    assert await count(runtime, address) == {"emails": 0, "recipients": 0, "suppressions": 0}
    assert await count(runtime, other) == {"emails": 1, "recipients": 1, "suppressions": 0}


def test_the_digest_is_keyed_and_ignores_case() -> None:
    key = subject_key(b"k" * 32)
    assert subject_digest(" A@B.de ", key) == subject_digest("a@b.de", key)
    assert subject_digest("a@b.de", key) != subject_digest("a@b.de", subject_key(b"j" * 32))
