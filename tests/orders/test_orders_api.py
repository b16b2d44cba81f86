"""The orders API on the real database, in-process: form validation, idempotency, tenancy."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from orders_helpers import as_user, in_days, outbox_events, person, place, valid_order
from pix_contracts import OrderPlaced
from pix_orders.app import create_app
from pix_orders.models import orders
from pix_orders.settings import OrdersSettings
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import func, select

Api = tuple[httpx.AsyncClient, ServiceRuntime]


@pytest.fixture
async def api(migrated: set[str]) -> AsyncIterator[Api]:
    app, runtime = create_app(OrdersSettings(prices={"drone": 9900}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        yield client, runtime
    await runtime.db.dispose()


async def submit(api: Api, body: dict[str, object], who: object = None) -> httpx.Response:
    client, runtime = api
    return await client.post("/orders", json=body, headers=as_user(runtime, who or person()))  # type: ignore[arg-type]


async def test_a_valid_order_is_placed_normalised_priced_and_announced(api: Api) -> None:
    client, runtime = api
    agent = person()
    order = await place(
        client,
        runtime,
        agent,
        services=["photos", "drone", "photos"],
        contact_email=" Erika@Makler-Example.de ",
    )
    assert order["status"] == "received"
    assert order["reference"].startswith("PIX-")
    assert order["org_id"] == str(agent.org_id)
    assert order["contact_phone"] == "+49301234567"
    assert order["contact_email"] == "Erika@makler-example.de"  # domain lower-cased
    assert order["property_address"] == "Lindenallee 5a, 10115 Berlin"
    # Duplicates drop out; the configured price of the drone (99 €) is stored with the order.
    assert order["services"] == [
        {"key": "photos", "price_cents": 19900},
        {"key": "drone", "price_cents": 9900},
    ]
    assert order["total_cents"] == 29800
    assert order["currency"] == "EUR"
    assert order["living_area_m2"] == 84.5
    assert order["rooms"] == 3.5
    assert order["preferred_slots"][0] == {"date": in_days(3), "window": "morning"}

    [event] = await outbox_events(runtime, OrderPlaced, order["id"])
    assert event.gallery_id == uuid.UUID(order["gallery_id"])
    assert event.contact_phone == "+49301234567"
    assert [s.key for s in event.services] == ["photos", "drone"]
    assert event.total_cents == 29800
    assert event.property_address == "Lindenallee 5a, 10115 Berlin"
    # The property's facts travel structured, for listings and CRM exports.
    assert (event.street, event.house_number, event.postcode, event.city, event.country) == (
        "Lindenallee",
        "5a",
        "10115",
        "Berlin",
        "DE",
    )
    assert (event.marketing, event.living_area_m2, event.rooms) == ("sale", 84.5, 3.5)
    assert event.property_type == "apartment"
    assert order["marketing"] == "sale"

    detail = (await client.get(f"/orders/{order['id']}", headers=as_user(runtime, agent))).json()
    assert [(h["from_status"], h["to_status"]) for h in detail["history"]] == [(None, "received")]
    assert detail["allowed_transitions"] == ["cancelled"]
    assert "internal_notes" not in detail


async def test_the_price_list_names_every_service_with_its_configured_price(api: Api) -> None:
    client, runtime = api
    response = await client.get("/price-list", headers=as_user(runtime, person()))
    assert response.status_code == 200
    prices = {p["key"]: p for p in response.json()}
    assert list(prices) == ["photos", "drone", "tour360", "floorplan", "video"]
    assert prices["drone"] == {
        "key": "drone",
        "label_de": "Drohne",
        "label_en": "Drone",
        "price_cents": 9900,
    }
    assert prices["tour360"]["label_de"] == "360°-Tour"


async def test_every_missing_field_is_reported_at_once(api: Api) -> None:
    response = await submit(api, {})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {
        "contact_name": "required",
        "contact_email": "required",
        "country": "required",
        "contact_phone": "required",
        "street": "required",
        "house_number": "required",
        "city": "required",
        "postcode": "required",
        "property_type": "required",
        "marketing": "required",
        "services": "no_service",
        "preferred_slots": "no_slot",
    }
    assert error["field"] == "contact_name"


async def test_wrong_values_are_reported_per_field_with_their_codes(api: Api) -> None:
    body = valid_order(
        contact_email="erika@",
        contact_phone="12345",
        postcode="1011",
        living_area_m2=0,
        rooms=3.7,
        services=["photos", "helicopter"],
        preferred_slots=[
            {"date": in_days(0), "window": "morning"},
            {"date": "2026-13-40", "window": "evening"},
            {"date": in_days(900), "window": None},
        ],
        access_notes="x" * 2001,
    )
    response = await submit(api, body)
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {
        "contact_email": "invalid_email",
        "contact_phone": "invalid_phone",
        "postcode": "postcode_format",
        "living_area_m2": "out_of_range",
        "rooms": "out_of_range",
        "services": "unknown_service",
        "preferred_slots.0.date": "date_in_past",
        "preferred_slots.1.date": "invalid_date",
        "preferred_slots.1.window": "invalid_window",
        "preferred_slots.2.date": "out_of_range",
        "preferred_slots.2.window": "required",
        "access_notes": "too_long",
    }


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"country": "FR"}, {"country": "country_unsupported"}),
        (
            {"country": "AT", "postcode": "10115", "contact_phone": "+49 30 1234567"},
            {"postcode": "postcode_format"},
        ),
        (
            {"country": "CH", "postcode": "80", "contact_phone": "+49 30 1234567"},
            {"postcode": "postcode_format"},
        ),
        ({"country": "AT", "postcode": "1010"}, {"contact_phone": "invalid_phone"}),
        ({"contact_name": "n" * 201}, {"contact_name": "too_long"}),
        ({"rooms": 101}, {"rooms": "out_of_range"}),
        ({"living_area_m2": 100_001}, {"living_area_m2": "out_of_range"}),
        ({"living_area_m2": None}, {"living_area_m2": "required"}),
        ({"property_type": "castle"}, {"property_type": "invalid_choice"}),
        ({"marketing": None}, {"marketing": "required"}),
        ({"marketing": "lease"}, {"marketing": "invalid_choice"}),
        ({"living_area_m2": "abc"}, {"living_area_m2": "not_a_number"}),
        ({"rooms": "drei"}, {"rooms": "not_a_number"}),
        (
            {"preferred_slots": [{"date": in_days(d), "window": "morning"} for d in (1, 2, 3, 4)]},
            {"preferred_slots": "too_many_slots"},
        ),
    ],
)
async def test_each_rule_names_its_field(
    api: Api, changes: dict[str, object], fields: dict[str, str]
) -> None:
    response = await submit(api, valid_order(**changes))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"] == fields


async def test_a_word_for_a_number_is_one_field_error_among_all_the_others(api: Api) -> None:
    """#15.12: "abc" as the living area used to be the only error the form showed."""
    body = valid_order(
        living_area_m2="abc",
        rooms="2,5",
        contact_email="erika@",
        postcode="1011",
        marketing=None,
        preferred_slots=[],
    )
    response = await submit(api, body)
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {
        "contact_email": "invalid_email",
        "postcode": "postcode_format",
        "marketing": "required",
        "living_area_m2": "not_a_number",
        "preferred_slots": "no_slot",
    }


