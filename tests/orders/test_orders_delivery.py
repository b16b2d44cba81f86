"""Delivering a gallery delivers its order: once, from whatever status it had reached, never
for a cancelled order (TestKafkaBroker, real database)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from orders_helpers import as_user, outbox_events, person, place
from pix_contracts import GalleryDelivered, OrderStatusChanged
from pix_orders.app import create_app
from pix_orders.settings import OrdersSettings
from pix_runtime.lifecycle import ServiceRuntime

Api = tuple[httpx.AsyncClient, ServiceRuntime, Any]


@pytest.fixture
async def api(migrated: set[str]) -> AsyncIterator[Api]:
    app, runtime = create_app(OrdersSettings())
    transport = httpx.ASGITransport(app=app)
    async with (
        TestKafkaBroker(runtime.broker) as broker,
        httpx.AsyncClient(transport=transport, base_url="http://orders") as client,
    ):
        yield client, runtime, broker
    await runtime.db.dispose()


def delivery(order: dict[str, Any], number: int, by: uuid.UUID | None) -> bytes:
    return (
        GalleryDelivered(
            gallery_id=uuid.UUID(order["gallery_id"]),
            org_id=uuid.UUID(order["org_id"]),
            order_id=uuid.UUID(order["id"]),
            delivery=number,
            set_version=number,
            photos=[],
            delivered_by=by,
            automatic=by is None,
        )
        .model_dump_json()
        .encode()
    )


async def test_a_delivered_gallery_delivers_its_order_once(api: Api) -> None:
    client, runtime, broker = api
    agent = person()
    order = await place(client, runtime, agent)
    staff = uuid.uuid4()
    first = delivery(order, 1, staff)
    for body in (first, first, delivery(order, 2, None)):  # redelivered, then an update
        await broker.publish(body, GalleryDelivered.topic)

    detail = (
        await client.get(f"/orders/{order['id']}", headers=as_user(runtime, person("admin")))
    ).json()
    assert detail["status"] == "delivered"
    assert [(h["from_status"], h["to_status"]) for h in detail["history"]] == [
        (None, "received"),
        ("received", "delivered"),
    ]
    assert detail["history"][-1]["by"] == str(staff)
    [changed] = await outbox_events(runtime, OrderStatusChanged, order["id"])
    assert (changed.old_status, changed.new_status) == ("received", "delivered")
    assert changed.via == "gallery-delivery"


async def test_a_cancelled_order_stays_cancelled(api: Api) -> None:
    client, runtime, broker = api
    agent = person()
    order = await place(client, runtime, agent)
    cancelled = await client.post(
        f"/orders/{order['id']}/status",
        json={"status": "cancelled"},
        headers=as_user(runtime, agent),
    )
    assert cancelled.status_code == 200, cancelled.text
    await broker.publish(delivery(order, 1, None), GalleryDelivered.topic)
    detail = (await client.get(f"/orders/{order['id']}", headers=as_user(runtime, agent))).json()
    assert detail["status"] == "cancelled"
    statuses = [e.new_status for e in await outbox_events(runtime, OrderStatusChanged, order["id"])]
    assert statuses == ["cancelled"]
