"""Sign-in under attack: limits that stop guessing without locking the owner out, hashing that
never stalls session checks, and only the gateway's word on the client's address."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pix_auth.app import create_app
from pix_auth.devices import DEVICE_HEADER
from pix_auth.hashing import PasswordHashing
from pix_auth.settings import AuthSettings
from pix_runtime.http import FORWARDED_FOR_HEADER, sign_forwarded_for
from pix_runtime.lifecycle import ServiceRuntime

PASSWORD = "Ruhige-Seitenstrasse-12"
LIMITS = {
    "login-ip": "1000/minute",
    "login-account": "3/minute",
    "login-account-untrusted": "6/hour",
    "register-ip": "1000/hour",
}


@asynccontextmanager
async def auth_app(
    **settings: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime, FastAPI]]:
    app, runtime = create_app(AuthSettings(**{"rate_limits": LIMITS, **settings}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
        yield client, runtime, app
    await runtime.db.dispose()


@pytest.fixture
async def auth(migrated: set[str]) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    async with auth_app() as (client, runtime, _):
        yield client, runtime


async def sign_up(client: httpx.AsyncClient) -> str:
    email = f"owner-{uuid.uuid4().hex[:10]}@makler-example.de"
    response = await client.post(
        "/register",
        json={"name": "Erika", "email": email, "password": PASSWORD, "company": "Muster"},
    )
    assert response.status_code == 201, response.text
    return email


def from_ip(runtime: ServiceRuntime, ip: str) -> dict[str, str]:
    """What the gateway adds: the client's address, signed."""
    return {FORWARDED_FOR_HEADER: sign_forwarded_for(ip, runtime.internal_key)}