async def test_numbers_typed_the_german_way_are_read(api: Api) -> None:
    client, runtime = api
    order = await place(
        client, runtime, person(), living_area_m2="94,5", rooms=" 3 ", marketing="rent"
    )
    assert (order["living_area_m2"], order["rooms"], order["marketing"]) == (94.5, 3.0, "rent")
    grouped = await place(client, runtime, person(), living_area_m2="1.250,5")
    assert grouped["living_area_m2"] == 1250.5


async def test_phones_are_read_in_the_property_country_and_land_needs_no_area(api: Api) -> None:
    client, runtime = api
    vienna = await place(
        client,
        runtime,
        person(),
        country="AT",
        postcode="1010",
        city="Wien",
        contact_phone="0664 1234567",
        property_type="land",
        living_area_m2=None,
        rooms=None,
    )
    assert vienna["contact_phone"] == "+436641234567"
    assert vienna["living_area_m2"] is None
    assert vienna["property_address"] == "Lindenallee 5a, 1010 Wien, Österreich"
    zurich = await place(
        client, runtime, person(), country="CH", postcode="8001", contact_phone="044 668 18 00"
    )
    assert zurich["contact_phone"] == "+41446681800"
    # A number with its country code is fine whatever the property's country.
    german = await place(
        client, runtime, person(), country="CH", postcode="8001", contact_phone="+49 30 1234567"
    )
    assert german["contact_phone"] == "+49301234567"


