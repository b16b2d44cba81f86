"""The leads service in-process on the session's PostgreSQL and storage: an app, its runtime
(jobs run with `run_due`, time moves with `runtime.clock.advance`), signed identities."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from leads_helpers import LeadsApp
from mailbox_fakes import FakeGoogle, FakeMicrosoft, ServerThread
from pix_leads.app import create_app
from pix_leads.settings import LeadsSettings
from pix_runtime.migrations import upgrade_to_head
from pix_stack.embedded import EmbeddedPostgres


@pytest.fixture(scope="session")
async def leads_schema(postgres: EmbeddedPostgres, migrated: set[str]) -> str:
    await upgrade_to_head(postgres.url, "pix_leads", "leads")
    return "leads"


@pytest.fixture
async def leads(leads_schema: str) -> AsyncIterator[LeadsApp]:
    settings = LeadsSettings(smtp_port=0, form_limit=3)
    app, runtime = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://leads") as client:
        yield LeadsApp(client, runtime, settings, app)
    await runtime.db.dispose()


@pytest.fixture(scope="module")
def google() -> Iterator[FakeGoogle]:
    """Google's OAuth, Gmail and Calendar APIs on a local port (mailbox_fakes)."""
    fake = FakeGoogle()
    server = ServerThread(fake)
    server.start()
    yield fake
    server.stop()


@pytest.fixture(scope="module")
def microsoft() -> Iterator[FakeMicrosoft]:
    """Microsoft's identity platform and Graph (mail, calendar) on a local port."""
    fake = FakeMicrosoft()
    server = ServerThread(fake)
    server.start()
    yield fake
    server.stop()
