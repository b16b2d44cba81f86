"""The order workflow, internal notes, the admin list and its CSV export."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from orders_helpers import as_user, outbox_events, person, place
from pix_contracts import OrderStatusChanged
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


async def move(
    api: Api, order_id: str, who: object, status: str, note: str | None = None
) -> httpx.Response:
    client, runtime = api
    return await client.post(
        f"/orders/{order_id}/status",
        json={"status": status, "note": note},
        headers=as_user(runtime, who),  # type: ignore[arg-type]
    )


async def test_an_admin_runs_an_order_to_delivery_and_every_step_is_recorded(api: Api) -> None:
    client, runtime = api
    agent, staff = person(), person("admin", name="Paula Photo")
    order = await place(client, runtime, agent, locale="en")
    steps = [
        ("confirmed", None),
        ("scheduled", "Di 10 Uhr"),
        ("shot", None),
        ("delivered", "fertig"),
    ]
    for status, note in steps:
        response = await move(api, order["id"], staff, status, note)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    detail = response.json()
    assert detail["allowed_transitions"] == []
    assert [(h["from_status"], h["to_status"], h["note"]) for h in detail["history"]] == [
        (None, "received", None),
        ("received", "confirmed", None),
        ("confirmed", "scheduled", "Di 10 Uhr"),
        ("scheduled", "shot", None),
        ("shot", "delivered", "fertig"),
    ]
    assert {h["by"] for h in detail["history"][1:]} == {str(staff.user_id)}
    assert detail["history"][1]["by_name"] == "Paula Photo"
    assert detail["history"][0]["by"] == str(agent.user_id)

    # The client sees who at their own agency acted, not the names of platform staff.
    mine = (await client.get(f"/orders/{order['id']}", headers=as_user(runtime, agent))).json()
    assert mine["history"][0]["by_name"] == "Erika Muster"
    assert mine["history"][1]["by_name"] is None

    events = await outbox_events(runtime, OrderStatusChanged, order["id"])
    assert [(e.old_status, e.new_status) for e in events] == [
        ("received", "confirmed"),
        ("confirmed", "scheduled"),
        ("scheduled", "shot"),
        ("shot", "delivered"),
    ]
    assert {str(e.contact_email) for e in events} == {"erika@makler-example.de"}
    assert {e.locale for e in events} == {"en"}
    assert events[1].note == "Di 10 Uhr"
    assert events[0].changed_by == staff.user_id
    assert events[0].property_address == "Lindenallee 5a, 10115 Berlin"


async def test_clients_may_only_cancel_before_the_date_is_fixed(api: Api) -> None:
    client, runtime = api
    agent, staff = person(), person("admin")
    order = await place(client, runtime, agent)
    for status in ("confirmed", "scheduled", "shot", "delivered"):
        refused = await move(api, order["id"], agent, status)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "transition_not_allowed"
    assert (await move(api, order["id"], staff, "confirmed")).status_code == 200
    colleague = person(org_id=agent.org_id)
    cancelled = await move(api, order["id"], colleague, "cancelled", "Verkauft")
    assert cancelled.status_code == 200
    assert cancelled.json()["allowed_transitions"] == []
    # Cancelled is final, also for an admin; the same step twice is refused.
    for status in ("cancelled", "confirmed", "received"):
        assert (await move(api, order["id"], staff, status)).status_code == 409

    later = await place(client, runtime, agent)
    await move(api, later["id"], staff, "confirmed")
    await move(api, later["id"], staff, "scheduled")
    assert (await move(api, later["id"], agent, "cancelled")).status_code == 409
    detail = (await client.get(f"/orders/{later['id']}", headers=as_user(runtime, agent))).json()
    assert detail["allowed_transitions"] == []
    admin_view = (
        await client.get(f"/orders/{later['id']}", headers=as_user(runtime, staff))
    ).json()
    assert admin_view["allowed_transitions"] == ["shot", "cancelled"]


async def test_admins_can_skip_nothing(api: Api) -> None:
    client, runtime = api
    staff = person("admin")
    order = await place(client, runtime, person())
    for status in ("scheduled", "shot", "delivered"):
        assert (await move(api, order["id"], staff, status)).status_code == 409
    assert (await move(api, order["id"], staff, "unknown")).status_code == 422
    assert len(await outbox_events(runtime, OrderStatusChanged, order["id"])) == 0


async def test_internal_notes_are_for_admins_only(api: Api) -> None:
    client, runtime = api
    agent, staff = person(), person("admin", name="Anna Admin")
    order = await place(client, runtime, agent)
    url = f"/orders/{order['id']}/notes"
    added = await client.post(
        url, json={"text": "Kunde ruft zurück"}, headers=as_user(runtime, staff)
    )
    assert added.status_code == 201
    assert added.json()["text"] == "Kunde ruft zurück"
    assert added.json()["by_name"] == "Anna Admin"
    refused = await client.post(url, json={"text": "ich auch"}, headers=as_user(runtime, agent))
    assert refused.status_code == 403
    empty = await client.post(url, json={"text": "  "}, headers=as_user(runtime, staff))
    assert empty.status_code == 422
    missing = await client.post(
        f"/orders/{uuid.uuid4()}/notes", json={"text": "x"}, headers=as_user(runtime, staff)
    )
    assert missing.status_code == 404

    seen_by_admin = (
        await client.get(f"/orders/{order['id']}", headers=as_user(runtime, staff))
    ).json()
    assert [n["text"] for n in seen_by_admin["internal_notes"]] == ["Kunde ruft zurück"]
    seen_by_client = (
        await client.get(f"/orders/{order['id']}", headers=as_user(runtime, agent))
    ).json()
    assert "internal_notes" not in seen_by_client


async def test_admins_filter_and_search_all_orders(api: Api) -> None:
    client, runtime = api
    staff = person("admin")
    agency = person()
    marker = uuid.uuid4().hex[:8]
    first = await place(client, runtime, agency, contact_name=f"Frau {marker}")
    second = await place(client, runtime, person(), city=f"Ort{marker}")
    await move(api, second["id"], staff, "confirmed")
    admin = as_user(runtime, staff)

    found = (await client.get(f"/orders?q={marker}", headers=admin)).json()
    assert [o["id"] for o in found] == [second["id"], first["id"]]  # newest first
    confirmed = (await client.get(f"/orders?q={marker}&status=confirmed", headers=admin)).json()
    assert [o["id"] for o in confirmed] == [second["id"]]
    by_org = (await client.get(f"/orders?org_id={agency.org_id}", headers=admin)).json()
    assert [o["id"] for o in by_org] == [first["id"]]
    by_reference = (
        await client.get(f"/orders?q={first['reference'].lower()}", headers=admin)
    ).json()
    assert [o["id"] for o in by_reference] == [first["id"]]
    # The filter counts days in Berlin, as the agents do: 23:30 UTC is already tomorrow there.
    placed = datetime.fromisoformat(first["created_at"].replace("Z", "+00:00"))
    today = placed.astimezone(ZoneInfo("Europe/Berlin")).date().isoformat()
    dated = await client.get(
        f"/orders?q={marker}&placed_from={today}&placed_to={today}", headers=admin
    )
    assert len(dated.json()) == 2
    before = await client.get(f"/orders?q={marker}&placed_to=2020-01-01", headers=admin)
    assert before.json() == []
    # LIKE wildcards in the search are taken literally.
    assert (await client.get("/orders?q=%25%25%25_", headers=admin)).json() == []
    # A client's list is its organisation's, whatever it searches.
    theirs = (await client.get(f"/orders?q={marker}", headers=as_user(runtime, agency))).json()
    assert [o["id"] for o in theirs] == [first["id"]]


async def test_admins_export_orders_as_csv_for_german_excel(api: Api) -> None:
    client, runtime = api
    staff = person("admin")
    marker = uuid.uuid4().hex[:8]
    order = await place(
        client,
        runtime,
        person(),
        contact_name=f"Jörg Müller {marker}",
        access_notes='=HYPERLINK("http://evil.example")',
        living_area_m2=123.25,
        marketing="rent",
    )
    response = await client.get(f"/orders.csv?q={marker}", headers=as_user(runtime, staff))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    raw = response.content
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Auftrag", "Eingang", "Status"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Auftrag"] == order["reference"]
    assert row["Ansprechpartner"] == f"Jörg Müller {marker}"
    assert row["Telefon"] == "+49301234567"
    assert row["Wohnfläche m²"] == "123,25"
    assert row["Vermarktung"] == "Miete"
    assert row["Summe EUR"] == "288,00"
    # Words of the German catalogue, not keys; no organisation UUID (a spreadsheet cannot use it).
    assert row["Status"] == "eingegangen"
    assert row["Objektart"] == "Wohnung"
    assert row["Leistungen"] == "Fotos, Grundriss"
    assert row["Wunschtermine"].endswith("ganztags")
    assert "vormittags" in row["Wunschtermine"]
    assert "Organisation" not in row
    assert str(order["org_id"]) not in raw.decode("utf-8-sig")
    assert row["Zugang"].startswith("'=")  # no formula runs when Excel opens it
    refused = await client.get("/orders.csv", headers=as_user(runtime, person()))
    assert refused.status_code == 403