async def test_a_repeated_idempotency_key_returns_the_first_order(api: Api) -> None:
    client, runtime = api
    agent = person()
    headers = {**as_user(runtime, agent), "Idempotency-Key": f"form-{uuid.uuid4()}"}
    first = await client.post("/orders", json=valid_order(), headers=headers)
    again = await client.post("/orders", json=valid_order(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    # Another organisation may happen to use the same key: that is a different order.
    other = {**as_user(runtime, person()), "Idempotency-Key": headers["Idempotency-Key"]}
    theirs = await client.post("/orders", json=valid_order(), headers=other)
    assert theirs.status_code == 201
    assert theirs.json()["id"] != first.json()["id"]
    assert len(await outbox_events(runtime, OrderPlaced, first.json()["id"])) == 1


async def test_a_concurrent_double_submit_creates_one_order(api: Api) -> None:
    client, runtime = api
    agent = person()
    headers = {**as_user(runtime, agent), "Idempotency-Key": f"double-{uuid.uuid4()}"}
    responses = await asyncio.gather(
        *(client.post("/orders", json=valid_order(), headers=headers) for _ in range(6))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    async with runtime.db.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(orders).where(orders.c.org_id == agent.org_id)
        )
    assert count == 1
    assert len(await outbox_events(runtime, OrderPlaced, responses[0].json()["id"])) == 1


async def test_another_organisations_order_does_not_exist_for_a_client(api: Api) -> None:
    client, runtime = api
    owner, stranger, colleague = person(), person(), None
    order = await place(client, runtime, owner)
    colleague = person(org_id=owner.org_id)
    assert (
        await client.get(f"/orders/{order['id']}", headers=as_user(runtime, colleague))
    ).status_code == 200
    theirs = as_user(runtime, stranger)
    for response in (
        await client.get(f"/orders/{order['id']}", headers=theirs),
        await client.post(
            f"/orders/{order['id']}/status", json={"status": "cancelled"}, headers=theirs
        ),
        await client.get(f"/orders/{uuid.uuid4()}", headers=theirs),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    listed = (await client.get("/orders", headers=theirs)).json()
    assert order["id"] not in {o["id"] for o in listed}
    # A client cannot widen the list to another organisation.
    widened = await client.get(f"/orders?org_id={owner.org_id}", headers=theirs)
    assert widened.status_code == 403


async def test_malformed_requests_get_the_json_error_shape(api: Api) -> None:
    client, runtime = api
    headers = as_user(runtime, person())
    bad_number = await client.post("/orders", json=valid_order(rooms=[3]), headers=headers)
    assert bad_number.status_code == 422
    assert bad_number.json()["error"]["field"] == "rooms"
    assert (await client.post("/orders", json=valid_order())).status_code == 401
    assert (await client.get("/orders?status=lost", headers=headers)).status_code == 422
