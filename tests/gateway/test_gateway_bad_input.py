"""Bad input at the front door: limits that reach the client as 429, bodies refused before
they are read, methods that carry no body, and signed-in answers that no cache keeps."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from pix_auth.app import create_app as auth_app
from pix_auth.settings import AuthSettings
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_runtime.settings import PlatformSettings
from pix_stack.embedded import free_port

PUBLIC = "http://testserver"
PASSWORD = "Ruhige-Seitenstrasse-12"
LIMITS = {"login-ip": "1000/minute", "login-account": "3/minute", "register-ip": "1000/hour"}


@pytest.fixture
async def auth_url(migrated: set[str]) -> AsyncIterator[str]:
    """Auth as a real HTTP server (the gateway reaches it over the network, as in production)."""
    app, runtime = auth_app(AuthSettings(rate_limits=LIMITS))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
    await runtime.db.dispose()


@pytest.fixture
async def gateway(auth_url: str) -> AsyncIterator[httpx.AsyncClient]:
    platform = PlatformSettings(auth_url=auth_url, orders_url="http://127.0.0.1:9")
    app = gateway_app(GatewaySettings(platform=platform))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
        yield client


async def sign_up(gateway: httpx.AsyncClient) -> str:
    email = f"agent-{uuid.uuid4().hex[:10]}@makler-example.de"
    response = await gateway.post(
        "/api/auth/register",
        json={"name": "Erika", "email": email, "password": PASSWORD, "company": "Muster"},
    )
    assert response.status_code == 201, response.text
    return email


async def test_login_limits_reach_the_client_as_429_with_retry_after(
    gateway: httpx.AsyncClient,
) -> None:
    email = await sign_up(gateway)
    answers = await asyncio.gather(
        *(
            gateway.post("/api/auth/login", json={"email": email, "password": "falsch-falsch"})
            for _ in range(8)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {401, 429}, statuses
    assert 429 in statuses
    limited = next(a for a in answers if a.status_code == 429)
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) > 0
    # The web form says so in the page, with the same status.
    page = await gateway.post(
        "/login",
        data={"email": email, "password": PASSWORD},
        headers={"sec-fetch-site": "same-origin"},
    )
    assert page.status_code == 429


async def test_a_sign_in_sets_the_trusted_device_cookie(gateway: httpx.AsyncClient) -> None:
    email = await sign_up(gateway)
    response = await gateway.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200
    cookies = response.headers.get_list("set-cookie")
    device = next(c for c in cookies if c.startswith("__Host-device="))
    assert "HttpOnly" in device
    assert "Secure" in device
    assert "SameSite=strict" in device
    assert "device_token" not in response.json()
    assert response.headers["cache-control"] == "no-store"


async def test_bodies_over_a_mebibyte_are_refused_before_reading_also_without_a_session(
    gateway: httpx.AsyncClient,
) -> None:
    huge = b'{"email": "' + b"a" * (10 << 20) + b'"}'
    for path in ("/api/auth/password/forgot", "/api/auth/login", "/api/orders/orders"):
        response = await gateway.post(
            path, content=huge, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413, path
        assert response.json()["error"]["code"] == "too_large"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_a_body_on_a_method_without_one_is_a_clear_error(
    gateway: httpx.AsyncClient, method: str
) -> None:
    email = await sign_up(gateway)
    login = await gateway.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    bearer = {"authorization": f"Bearer {login.cookies['__Host-session']}"}
    with_body = await gateway.request(
        method, f"/api/auth/sessions/{uuid.uuid4().hex}", headers=bearer, json={"x": 1}
    )
    assert with_body.status_code == 400
    assert with_body.json()["error"]["code"] == "body_not_allowed"
    me = await gateway.get("/api/auth/me", headers={**bearer, "content-length": "0"})
    assert me.status_code == 200


async def test_nul_characters_are_a_422_through_the_gateway(gateway: httpx.AsyncClient) -> None:
    for path, body in [
        ("/api/auth/login", {"email": "a\x00b@example.de", "password": "x"}),
        ("/api/auth/password/forgot", {"email": "\x00"}),
    ]:
        response = await gateway.post(path, json=body)
        assert response.status_code == 422, path
        assert response.json()["error"]["field"] == "email"
    assert (await gateway.get("/api/auth/me?x=%00")).status_code == 422


async def test_signed_in_answers_and_pages_are_not_cached(gateway: httpx.AsyncClient) -> None:
    email = await sign_up(gateway)
    login = await gateway.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    session = {"cookie": f"__Host-session={login.cookies['__Host-session']}"}
    for path in ("/api/auth/me", "/api/auth/me/export", "/account", "/account/export"):
        response = await gateway.get(path, headers=session)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-store", path
    # Public pages stay cacheable as before.
    assert "cache-control" not in (await gateway.get("/privacy")).headers
