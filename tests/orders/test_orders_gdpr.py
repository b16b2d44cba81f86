"""GDPR: a deleted account's contact data leaves its orders; the orders stay with the agency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from orders_helpers import as_user, outbox_events, person, place
from pix_contracts import OrderStatusChanged, UserDeleted, UserDeletedV2
from pix_orders.app import create_app
from pix_orders.settings import OrdersSettings
from pix_runtime.lifecycle import ServiceRuntime

Setup = tuple[httpx.AsyncClient, ServiceRuntime, Any]


@pytest.fixture
async def orders_with_broker(migrated: set[str]) -> AsyncIterator[Setup]:
    app, runtime = create_app(OrdersSettings())
    transport = httpx.ASGITransport(app=app)
    async with (
        TestKafkaBroker(runtime.broker) as broker,
        httpx.AsyncClient(transport=transport, base_url="http://orders") as client,
    ):
        yield client, runtime, broker
    await runtime.db.dispose()


async def test_a_deleted_user_is_anonymised_in_their_orders_once(
    orders_with_broker: Setup,
) -> None:
    client, runtime, broker = orders_with_broker
    leaving, staying, staff = person(), person(), person("admin")
    colleague = person(org_id=leaving.org_id)
    gone = await place(client, runtime, leaving)
    kept = await place(client, runtime, colleague, contact_name="Karl Kollege")
    await client.post(
        f"/orders/{gone['id']}/status",
        json={"status": "cancelled"},
        headers=as_user(runtime, leaving),
    )
    event = UserDeletedV2(user_id=leaving.user_id, org_id=leaving.org_id, email_digest="0" * 64)
    for _ in range(2):  # a redelivery changes nothing
        await broker.publish(event.model_dump_json().encode(), UserDeletedV2.topic)

    seen = (await client.get(f"/orders/{gone['id']}", headers=as_user(runtime, colleague))).json()
    assert seen["contact_name"] == "gelöscht"
    assert seen["contact_email"] == f"deleted+{gone['id']}@invalid"
    assert seen["contact_phone"] is None
    assert gone["access_notes"]
    assert seen["access_notes"] == ""
    # The organisation keeps the order itself: address, services, history.
    assert seen["property_address"] == gone["property_address"]
    assert seen["total_cents"] == gone["total_cents"]
    assert [h["to_status"] for h in seen["history"]] == ["received", "cancelled"]
    assert {h["by_name"] for h in seen["history"]} == {None}

    other = (await client.get(f"/orders/{kept['id']}", headers=as_user(runtime, colleague))).json()
    assert other["contact_name"] == "Karl Kollege"
    assert other["contact_phone"] == "+49301234567"
    assert other["access_notes"] == kept["access_notes"] != ""
    assert staying.user_id != leaving.user_id

    # Nobody is left to email about later changes of the anonymised order (the deprecated v1,
    # still drained, works the same).
    later = await place(client, runtime, leaving)
    await broker.publish(
        UserDeleted(user_id=leaving.user_id, org_id=leaving.org_id, email=leaving.email)
        .model_dump_json()
        .encode(),
        UserDeleted.topic,
    )
    moved = await client.post(
        f"/orders/{later['id']}/status",
        json={"status": "confirmed"},
        headers=as_user(runtime, staff),
    )
    assert moved.status_code == 200
    assert await outbox_events(runtime, OrderStatusChanged, later["id"]) == []
