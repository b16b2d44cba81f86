"""Retention of the mail log: a periodic job (once across replicas) deletes mails whose delivery
is decided 90 days after they were written; a mail still being retried stays. The clock moves."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from pix_notify.app import create_app
from pix_notify.models import emails, jobs
from pix_notify.settings import NotifySettings
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import select, update


@pytest.fixture
async def notify(migrated: set[str], tmp_path: Path) -> AsyncIterator[ServiceRuntime]:
    _, runtime = create_app(NotifySettings(outbox_dir=tmp_path))
    yield runtime
    await runtime.db.dispose()


async def logged(runtime: ServiceRuntime, age_days: int, status: str) -> uuid.UUID:
    mail_id = uuid.uuid4()
    async with runtime.db.transaction() as session:
        await session.execute(
            emails.insert().values(
                id=mail_id,
                idempotency_key=f"retention:{mail_id}",
                kind="order_status",
                recipient="erika@makler-example.de",
                locale="de",
                subject="Ihr Auftrag",
                text_body="",
                html_body="",
                status=status,
                provider="outbox",
                created_at=runtime.clock.now() - timedelta(days=age_days),
            )
        )
    return mail_id


async def present(runtime: ServiceRuntime, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    async with runtime.db.sessions() as session:
        return set((await session.scalars(select(emails.c.id).where(emails.c.id.in_(ids)))).all())


async def test_the_mail_log_keeps_90_days_and_what_is_still_being_sent(
    notify: ServiceRuntime,
) -> None:
    runtime = notify
    old = await logged(runtime, 91, "sent")
    old_failed = await logged(runtime, 120, "failed")
    retrying = await logged(runtime, 91, "retrying")
    young = await logged(runtime, 80, "sent")
    everything = [old, old_failed, retrying, young]
    await runtime.jobs._plant_periodic()
    async with runtime.db.transaction() as session:
        await session.execute(
            update(jobs)
            .where(jobs.c.kind == "notify.retention.mail-log", jobs.c.status == "queued")
            .values(run_at=runtime.clock.now() + timedelta(hours=6))
        )
    await runtime.jobs.run_due()
    assert await present(runtime, everything) == set(everything)  # not due yet

    runtime.clock.advance(timedelta(hours=6, minutes=1))
    await runtime.jobs.run_due()
    assert await present(runtime, everything) == {retrying, young}

    runtime.clock.advance(timedelta(days=11))
    await runtime.jobs.run_due()
    assert await present(runtime, everything) == {retrying}
