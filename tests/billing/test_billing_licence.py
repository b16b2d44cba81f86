"""The licence at work: billing's announcements reach leads and listings (their subscribers, in
any order, each once), a lapsed licence refuses new work with 403 `licence_inactive` and a link
to billing while reads go on and nothing is lost, and payment opens the CRM again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from billing_helpers import BillingApp, outbox_events, person
from faststream.kafka import TestKafkaBroker
from pix_contracts.billing import SubscriptionChanged
from pix_leads.app import create_app as leads_app
from pix_leads.settings import LeadsSettings
from pix_listings.app import create_app as listings_app
from pix_listings.settings import ListingsSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.migrations import upgrade_to_head
from pix_stack.embedded import EmbeddedPostgres
from test_billing_subscriptions import subscribe


class Crm:
    """Leads and listings in-process, each behind its (test) broker."""

    def __init__(self, leads: Any, listings: Any) -> None:
        self.leads = leads
        self.listings = listings

    async def announce(self, event: SubscriptionChanged) -> None:
        for service in (self.leads, self.listings):
            await service["broker"].publish(
                event.model_dump_json().encode(), SubscriptionChanged.topic
            )

    @staticmethod
    def headers(service: Any, who: Identity) -> dict[str, str]:
        return {IDENTITY_HEADER: sign_identity(who, service["runtime"].internal_key)}

    async def new_lead(self, who: Identity) -> httpx.Response:
        response: httpx.Response = await self.leads["client"].post(
            "/leads",
            json={"name": "Erika Interessentin", "email": "erika@example.com"},
            headers=self.headers(self.leads, who),
        )
        return response

    async def new_listing(self, who: Identity) -> httpx.Response:
        response: httpx.Response = await self.listings["client"].post(
            "/listings",
            json={"title": "Altbau mit Balkon", "marketing": "sale", "property_type": "apartment"},
            headers=self.headers(self.listings, who),
        )
        return response


@pytest.fixture
async def crm(postgres: EmbeddedPostgres, migrated: set[str]) -> AsyncIterator[Crm]:
    await upgrade_to_head(postgres.url, "pix_leads", "leads")
    await upgrade_to_head(postgres.url, "pix_listings", "listings")
    leads, leads_runtime = leads_app(LeadsSettings(smtp_port=0))
    listings, listings_runtime = listings_app(ListingsSettings())
    async with (
        TestKafkaBroker(leads_runtime.broker) as leads_broker,
        TestKafkaBroker(listings_runtime.broker) as listings_broker,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=leads), base_url="http://leads"
        ) as leads_client,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=listings), base_url="http://listings"
        ) as listings_client,
    ):
        yield Crm(
            {"client": leads_client, "runtime": leads_runtime, "broker": leads_broker},
            {"client": listings_client, "runtime": listings_runtime, "broker": listings_broker},
        )
    await leads_runtime.db.dispose()
    await listings_runtime.db.dispose()


async def test_failed_renewal_makes_the_crm_read_only_until_paid(
    billing: BillingApp, crm: Crm
) -> None:
    fake = billing.stripe
    assert fake is not None
    agent = person()

    # No announcement yet: the organisation is in its trial.
    assert (await crm.new_lead(agent)).status_code == 201
    sub_id = await subscribe(billing, agent)
    fake.renew(sub_id, pay=True)
    failed = fake.renew(sub_id, pay=False)
    await billing.handled()
    for event in await outbox_events(billing.runtime, SubscriptionChanged, org_id=agent.org_id):
        await crm.announce(event)

    refused = await crm.new_lead(agent)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "licence_inactive"
    assert "past_due" in error["message"]
    assert "http://testserver/billing" in error["message"]
    listing = await crm.new_listing(agent)
    assert listing.status_code == 403
    assert listing.json()["error"]["code"] == "licence_inactive"

    # Reading goes on, and the lead from the trial is still there.
    leads = await crm.leads["client"].get("/leads", headers=crm.headers(crm.leads, agent))
    assert leads.status_code == 200
    assert len(leads.json()) == 1
    listed = await crm.listings["client"].get("/listings", headers=crm.headers(crm.listings, agent))
    assert listed.status_code == 200
    # Another organisation and the platform's admins are not held back.
    assert (await crm.new_lead(person())).status_code == 201
    admin = person("admin", org_id=agent.org_id)
    assert (await crm.new_listing(admin)).status_code == 201

    fake.pay_invoice(failed["id"])
    await billing.handled()
    latest = (await outbox_events(billing.runtime, SubscriptionChanged, org_id=agent.org_id))[-1]
    assert latest.status == "active"
    await crm.announce(latest)
    assert (await crm.new_lead(agent)).status_code == 201
    assert (await crm.new_listing(agent)).status_code == 201


async def test_older_announcements_arriving_late_change_nothing(crm: Crm) -> None:
    agent = person()
    now = datetime.now(UTC)
    newest = SubscriptionChanged(
        org_id=agent.org_id, status="canceled", plan="crm", occurred_at=now
    )
    older = SubscriptionChanged(
        org_id=agent.org_id, status="active", plan="crm", occurred_at=now - timedelta(hours=1)
    )
    await crm.announce(newest)
    await crm.announce(older)
    await crm.announce(newest)  # a redelivery
    assert (await crm.new_lead(agent)).status_code == 403
    assert (await crm.new_listing(agent)).status_code == 403
    revived = SubscriptionChanged(
        org_id=agent.org_id,
        status="trialing",
        plan="crm",
        occurred_at=now + timedelta(seconds=1),
        event_id=uuid.uuid4(),
    )
    await crm.announce(revived)
    assert (await crm.new_lead(agent)).status_code == 201
