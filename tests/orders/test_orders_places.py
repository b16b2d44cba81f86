"""Address autocomplete: the real httpx client against a local server speaking Places API (New).

The fake answers the documented shapes: `POST /v1/places:autocomplete` →
`{"suggestions": [{"placePrediction": {"placeId", "text": {"text"}}}]}` and
`GET /v1/places/{id}` (with `X-Goog-FieldMask`) → `{"addressComponents": [{"longText",
"shortText", "types"}], "formattedAddress"}`; errors as `{"error": {"code", "message", "status"}}`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from orders_helpers import as_user, person
from pix_orders.app import create_app
from pix_orders.settings import OrdersSettings
from pix_runtime.lifecycle import ServiceRuntime
from pix_stack.embedded import free_port
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

KEY = "test-places-key"


class FakeGoogle:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(
            routes=[
                Route("/v1/places:autocomplete", self.autocomplete, methods=["POST"]),
                Route("/v1/places/{place_id}", self.details, methods=["GET"]),
            ]
        )

    def _refused(self, request: Request) -> JSONResponse | None:
        if request.headers.get("x-goog-api-key") != KEY:
            return JSONResponse(
                {
                    "error": {
                        "code": 403,
                        "message": "API key not valid. Please pass a valid API key.",
                        "status": "PERMISSION_DENIED",
                    }
                },
                status_code=403,
            )
        return None

    async def autocomplete(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append({"path": request.url.path, "body": body, "headers": request.headers})
        if refused := self._refused(request):
            return refused
        if body["input"] == "crash":
            return JSONResponse({"error": {"code": 500, "status": "INTERNAL"}}, status_code=500)
        if body["input"] == "slow":
            await asyncio.sleep(2)
        return JSONResponse(
            {
                "suggestions": [
                    {
                        "placePrediction": {
                            "place": "places/ChIJ-lindenallee5",
                            "placeId": "ChIJ-lindenallee5",
                            "text": {
                                "text": "Lindenallee 5, 10115 Berlin, Deutschland",
                                "matches": [{"endOffset": 10}],
                            },
                            "structuredFormat": {
                                "mainText": {"text": "Lindenallee 5"},
                                "secondaryText": {"text": "10115 Berlin, Deutschland"},
                            },
                            "types": ["street_address", "geocode"],
                        }
                    },
                    {"queryPrediction": {"text": {"text": "Lindenallee Cafés"}}},
                ]
            }
        )

    async def details(self, request: Request) -> JSONResponse:
        self.requests.append(
            {
                "path": request.url.path,
                "params": dict(request.query_params),
                "headers": request.headers,
            }
        )
        if refused := self._refused(request):
            return refused
        if request.path_params["place_id"] != "ChIJ-lindenallee5":
            return JSONResponse(
                {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}},
                status_code=404,
            )
        return JSONResponse(
            {
                "formattedAddress": "Lindenallee 5, 10115 Berlin, Deutschland",
                "addressComponents": [
                    {
                        "longText": "5",
                        "shortText": "5",
                        "types": ["street_number"],
                        "languageCode": "de",
                    },
                    {"longText": "Lindenallee", "shortText": "Lindenallee", "types": ["route"]},
                    {
                        "longText": "Mitte",
                        "shortText": "Mitte",
                        "types": ["sublocality_level_1", "sublocality", "political"],
                    },
                    {
                        "longText": "Berlin",
                        "shortText": "Berlin",
                        "types": ["locality", "political"],
                    },
                    {
                        "longText": "Deutschland",
                        "shortText": "DE",
                        "types": ["country", "political"],
                    },
                    {"longText": "10115", "shortText": "10115", "types": ["postal_code"]},
                ],
            }
        )


@pytest.fixture(scope="module")
async def google() -> AsyncIterator[tuple[FakeGoogle, str]]:
    fake = FakeGoogle()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(fake.app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield fake, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def orders_client(settings: OrdersSettings) -> tuple[httpx.AsyncClient, ServiceRuntime]:
    app, runtime = create_app(settings)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders")
    return client, runtime


@pytest.fixture
async def places(
    migrated: set[str], google: tuple[FakeGoogle, str]
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime, FakeGoogle]]:
    fake, url = google
    fake.requests.clear()
    settings = OrdersSettings(
        google_places_key=SecretStr(KEY),
        google_places_base_url=url,
        google_places_timeout_seconds=0.5,
    )
    client, runtime = await orders_client(settings)
    yield client, runtime, fake
    await client.aclose()
    await runtime.db.dispose()


async def test_autocomplete_asks_google_for_dach_addresses_in_the_callers_language(
    places: tuple[httpx.AsyncClient, ServiceRuntime, FakeGoogle],
) -> None:
    client, runtime, fake = places
    agent = person()
    response = await client.get(
        "/places/autocomplete?input=Lindenallee%205&session_token=tok-123",
        headers=as_user(runtime, agent),
    )
    assert response.status_code == 200, response.text
    assert response.json() == [
        {"place_id": "ChIJ-lindenallee5", "text": "Lindenallee 5, 10115 Berlin, Deutschland"}
    ]
    [sent] = fake.requests
    assert sent["body"] == {
        "input": "Lindenallee 5",
        "includedRegionCodes": ["de", "at", "ch"],
        "languageCode": "de",
        "sessionToken": "tok-123",
    }
    assert sent["headers"]["x-goog-api-key"] == KEY
    assert KEY not in response.text


async def test_place_details_fill_the_address_fields_and_end_the_session(
    places: tuple[httpx.AsyncClient, ServiceRuntime, FakeGoogle],
) -> None:
    client, runtime, fake = places
    response = await client.get(
        "/places/ChIJ-lindenallee5?session_token=tok-123", headers=as_user(runtime, person())
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "street": "Lindenallee",
        "house_number": "5",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
    }
    [sent] = fake.requests
    assert sent["path"] == "/v1/places/ChIJ-lindenallee5"
    assert sent["params"] == {"sessionToken": "tok-123", "languageCode": "de"}
    assert sent["headers"]["x-goog-fieldmask"] == "addressComponents,formattedAddress"
    unknown = await client.get("/places/ChIJ-nowhere", headers=as_user(runtime, person()))
    assert unknown.status_code == 404
    odd = await client.get("/places/..%2F..%2Fadmin", headers=as_user(runtime, person()))
    assert odd.status_code == 404
    assert len(fake.requests) == 2  # the odd id never left the service


async def test_upstream_trouble_is_a_clear_error_not_a_crash(
    places: tuple[httpx.AsyncClient, ServiceRuntime, FakeGoogle],
) -> None:
    client, runtime, _ = places
    headers = as_user(runtime, person())
    crash = await client.get("/places/autocomplete?input=crash", headers=headers)
    assert crash.status_code == 503
    assert crash.json()["error"]["code"] == "places_unavailable"
    slow = await client.get("/places/autocomplete?input=slow", headers=headers)
    assert slow.status_code == 503
    assert "timeout" in slow.json()["error"]["message"]
    empty = await client.get("/places/autocomplete?input=%20", headers=headers)
    assert empty.json() == []


async def test_a_bad_key_is_reported_as_a_gateway_error(
    migrated: set[str], google: tuple[FakeGoogle, str]
) -> None:
    _, url = google
    client, runtime = await orders_client(
        OrdersSettings(google_places_key=SecretStr("wrong-key"), google_places_base_url=url)
    )
    async with client:
        response = await client.get(
            "/places/autocomplete?input=Linden", headers=as_user(runtime, person())
        )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "places_rejected"
    assert "wrong-key" not in response.text
    await runtime.db.dispose()


async def test_an_unreachable_service_is_unavailable(migrated: set[str]) -> None:
    client, runtime = await orders_client(
        OrdersSettings(
            google_places_key=SecretStr(KEY),
            google_places_base_url=f"http://127.0.0.1:{free_port()}",
        )
    )
    async with client:
        response = await client.get(
            "/places/autocomplete?input=Linden", headers=as_user(runtime, person())
        )
    assert response.status_code == 503
    await runtime.db.dispose()


async def test_without_a_key_autocomplete_is_disabled(migrated: set[str]) -> None:
    client, runtime = await orders_client(OrdersSettings(google_places_key=None))
    async with client:
        headers = as_user(runtime, person())
        for path in ("/places/autocomplete?input=Linden", "/places/ChIJ-lindenallee5"):
            response = await client.get(path, headers=headers)
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "places_disabled"
    await runtime.db.dispose()
