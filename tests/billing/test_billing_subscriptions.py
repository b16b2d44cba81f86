"""The CRM licence: a trial from the first visit, Checkout with the trial carried over, Stripe's
webhooks (verified, once each, in any order) driving trialing → active → past_due → active, the
customer portal, and the licence announced through the outbox."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import httpx
from billing_helpers import BillingApp, outbox_events, person
from pix_billing.models import jobs, stripe_events
from pix_contracts.billing import SubscriptionChanged
from sqlalchemy import func, select
from stripe_fake import sign


async def subscribe(billing: BillingApp, who: object, seats: int = 3) -> str:
    """Checkout through the hosted page; the subscription's id at Stripe."""
    assert billing.stripe is not None
    headers = billing.headers(who)  # type: ignore[arg-type]
    answer = await billing.client.post("/account/checkout", json={"seats": seats}, headers=headers)
    assert answer.status_code == 200, answer.text
    url = answer.json()["url"]
    async with httpx.AsyncClient() as browser:
        page = await browser.get(url)
        assert page.status_code == 200
        paid = await browser.post(f"{url}/pay")
        assert paid.status_code == 303
        assert paid.headers["location"].endswith("/billing?checkout=done")
    await billing.handled()
    session_id = url.rsplit("/", 1)[1]
    subscription = billing.stripe.objects[session_id]["subscription"]
    assert subscription
    return str(subscription)