async def attempt(
    client: httpx.AsyncClient, email: str, password: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.post("/login", json={"email": email, "password": password}, headers=headers)


async def test_guessing_from_elsewhere_does_not_lock_the_owner_out(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = auth
    email = await sign_up(client)
    attacker = from_ip(runtime, "203.0.113.7")
    for _ in range(3):
        assert (await attempt(client, email, "falsch-falsch", attacker)).status_code == 401
    blocked = await attempt(client, email, PASSWORD, attacker)
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "rate_limited"
    # The owner, at another address, is not held back by the attacker's failures.
    owner = await attempt(client, email, PASSWORD, from_ip(runtime, "198.51.100.20"))
    assert owner.status_code == 200, owner.text


async def test_each_lockout_of_a_client_lasts_twice_as_long(migrated: set[str]) -> None:
    async with auth_app(rate_limits={**LIMITS, "login-account-untrusted": "100/hour"}) as (
        client,
        runtime,
        _,
    ):
        await lockouts_double(client, runtime)


async def lockouts_double(client: httpx.AsyncClient, runtime: ServiceRuntime) -> None:
    email = await sign_up(client)
    attacker = from_ip(runtime, "203.0.113.8")
    waits = []
    for _ in range(3):
        for _ in range(3):
            assert (await attempt(client, email, "falsch-falsch", attacker)).status_code == 401
        refused = await attempt(client, email, "falsch-falsch", attacker)
        assert refused.status_code == 429
        waits.append(int(refused.headers["retry-after"]))
        runtime.clock.advance(timedelta(seconds=waits[-1] + 1))
    # 60, 120, 240 s, less the real seconds between the lockout and the refusal on a busy
    # machine (the clock moves with real time between the test's own advances).
    for waited, lockout in zip(waits, (60, 120, 240), strict=True):
        assert lockout - 10 < waited <= lockout, waits
    # A success ends the delays for that client.
    assert (await attempt(client, email, PASSWORD, attacker)).status_code == 200


async def test_a_trusted_device_signs_in_while_strangers_are_refused(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = auth
    email = await sign_up(client)
    first = await attempt(client, email, PASSWORD, from_ip(runtime, "198.51.100.30"))
    device = {DEVICE_HEADER: first.json()["device_token"]}
    # Guessing from many addresses uses up the account's quota for untrusted clients (six
    # attempts, the owner's first sign-in from a new browser among them) ...
    for n in range(5):
        attacker = from_ip(runtime, f"203.0.113.{100 + n}")
        assert (await attempt(client, email, "falsch-falsch", attacker)).status_code == 401
    stranger = await attempt(client, email, PASSWORD, from_ip(runtime, "203.0.113.200"))
    assert stranger.status_code == 429
    # ... but the owner's browser, trusted since its last sign-in, still gets in.
    owner = await attempt(client, email, PASSWORD, {**from_ip(runtime, "198.51.100.31"), **device})
    assert owner.status_code == 200, owner.text
    # A device token names its account: it does not help against another one.
    other = await sign_up(client)
    for n in range(6):
        attacker = from_ip(runtime, f"203.0.113.{150 + n}")
        assert (await attempt(client, other, "falsch-falsch", attacker)).status_code == 401
    borrowed = await attempt(client, other, PASSWORD, {**from_ip(runtime, "203.0.113.9"), **device})
    assert borrowed.status_code == 429


async def test_an_unsigned_forwarded_for_is_not_believed(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, _ = auth
    email = await sign_up(client)
    for n in range(3):
        spoofed = {"x-forwarded-for": f"203.0.113.{n}"}
        assert (await attempt(client, email, "falsch-falsch", spoofed)).status_code == 401
    # Every attempt above counted for the connection's own address, whatever the header said.
    spoofed = {"x-forwarded-for": "203.0.113.99"}
    assert (await attempt(client, email, PASSWORD, spoofed)).status_code == 429
    forged = {FORWARDED_FOR_HEADER: sign_forwarded_for("203.0.113.98", b"a guessed key")}
    assert (await attempt(client, email, PASSWORD, forged)).status_code == 429


async def test_session_checks_do_not_wait_behind_password_hashing(migrated: set[str]) -> None:
    async with auth_app(hash_workers=1) as (client, runtime, app):
        hashing: PasswordHashing = app.state.password_hashing
        email = await sign_up(client)
        token = (await attempt(client, email, PASSWORD, {})).json()["token"]
        burst = [
            asyncio.create_task(
                attempt(client, f"nobody-{n}@example.de", "falsch", from_ip(runtime, f"10.0.{n}.1"))
            )
            for n in range(12)
        ]
        await wait_until(lambda: hashing.in_flight > 1)
        checked = await client.post("/sessions/validate", json={"token": token})
        assert checked.status_code == 200
        # Answered while sign-ins were still waiting for their hashes, not after them.
        assert hashing.in_flight > 0
        # Each sign-in of the burst was hashed (401) or, on a machine too busy to hash it within
        # the queue's wait, refused as busy (429); none waited on the session check or failed.
        statuses = {r.status_code for r in await asyncio.gather(*burst)}
        assert 401 in statuses
        assert statuses <= {401, 429}


async def test_too_many_waiting_hashes_are_refused_with_retry_after(migrated: set[str]) -> None:
    async with auth_app(hash_workers=1, hash_queue=1) as (client, runtime, _):
        answers = await asyncio.gather(
            *(
                attempt(client, f"nobody-{n}@example.de", "x" * 10, from_ip(runtime, f"10.1.{n}.1"))
                for n in range(8)
            )
        )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(401) >= 2
    busy = [a for a in answers if a.status_code == 429]
    assert busy, statuses
    assert busy[0].json()["error"]["code"] == "busy"
    assert busy[0].headers["retry-after"] == "2"


async def test_nul_characters_are_refused_with_the_field(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, _ = auth
    for path, body, field in [
        ("/login", {"email": "a\x00@example.de", "password": PASSWORD}, "email"),
        ("/password/forgot", {"email": "a@example.de\x00"}, "email"),
        (
            "/register",
            {"name": "E\x00", "email": "x@example.de", "password": PASSWORD, "company": "M"},
            "name",
        ),
    ]:
        response = await client.post(path, json=body)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["field"] == field


async def test_oversized_bodies_are_refused_before_parsing(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, _ = auth
    huge = b'{"email": "' + b"a" * (2 << 20) + b'", "password": "x"}'
    declared = await client.post(
        "/login", content=huge, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(huge), 64 * 1024):
            yield huge[start : start + 64 * 1024]

    streamed = await client.post(
        "/password/forgot", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)
