"""Appointments on the real database, in-process: administrators schedule, reschedule and
cancel; the assigned photographer sees that order and no other; every change is announced."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from orders_helpers import as_user, in_days, outbox_events, person, place
from pix_contracts.appointments import (
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentScheduled,
)
from pix_orders.app import create_app
from pix_orders.models import orders
from pix_orders.settings import OrdersSettings
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import update

Api = tuple[httpx.AsyncClient, ServiceRuntime]


@pytest.fixture
async def api(migrated: set[str]) -> AsyncIterator[Api]:
    app, runtime = create_app(OrdersSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        yield client, runtime
    await runtime.db.dispose()


def slot(
    photographer_id: object, day: int = 3, start: str = "09:00", end: str = "11:00"
) -> dict[str, object]:
    return {
        "date": in_days(day),
        "starts_at": start,
        "ends_at": end,
        "photographer_id": str(photographer_id),
        "photographer_email": "foto@pix-example.de",
        "photographer_name": "Paula Foto",
    }


async def test_admin_schedules_and_the_photographer_sees_only_that_order(api: Api) -> None:
    client, runtime = api
    agent, admin, shooter, other = (
        person("owner"),
        person("admin"),
        person("photographer"),
        person("photographer"),
    )
    order = await place(client, runtime, agent)
    unassigned = await place(client, runtime, person("owner"))
    url = f"/orders/{order['id']}/appointment"

    # Only administrators assign.
    for who in (agent, shooter):
        refused = await client.put(url, json=slot(shooter.user_id), headers=as_user(runtime, who))
        assert refused.status_code == 403, refused.text
    done = await client.put(url, json=slot(shooter.user_id), headers=as_user(runtime, admin))
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["sequence"] == 0
    assert body["cancelled"] is False
    assert body["appointment"]["photographer_id"] == str(shooter.user_id)
    assert body["map_url"] == (
        "https://www.openstreetmap.org/search?query=Lindenallee+5a%2C+10115+Berlin"
    )

    # The photographer's list holds their order only, with address, access notes and contact.
    mine = await client.get("/orders", headers=as_user(runtime, shooter))
    assert mine.status_code == 200
    assert [o["id"] for o in mine.json()] == [order["id"]]
    seen = mine.json()[0]
    assert seen["property_address"] == "Lindenallee 5a, 10115 Berlin"
    assert seen["access_notes"] == "Schlüssel beim Hausmeister"
    assert seen["contact_email"] == "erika@makler-example.de"
    assert seen["contact_phone"] == "+49301234567"
    detail = await client.get(f"/orders/{order['id']}", headers=as_user(runtime, shooter))
    assert detail.status_code == 200
    assert detail.json()["allowed_transitions"] == []
    assert (await client.get(url, headers=as_user(runtime, shooter))).status_code == 200

    # Every other order is absent for them, and for another photographer this one is.
    for path in (f"/orders/{unassigned['id']}", f"/orders/{unassigned['id']}/appointment"):
        assert (await client.get(path, headers=as_user(runtime, shooter))).status_code == 404
    assert (
        await client.get(f"/orders/{order['id']}", headers=as_user(runtime, other))
    ).status_code == 404
    assert (await client.get(url, headers=as_user(runtime, other))).status_code == 404
    assert (await client.get("/orders", headers=as_user(runtime, other))).json() == []
    cancel_attempt = await client.post(
        f"/orders/{order['id']}/status",
        json={"status": "cancelled"},
        headers=as_user(runtime, shooter),
    )
    assert cancel_attempt.status_code == 409
    # The client still sees their own order's appointment.
    assert (await client.get(url, headers=as_user(runtime, agent))).status_code == 200

    scheduled = await outbox_events(runtime, AppointmentScheduled, order["id"])
    assert len(scheduled) == 1
    assert scheduled[0].appointment.photographer_id == shooter.user_id
    assert scheduled[0].gallery_id is not None
    assert scheduled[0].sequence == 0


async def test_reschedule_and_cancel_raise_the_sequence_and_are_announced(api: Api) -> None:
    client, runtime = api
    admin, shooter, second = person("admin"), person("photographer"), person("photographer")
    order = await place(client, runtime, person("owner"))
    url = f"/orders/{order['id']}/appointment"
    headers = as_user(runtime, admin)

    assert (await client.put(url, json=slot(shooter.user_id), headers=headers)).status_code == 200
    moved = await client.put(
        url, json=slot(second.user_id, day=5, start="14:00", end="16:00"), headers=headers
    )
    assert moved.json()["sequence"] == 1
    changed = await outbox_events(runtime, AppointmentChanged, order["id"])
    assert len(changed) == 1
    assert changed[0].previous.photographer_id == shooter.user_id
    assert changed[0].appointment.photographer_id == second.user_id
    # The first photographer lost the order with the reassignment.
    lost = await client.get(f"/orders/{order['id']}", headers=as_user(runtime, shooter))
    assert lost.status_code == 404

    gone = await client.delete(url, headers=headers)
    assert gone.status_code == 200
    assert gone.json()["sequence"] == 2
    assert gone.json()["cancelled"]
    cancelled = await outbox_events(runtime, AppointmentCancelled, order["id"])
    assert [e.sequence for e in cancelled] == [2]
    assert (await client.get("/orders", headers=as_user(runtime, second))).json() == []
    assert (await client.delete(url, headers=headers)).status_code == 404

    # Scheduled again after a cancellation: a new "scheduled" with the sequence still rising.
    again = await client.put(url, json=slot(second.user_id), headers=headers)
    assert again.json()["sequence"] == 3
    assert [
        e.sequence for e in await outbox_events(runtime, AppointmentScheduled, order["id"])
    ] == [0, 3]


async def test_a_window_must_end_after_it_starts(api: Api) -> None:
    client, runtime = api
    order = await place(client, runtime, person("owner"))
    bad = await client.put(
        f"/orders/{order['id']}/appointment",
        json=slot(person("photographer").user_id, start="12:00", end="10:00"),
        headers=as_user(runtime, person("admin")),
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "ends_at"


async def test_the_photographers_day_lists_their_shoots_by_start(api: Api) -> None:
    client, runtime = api
    admin, paula, bernd = person("admin"), person("photographer"), person("photographer")
    late = await place(client, runtime, person("owner"))
    early = await place(client, runtime, person("owner"), access_notes="Code 1234")
    elsewhere = await place(client, runtime, person("owner"))
    headers = as_user(runtime, admin)
    for order, who, start, end in (
        (late, paula, "14:00", "16:00"),
        (early, paula, "08:00", "10:00"),
        (elsewhere, bernd, "09:00", "11:00"),
    ):
        body = slot(who.user_id, day=2, start=start, end=end)
        put = await client.put(f"/orders/{order['id']}/appointment", json=body, headers=headers)
        assert put.status_code == 200, put.text

    day = await client.get(
        "/appointments", params={"day": in_days(2)}, headers=as_user(runtime, paula)
    )
    assert day.status_code == 200, day.text
    shoots = day.json()
    assert [s["order_id"] for s in shoots] == [early["id"], late["id"]]
    assert shoots[0]["access_notes"] == "Code 1234"
    assert shoots[0]["contact_name"] == "Erika Muster"
    assert shoots[0]["map_url"].startswith("https://www.openstreetmap.org/search?query=")
    other_day = await client.get(
        "/appointments", params={"day": in_days(3)}, headers=as_user(runtime, paula)
    )
    assert other_day.json() == []
    everyone = await client.get("/appointments", params={"day": in_days(2)}, headers=headers)
    assert (
        len(
            [
                s
                for s in everyone.json()
                if s["order_id"] in {late["id"], early["id"], elsewhere["id"]}
            ]
        )
        == 3
    )
    refused = await client.get(
        "/appointments", params={"day": in_days(2)}, headers=as_user(runtime, person("owner"))
    )
    assert refused.status_code == 403


async def test_an_order_whose_client_erased_their_account_is_scheduled_without_mail(
    api: Api,
) -> None:
    client, runtime = api
    order = await place(client, runtime, person("owner"))
    async with runtime.db.transaction() as session:
        await session.execute(
            update(orders)
            .where(orders.c.id == uuid.UUID(order["id"]))
            .values(contact_email=f"deleted+{order['id']}@invalid")
        )
    done = await client.put(
        f"/orders/{order['id']}/appointment",
        json=slot(person("photographer").user_id),
        headers=as_user(runtime, person("admin")),
    )
    assert done.status_code == 200, done.text
    [event] = await outbox_events(runtime, AppointmentScheduled, order["id"])
    assert event.contact_email is None