async def test_trial_subscribe_renew_fail_and_pay_again(billing: BillingApp) -> None:
    fake = billing.stripe
    assert fake is not None
    owner = person()
    headers = billing.headers(owner)

    first = (await billing.client.get("/account", headers=headers)).json()
    assert first["billing_enabled"] is True
    assert first["status"] == "trialing"
    assert first["licensed"] is True
    assert first["subscribed"] is False
    announced = await outbox_events(billing.runtime, SubscriptionChanged, org_id=owner.org_id)
    assert [e.status for e in announced] == ["trialing"]

    profile = {
        "company": "Makler Berlin GmbH",
        "email": "buchhaltung@makler-berlin.example",
        "street": "Lindenallee 5",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
        "vat_id": "DE 123 456 789",
    }
    saved = await billing.client.put("/account/profile", json=profile, headers=headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["profile"]["vat_id"] == "DE123456789"

    sub_id = await subscribe(billing, owner, seats=3)
    checkout = next(o for o in fake.objects.values() if o["object"] == "checkout.session")
    assert checkout["subscription_data"]["trial_period_days"] == "14"
    assert checkout["line_items"][0]["quantity"] == "3"
    customer = fake.objects[checkout["customer"]]
    assert customer["metadata"]["org_id"] == str(owner.org_id)
    assert customer["address"]["city"] == "Berlin"

    licence = (await billing.client.get("/account", headers=headers)).json()
    assert licence["status"] == "trialing"
    assert licence["subscribed"] is True
    assert licence["seats"] == 3

    fake.renew(sub_id, pay=True)  # the trial ends and the first month is paid
    await billing.handled()
    licence = (await billing.client.get("/account", headers=headers)).json()
    assert licence["status"] == "active"
    assert licence["licensed"] is True

    failed = fake.renew(sub_id, pay=False)  # the next renewal fails
    await billing.handled()
    licence = (await billing.client.get("/account", headers=headers)).json()
    assert licence["status"] == "past_due"
    assert licence["licensed"] is False

    fake.pay_invoice(failed["id"])
    await billing.handled()
    licence = (await billing.client.get("/account", headers=headers)).json()
    assert licence["status"] == "active"

    statuses = [
        e.status
        for e in await outbox_events(billing.runtime, SubscriptionChanged, org_id=owner.org_id)
    ]
    assert statuses[0] == "trialing"
    assert statuses[-3:] == ["active", "past_due", "active"]
    last = (await outbox_events(billing.runtime, SubscriptionChanged, org_id=owner.org_id))[-1]
    assert last.plan == "crm"
    assert last.seats == 3
    assert last.current_period_end is not None

    invoices = (await billing.client.get("/invoices", headers=headers)).json()
    assert {i["kind"] for i in invoices} == {"subscription"}
    assert {i["status"] for i in invoices} == {"paid"}
    assert all(i["gross_cents"] == 3 * 4900 * 119 // 100 for i in invoices)

    portal = await billing.client.post("/account/portal", headers=headers)
    assert portal.status_code == 200
    async with httpx.AsyncClient() as browser:
        cancelled = await browser.post(f"{portal.json()['url']}/cancel")
        assert cancelled.status_code == 303
    await billing.handled()
    licence = (await billing.client.get("/account", headers=headers)).json()
    assert licence["status"] == "canceled"
    assert licence["licensed"] is False


async def test_trial_without_subscription_expires(billing: BillingApp) -> None:
    owner = person()
    headers = billing.headers(owner)
    assert (await billing.client.get("/account", headers=headers)).json()["licensed"]
    billing.runtime.clock.advance(timedelta(days=15))
    try:
        await billing.runtime.jobs.run_due()
        await billing.app.state.billing.end_trials(_ctx(billing))
    finally:
        billing.runtime.clock.advance(timedelta(days=-15))
    licence = (await billing.client.get("/account", headers=headers)).json()
    assert licence["status"] == "expired"
    assert licence["licensed"] is False
    statuses = [
        e.status
        for e in await outbox_events(billing.runtime, SubscriptionChanged, org_id=owner.org_id)
    ]
    assert statuses == ["trialing", "expired"]


def _ctx(billing: BillingApp) -> object:
    from pix_runtime.jobs import JobContext

    async def finish(session: object) -> None:
        return None

    return JobContext(
        job_id=0,
        kind="billing.end-trials",
        attempt=1,
        now=billing.runtime.clock.now(),
        key="periodic",
        _finish=finish,  # type: ignore[arg-type]
    )


async def test_webhook_signature_replay_and_out_of_order(billing: BillingApp) -> None:
    fake = billing.stripe
    assert fake is not None
    owner = person()
    fake.hold_webhooks = True  # deliver by hand below
    headers = billing.headers(owner)
    answer = await billing.client.post("/account/checkout", json={"seats": 1}, headers=headers)
    url = answer.json()["url"]
    async with httpx.AsyncClient() as browser:
        await browser.post(f"{url}/pay")
    sub_id = fake.objects[url.rsplit("/", 1)[1]]["subscription"]
    fake.renew(sub_id, pay=True)
    failed = fake.renew(sub_id, pay=False)
    held = list(fake.events)
    assert len(held) >= 8

    # A wrong secret, a missing header and a stale timestamp are refused and leave nothing.
    first = held[0]
    assert await fake.send(first, secret="whsec_someone_else") == 400
    missing = await billing.client.post(
        "/public/stripe/webhook", content=json.dumps(first).encode()
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "signature_invalid"
    stale = await fake.send(first, timestamp=int(fake.now) - 3600)
    assert stale == 400
    tampered = json.dumps({**first, "type": "customer.subscription.deleted"})
    forged = await billing.client.post(
        "/public/stripe/webhook",
        content=tampered.encode(),
        headers={"Stripe-Signature": sign(json.dumps(first), fake.webhook_secret)},
    )
    assert forged.status_code == 400
    async with billing.runtime.db.sessions() as session:
        recorded = await session.scalar(
            select(func.count()).where(stripe_events.c.event_id == first["id"])
        )
    assert recorded == 0

    # Newest first: the state read from Stripe is the current one whatever the order.
    for event in reversed(held):
        assert await fake.send(event) == 200
    await billing.handled()
    licence = (await billing.client.get("/account", headers=headers)).json()
    assert licence["status"] == "past_due"

    # A replay of every event is acknowledged and changes nothing.
    before = await outbox_events(billing.runtime, SubscriptionChanged, org_id=owner.org_id)
    async with billing.runtime.db.sessions() as session:
        jobs_before = await session.scalar(select(func.count()).select_from(jobs))
    for event in held:
        replay = await billing.client.post(
            "/public/stripe/webhook",
            content=json.dumps(event).encode(),
            headers={"Stripe-Signature": sign(json.dumps(event), fake.webhook_secret)},
        )
        assert replay.status_code == 200
        assert replay.json()["duplicate"] is True
    async with billing.runtime.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(jobs)) == jobs_before
    await billing.handled()
    after = await outbox_events(billing.runtime, SubscriptionChanged, org_id=owner.org_id)
    assert len(after) == len(before)

    fake.hold_webhooks = False
    fake.pay_invoice(failed["id"])
    await billing.handled()
    assert (await billing.client.get("/account", headers=headers)).json()["status"] == "active"


async def test_billing_off_licenses_everyone(billing_off: BillingApp) -> None:
    owner = person()
    headers = billing_off.headers(owner)
    licence = (await billing_off.client.get("/account", headers=headers)).json()
    assert licence["billing_enabled"] is False
    assert licence["licensed"] is True
    refused = await billing_off.client.post("/account/checkout", json={}, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "billing_off"
    webhook = await billing_off.client.post("/public/stripe/webhook", content=b"{}")
    assert webhook.status_code == 400
    assert await outbox_events(billing_off.runtime, SubscriptionChanged, org_id=owner.org_id) == []


async def test_another_organisation_is_not_found(billing: BillingApp) -> None:
    owner, stranger = person(), person()
    answer = await billing.client.get(
        f"/account?org_id={owner.org_id}", headers=billing.headers(stranger)
    )
    assert answer.status_code == 404
    admin = person("admin")
    seen = await billing.client.get(
        f"/account?org_id={owner.org_id}", headers=billing.headers(admin)
    )
    assert seen.status_code == 200
    assert seen.json()["org_id"] == str(owner.org_id)
    summary = await billing.client.get("/admin/summary", headers=billing.headers(owner))
    assert summary.status_code == 403
    assert uuid.UUID(seen.json()["org_id"]) == owner.org_id


async def test_switching_billing_on_starts_the_trial_then(
    billing_off: BillingApp, billing: BillingApp
) -> None:
    owner = person()
    billing_off.runtime.clock.advance(timedelta(days=-60))
    try:
        assert (
            await billing_off.client.get("/account", headers=billing_off.headers(owner))
        ).json()["licensed"]
    finally:
        billing_off.runtime.clock.advance(timedelta(days=60))
    assert await outbox_events(billing.runtime, SubscriptionChanged, org_id=owner.org_id) == []
    await billing.app.state.billing.end_trials(_ctx(billing))  # not ended: never announced
    licence = (await billing.client.get("/account", headers=billing.headers(owner))).json()
    assert licence["status"] == "trialing"
    assert licence["licensed"] is True
    [announced] = await outbox_events(billing.runtime, SubscriptionChanged, org_id=owner.org_id)
    assert announced.trial_end is not None
    assert announced.trial_end > billing.runtime.clock.now() + timedelta(days=13)


async def test_only_the_owner_manages_billing(billing: BillingApp) -> None:
    owner = person("owner")
    agent = person("agent", org_id=owner.org_id)
    headers = billing.headers(agent)
    assert (await billing.client.get("/account", headers=headers)).json()["licensed"] is True
    for method, path, body in (
        ("POST", "/account/checkout", {"seats": 1}),
        ("POST", "/account/portal", None),
        ("PUT", "/account/profile", {"country": "DE"}),
        ("GET", "/invoices", None),
    ):
        answer = await billing.client.request(method, path, json=body, headers=headers)
        assert answer.status_code == 403, path
    allowed = await billing.client.post(
        "/account/checkout", json={"seats": 1}, headers=billing.headers(owner)
    )
    assert allowed.status_code == 200


async def test_switching_billing_off_releases_locked_organisations(
    billing: BillingApp, billing_off: BillingApp
) -> None:
    owner = person()
    assert (await billing.client.get("/account", headers=billing.headers(owner))).json()["licensed"]
    billing.runtime.clock.advance(timedelta(days=15))
    try:
        await billing.app.state.billing.end_trials(_ctx(billing))
    finally:
        billing.runtime.clock.advance(timedelta(days=-15))
    await billing_off.app.state.billing.release_when_off()
    await billing_off.app.state.billing.release_when_off()  # once is enough
    statuses = [
        e.status
        for e in await outbox_events(billing.runtime, SubscriptionChanged, org_id=owner.org_id)
    ]
    assert statuses == ["trialing", "expired", "active"]
    # On again: the stored state is announced afresh.
    await billing.client.get("/account", headers=billing.headers(owner))
    statuses = [
        e.status
        for e in await outbox_events(billing.runtime, SubscriptionChanged, org_id=owner.org_id)
    ]
    assert statuses == ["trialing", "expired", "active", "expired"]
