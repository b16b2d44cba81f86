"""Retention of dead letters (pix_runtime, every service with a dead-letter table): settled ones
(replayed, discarded) go after 30 days, open ones after 90; the runtime's periodic job does it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from pix_notify.app import create_app
from pix_notify.models import dead_letters
from pix_notify.settings import NotifySettings
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import select


@pytest.fixture
async def notify(migrated: set[str], tmp_path: Path) -> AsyncIterator[ServiceRuntime]:
    _, runtime = create_app(NotifySettings(outbox_dir=tmp_path))
    yield runtime
    await runtime.db.dispose()


async def test_settled_letters_go_after_30_days_open_ones_after_90(
    notify: ServiceRuntime,
) -> None:
    runtime = notify
    group = f"retention-test-{id(runtime)}"
    letters = {
        ("open", 91): True,
        ("open", 31): False,
        ("discarded", 31): True,
        ("replayed", 10): False,
    }
    async with runtime.db.transaction() as session:
        for status, age in letters:
            moment = runtime.clock.now() - timedelta(days=age)
            await session.execute(
                dead_letters.insert().values(
                    consumer_group=group,
                    topic="orders.order.placed.v1",
                    payload=b"{}",
                    headers={},
                    error="boom",
                    status=status,
                    first_failed_at=moment,
                    last_failed_at=moment,
                )
            )
    assert "periodic.ServiceRuntime.purge_dead_letters" in runtime.jobs.kinds
    assert await runtime.purge_dead_letters() >= 2
    async with runtime.db.sessions() as session:
        left = (
            await session.execute(
                select(dead_letters.c.status, dead_letters.c.last_failed_at).where(
                    dead_letters.c.consumer_group == group
                )
            )
        ).all()
    assert sorted(status for status, _ in left) == ["open", "replayed"]
