"""What every service gets from pix_runtime.http against bad input: bodies over the limit and
NUL characters refused before a route runs, values the database refuses as 422, and the
client address only as the gateway signed it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pix_runtime.http import (
    FORWARDED_FOR_HEADER,
    JSON_BODY_LIMIT,
    client_address,
    create_base_app,
    sign_forwarded_for,
)
from pix_stack.embedded import EmbeddedPostgres
from pydantic import BaseModel
from sqlalchemy import Integer, Text, bindparam, select
from sqlalchemy.ext.asyncio import create_async_engine

KEY = b"test-internal-key"
JSON = {"content-type": "application/json"}


class Note(BaseModel):
    text: str
    tags: list[str] = []


@pytest.fixture
async def app(postgres: EmbeddedPostgres) -> AsyncIterator[FastAPI]:
    engine = create_async_engine(postgres.url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield

    app = create_base_app(title="guarded", lifespan=lifespan, checks={})
    app.state.internal_key = KEY
    received: dict[str, Any] = {}
    app.state.received = received

    @app.post("/notes")
    async def add_note(note: Note) -> dict[str, Any]:
        received["note"] = note
        return {"ok": True}

    @app.get("/numbers/{number}")
    async def number(number: int) -> dict[str, Any]:
        async with engine.connect() as conn:
            value = await conn.scalar(select(bindparam("n", number, Integer)))
        return {"number": value}

    @app.get("/texts")
    async def stored_text(value: str) -> dict[str, Any]:
        # Text that did not come through the guard (a file, a provider's answer).
        async with engine.connect() as conn:
            await conn.scalar(select(bindparam("t", value.replace("~", "\x00"), Text)))
        return {}

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, str]:
        return {"address": client_address(request)}

    @app.put("/storage/{key:path}")
    @app.put("/inbound/{key:path}")
    async def storage(key: str, request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    yield app
    await engine.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
        yield http


async def test_bodies_over_the_limit_are_refused_before_the_route(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    big = b'{"text": "' + b"x" * JSON_BODY_LIMIT + b'"}'
    declared = await client.post("/notes", content=big, headers=JSON)
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 100_000):
            yield big[start : start + 100_000]

    streamed = await client.post("/notes", content=chunks())
    assert streamed.status_code == 413
    assert "note" not in app.state.received
    # A body under the limit reaches the route unchanged, streamed or not.
    fine = await client.post("/notes", content=b'{"text": "ok"}', headers=JSON)
    assert fine.status_code == 200
    # Signed-URL uploads stream through and keep their own limits, as do the routes an app
    # names (an inbound-mail webhook with attachments, say).
    upload = await client.put("/storage/originals/a", content=b"x" * (3 * JSON_BODY_LIMIT))
    assert upload.json() == {"size": 3 * JSON_BODY_LIMIT}
    assert (await client.put("/inbound/x", content=big)).status_code == 413
    app.state.streamed_body_prefixes = ("/inbound/",)
    assert (await client.put("/inbound/x", content=big)).json() == {"size": len(big)}


async def test_nul_characters_are_refused_with_their_field(client: httpx.AsyncClient) -> None:
    in_text = await client.post("/notes", json={"text": "a\x00b"})
    assert in_text.status_code == 422
    assert in_text.json()["error"] == {
        "code": "invalid",
        "message": "NUL characters are not allowed",
        "field": "text",
    }
    in_list = await client.post("/notes", json={"text": "a", "tags": ["ok", "\x00"]})
    assert in_list.json()["error"]["field"] == "tags.1"
    # An escaped backslash before "u0000" is text, not a NUL.
    literal = await client.post("/notes", content=b'{"text": "C:\\\\u0000"}', headers=JSON)
    assert literal.status_code == 200
    assert (await client.get("/whoami?x=%00")).status_code == 422


@pytest.mark.parametrize("number", [2**31, -(2**31) - 1, 2**63])
async def test_numbers_out_of_the_columns_range_are_a_422(
    client: httpx.AsyncClient, number: int
) -> None:
    response = await client.get(f"/numbers/{number}")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid"
    assert (await client.get("/numbers/7")).json() == {"number": 7}


async def test_text_the_database_cannot_store_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/texts", params={"value": "a~b"})
    assert response.status_code == 422, response.text
    assert (await client.get("/texts", params={"value": "ab"})).status_code == 200


async def test_the_client_address_is_believed_only_when_the_gateway_signed_it(
    client: httpx.AsyncClient,
) -> None:
    peer = (await client.get("/whoami")).json()["address"]
    spoofed = await client.get("/whoami", headers={"x-forwarded-for": "203.0.113.5"})
    assert spoofed.json()["address"] == peer
    forged = {FORWARDED_FOR_HEADER: sign_forwarded_for("203.0.113.5", b"guessed")}
    assert (await client.get("/whoami", headers=forged)).json()["address"] == peer
    expired = {FORWARDED_FOR_HEADER: sign_forwarded_for("203.0.113.5", KEY, ttl=-5)}
    assert (await client.get("/whoami", headers=expired)).json()["address"] == peer
    signed = {FORWARDED_FOR_HEADER: sign_forwarded_for("203.0.113.5", KEY)}
    assert (await client.get("/whoami", headers=signed)).json()["address"] == "203.0.113.5"
