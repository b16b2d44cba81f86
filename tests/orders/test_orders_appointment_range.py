"""The appointments of a date range (the admin's calendar): an administrator gets every
photographer's shoots of the range by day and start, a photographer their own, anyone else
403; a cancelled appointment and days outside the range stay out; a range ending before it
starts or longer than 42 days is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest
from orders_helpers import as_user, in_days, person, place
from pix_orders.app import create_app
from pix_orders.settings import OrdersSettings
from pix_runtime.lifecycle import ServiceRuntime

Api = tuple[httpx.AsyncClient, ServiceRuntime]


@pytest.fixture
async def api(migrated: set[str]) -> AsyncIterator[Api]:
    app, runtime = create_app(OrdersSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        yield client, runtime
    await runtime.db.dispose()


async def test_appointment_range_by_photographer(api: Api) -> None:
    client, runtime = api
    admin, paula, peter = person("admin"), person("photographer"), person("photographer")
    # Far ahead, so other tests' appointments in the shared schema do not fall in the range.
    base = date.fromisoformat(in_days(0)) + timedelta(days=300 + paula.user_id.int % 200)
    planned = [
        (paula, base, "14:00", "15:00"),
        (peter, base, "09:00", "10:30"),
        (paula, base + timedelta(days=2), "08:00", "09:00"),
        (peter, base + timedelta(days=9), "08:00", "09:00"),  # outside the week
        (paula, base + timedelta(days=1), "10:00", "11:00"),  # cancelled below
    ]
    placed = []
    for who, day, start, end in planned:
        order = await place(client, runtime, person("owner"))
        done = await client.put(
            f"/orders/{order['id']}/appointment",
            json={
                "date": day.isoformat(),
                "starts_at": start,
                "ends_at": end,
                "photographer_id": str(who.user_id),
                "photographer_name": "Foto",
            },
            headers=as_user(runtime, admin),
        )
        assert done.status_code == 200, done.text
        placed.append(order)
    cancelled = await client.delete(
        f"/orders/{placed[4]['id']}/appointment", headers=as_user(runtime, admin)
    )
    assert cancelled.status_code == 200

    week = {"start": base.isoformat(), "end": (base + timedelta(days=6)).isoformat()}
    everyone = await client.get("/appointments/range", params=week, headers=as_user(runtime, admin))
    assert everyone.status_code == 200, everyone.text
    assert [s["order_id"] for s in everyone.json()] == [
        placed[1]["id"],
        placed[0]["id"],
        placed[2]["id"],
    ]
    first = everyone.json()[0]
    assert first["appointment"]["photographer_id"] == str(peter.user_id)
    assert first["appointment"]["starts_at"] == "09:00:00"
    assert first["gallery_id"] == placed[1]["gallery_id"]

    own = await client.get("/appointments/range", params=week, headers=as_user(runtime, paula))
    assert [s["order_id"] for s in own.json()] == [placed[0]["id"], placed[2]["id"]]

    for role in ("owner", "agent"):
        refused = await client.get(
            "/appointments/range", params=week, headers=as_user(runtime, person(role))
        )
        assert refused.status_code == 403

    backwards = {"start": week["end"], "end": week["start"]}
    too_long = {"start": week["start"], "end": (base + timedelta(days=42)).isoformat()}
    for params, code in ((backwards, "invalid_range"), (too_long, "range_too_long")):
        refused = await client.get(
            "/appointments/range", params=params, headers=as_user(runtime, admin)
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == code
