"""Over the real broker: billing and leads running as they do in production (lifespan: Tansu,
the outbox relay, the job loop, the consumers); a trial that ends unsubscribed reaches leads
through `billing.subscription.changed.v1` and its API refuses new leads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from billing_helpers import billing_settings, person, until
from pix_billing.app import create_app as billing_app
from pix_leads.app import create_app as leads_app
from pix_leads.settings import LeadsSettings
from pix_runtime.identity import IDENTITY_HEADER, sign_identity
from pix_runtime.jobs import JobContext
from pix_runtime.migrations import upgrade_to_head
from pix_stack.embedded import EmbeddedPostgres
from stripe_fake import FakeStripe


@pytest.fixture
async def running(
    billing_schema: str, postgres: EmbeddedPostgres, tansu: Any, stripe_fake: FakeStripe
) -> AsyncIterator[tuple[Any, Any, Any, Any]]:
    await upgrade_to_head(postgres.url, "pix_leads", "leads")
    billing, billing_runtime = billing_app(billing_settings(stripe_fake))
    leads, leads_runtime = leads_app(LeadsSettings(smtp_port=0))
    async with (
        billing.router.lifespan_context(billing),
        leads.router.lifespan_context(leads),
    ):
        yield billing, billing_runtime, leads, leads_runtime
    await billing_runtime.db.dispose()
    await leads_runtime.db.dispose()


async def test_an_ended_trial_reaches_leads_over_the_broker(running: Any) -> None:
    billing, billing_runtime, leads, leads_runtime = running
    agent = person()
    to_billing = {IDENTITY_HEADER: sign_identity(agent, billing_runtime.internal_key)}
    to_leads = {IDENTITY_HEADER: sign_identity(agent, leads_runtime.internal_key)}
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=billing), base_url="http://b") as b,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=leads), base_url="http://l") as ld,
    ):
        assert (await b.get("/account", headers=to_billing)).json()["status"] == "trialing"

        async def finish(session: object) -> None:
            return None

        billing_runtime.clock.advance(timedelta(days=15))
        try:
            await billing.state.billing.end_trials(
                JobContext(
                    job_id=0,
                    kind="billing.end-trials",
                    attempt=1,
                    now=billing_runtime.clock.now(),
                    key="periodic",
                    _finish=finish,  # type: ignore[arg-type]
                )
            )
        finally:
            billing_runtime.clock.advance(timedelta(days=-15))
        assert (await b.get("/account", headers=to_billing)).json()["status"] == "expired"

        async def refused() -> bool:
            answer = await ld.post("/leads", json={"name": "Erika"}, headers=to_leads)
            return answer.status_code == 403

        await until(refused, timeout=120, what="leads to hear of the expired trial")
        answer = await ld.post("/leads", json={"name": "Erika"}, headers=to_leads)
        assert answer.json()["error"]["code"] == "licence_inactive"
        assert (await ld.get("/leads", headers=to_leads)).status_code == 200
