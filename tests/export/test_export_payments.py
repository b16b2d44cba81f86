"""Paid orders: billing's payment-required / paid events hold and release a gallery's downloads,
its announcement, webhook deliveries and CRM pushes (real PostgreSQL, TestKafkaBroker, a real
webhook receiver and the local Propstack server)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from crm_fakes import FakePropstack, serve
from export_testkit import Service, caption_ready, export_service, order_placed, uploaded
from pix_contracts.billing import OrderPaid, OrderPaymentRequired
from test_export_webhooks import Receiver

API_KEY = "ps-key-" + "p" * 30
PROPERTY = 4242
NAMES = ("Kitchen_01", "Bathroom_01")


def payment_required(
    gallery_id: uuid.UUID, org_id: uuid.UUID, order_id: uuid.UUID
) -> OrderPaymentRequired:
    return OrderPaymentRequired(
        order_id=order_id, org_id=org_id, gallery_id=gallery_id, gross_cents=37800
    )


def paid(
    gallery_id: uuid.UUID,
    org_id: uuid.UUID,
    order_id: uuid.UUID,
    via: Literal["stripe", "bank_transfer", "waived"] = "stripe",
) -> OrderPaid:
    return OrderPaid(
        order_id=order_id,
        org_id=org_id,
        gallery_id=gallery_id,
        invoice_number="PIX-2026-000001",
        via=via,
        paid_at=datetime.now(UTC),
    )


async def delivered_gallery(svc: Service, gallery_id: uuid.UUID, org_id: uuid.UUID) -> None:
    for name in NAMES:
        await svc.publish(await uploaded(svc, gallery_id, org_id, name))
    for name in NAMES:
        await svc.publish(caption_ready(gallery_id, org_id, name))
    await svc.deliver(gallery_id, org_id, list(NAMES))


async def downloads(
    http: httpx.AsyncClient, svc: Service, gallery_id: uuid.UUID, org_id: uuid.UUID
) -> dict[str, httpx.Response]:
    me = svc.headers(org_id)
    base = f"/galleries/{gallery_id}/exports"
    return {
        "list": await http.get(base, headers=me),
        "latest": await http.get(f"{base}/latest", headers=me),
        "version": await http.get(f"{base}/1", headers=me),
        "bundle": await http.post(f"{base}/1/bundle", headers=me),
    }


async def logs(
    http: httpx.AsyncClient, svc: Service, gallery_id: uuid.UUID, org_id: uuid.UUID, hook: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    me = svc.headers(org_id)
    deliveries = (await http.get(f"/webhooks/{hook}/deliveries", headers=me)).json()
    pushes = (await http.get(f"/galleries/{gallery_id}/crm-pushes", headers=me)).json()
    return deliveries, pushes


async def test_a_gallery_waits_for_its_payment_and_everything_goes_out_once_paid(
    migrated: set[str],
) -> None:
    receiver = Receiver()
    fake = FakePropstack(API_KEY, {PROPERTY})
    with serve(fake.app) as base:
        async with export_service(propstack_url=base + "/v1") as svc:
            gallery_id, org_id, order_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            me = svc.headers(org_id)
            async with svc.client() as http:
                created = await http.post("/webhooks", json={"url": receiver.url}, headers=me)
                hook = created.json()
                receiver.secret = hook["secret"]
                await http.put("/crm/connections/propstack", json={"api_key": API_KEY}, headers=me)
                await svc.publish(order_placed(gallery_id, org_id, "PIX-004242"))
                await svc.publish(payment_required(gallery_id, org_id, order_id))

                await delivered_gallery(svc, gallery_id, org_id)
                # The version is built (files written) but held: not announced, nothing sent.
                assert await svc.versions(gallery_id) == [1]
                assert await svc.exported(gallery_id) == []
                for name, answer in (await downloads(http, svc, gallery_id, org_id)).items():
                    assert answer.status_code == 402, (name, answer.text)
                    assert answer.json()["error"]["code"] == "payment_required"
                    assert "/billing" in answer.json()["error"]["message"]
                # Mapping the CRM record meanwhile pushes nothing either.
                target = await http.put(
                    f"/galleries/{gallery_id}/crm-targets/propstack",
                    json={"record_id": PROPERTY},
                    headers=me,
                )
                assert target.status_code == 200, target.text
                assert await logs(http, svc, gallery_id, org_id, hook["id"]) == ([], [])
                assert await svc.runtime.jobs.run_due() == 0
                # Another organisation still gets 404, not a hint that the gallery exists.
                foreign = await http.get(
                    f"/galleries/{gallery_id}/exports", headers=svc.headers(uuid.uuid4())
                )
                assert foreign.status_code == 404

                event = paid(gallery_id, org_id, order_id)
                await svc.publish(event)
                await svc.publish(event)  # redelivered: released once
                [announced] = await svc.exported(gallery_id)
                assert (announced.version, announced.delivery, announced.complete) == (1, 1, True)
                assert announced.reference == "PIX-004242"
                listed = await http.get(f"/galleries/{gallery_id}/exports", headers=me)
                assert listed.status_code == 200, listed.text
                assert [v["version"] for v in listed.json()] == [1]
                bundle = await http.post(f"/galleries/{gallery_id}/exports/1/bundle", headers=me)
                assert bundle.status_code == 200, bundle.text
                deliveries, pushes = await logs(http, svc, gallery_id, org_id, hook["id"])
                assert [d["status"] for d in deliveries] == ["pending"]
                assert [(p["version"], p["status"]) for p in pushes] == [(1, "pending")]

                assert await svc.runtime.jobs.run_due() == 2
                deliveries, pushes = await logs(http, svc, gallery_id, org_id, hook["id"])
                assert [d["status"] for d in deliveries] == ["delivered"]
                assert [p["status"] for p in pushes] == ["pushed"]
                assert await svc.runtime.jobs.run_due() == 0
    [sent] = receiver.accepted
    assert sent["data"]["version"] == 1
    assert sent["data"]["event_id"] == str(announced.event_id)
    assert sorted(i["title"] for i in fake.images) == sorted(
        caption_ready(gallery_id, org_id, n).caption.title_de for n in NAMES
    )
    assert fake.problems == []


async def test_paid_before_payment_required_ends_unlocked(migrated: set[str]) -> None:
    async with export_service() as svc:
        gallery_id, org_id, order_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        # The paid event overtakes the payment-required one (different topics).
        await svc.publish(paid(gallery_id, org_id, order_id, via="bank_transfer"))
        await svc.publish(payment_required(gallery_id, org_id, order_id))
        await delivered_gallery(svc, gallery_id, org_id)
        [announced] = await svc.exported(gallery_id)
        assert announced.delivery == 1
        async with svc.client() as http:
            answers = await downloads(http, svc, gallery_id, org_id)
        assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(answers, 200)


async def test_a_gallery_with_two_orders_to_pay_is_released_when_both_are_paid(
    migrated: set[str],
) -> None:
    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        first, second = uuid.uuid4(), uuid.uuid4()
        await svc.publish(payment_required(gallery_id, org_id, first))
        await svc.publish(payment_required(gallery_id, org_id, second))
        await delivered_gallery(svc, gallery_id, org_id)
        await svc.publish(paid(gallery_id, org_id, first))
        assert await svc.exported(gallery_id) == []
        await svc.publish(paid(gallery_id, org_id, second, via="waived"))
        assert [e.version for e in await svc.exported(gallery_id)] == [1]


async def test_without_payment_required_nothing_is_ever_held(migrated: set[str]) -> None:
    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        await svc.publish(order_placed(gallery_id, org_id, "PIX-000001"))
        await delivered_gallery(svc, gallery_id, org_id)
        [announced] = await svc.exported(gallery_id)
        assert announced.delivery == 1
        async with svc.client() as http:
            answers = await downloads(http, svc, gallery_id, org_id)
        assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(answers, 200)
        # A stray paid event (billing switched on later, a waiver) changes nothing.
        await svc.publish(paid(gallery_id, org_id, uuid.uuid4(), via="waived"))
        assert [e.version for e in await svc.exported(gallery_id)] == [1]
