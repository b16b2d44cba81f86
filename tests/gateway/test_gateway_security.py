"""The front door: identities are signed by the gateway alone, CSRF, headers, error shape."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest
from pix_gateway.app import create_app as gateway_app
from pix_gateway.service import csrf_allowed
from pix_gateway.settings import GatewaySettings
from pix_orders.app import create_app as orders_app
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.settings import PlatformSettings

PUBLIC = "http://localhost:8000"


def identity() -> Identity:
    return Identity(
        user_id=uuid.uuid4(), org_id=uuid.uuid4(), role="admin", email="a@pix.immo", name="A"
    )


@pytest.fixture
def orders(migrated: set[str]) -> httpx.AsyncClient:
    app, _ = orders_app()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders")


async def test_internal_services_refuse_requests_without_a_valid_identity(
    orders: httpx.AsyncClient,
) -> None:
    key = os.environ["PIX_INTERNAL_KEY"].encode()
    missing = await orders.get("/orders")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthenticated"

    forged = sign_identity(identity(), b"a key the attacker guessed")
    assert (await orders.get("/orders", headers={IDENTITY_HEADER: forged})).status_code == 401

    genuine = sign_identity(identity(), key)
    payload, _, mac = genuine.partition(".")
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + mac
    assert (await orders.get("/orders", headers={IDENTITY_HEADER: tampered})).status_code == 401

    expired = sign_identity(identity(), key, ttl=-1)
    assert (await orders.get("/orders", headers={IDENTITY_HEADER: expired})).status_code == 401

    assert (await orders.get("/orders", headers={IDENTITY_HEADER: genuine})).status_code == 200


@pytest.mark.parametrize(
    ("method", "headers", "allowed"),
    [
        ("GET", {"sec-fetch-site": "cross-site"}, True),
        ("POST", {"sec-fetch-site": "same-origin"}, True),
        ("POST", {"sec-fetch-site": "cross-site"}, False),
        ("POST", {"sec-fetch-site": "same-site"}, False),
        ("POST", {"origin": PUBLIC}, True),
        ("POST", {"origin": "https://evil.example"}, False),
        ("DELETE", {"origin": "http://localhost:8001"}, False),
        ("POST", {"sec-fetch-site": "cross-site", "authorization": "Bearer x.y"}, True),
    ],
)
def test_csrf_rules(method: str, headers: dict[str, str], allowed: bool) -> None:
    assert csrf_allowed(method, headers, PUBLIC) is allowed


@pytest.fixture
def gateway() -> httpx.AsyncClient:
    # Upstreams on a closed port: the gateway must answer clearly without them.
    platform = PlatformSettings(auth_url="http://127.0.0.1:9", orders_url="http://127.0.0.1:9")
    app = gateway_app(GatewaySettings(platform=platform))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC)


async def test_every_response_has_security_headers_and_a_request_id(
    gateway: httpx.AsyncClient,
) -> None:
    traced = "0f8fad5b-d9cb-469f-a165-70867728950e"
    response = await gateway.get("/", headers={"x-request-id": traced})
    assert response.status_code == 200
    # One format in every log line: a client's UUID is kept (as 32 hex characters), free text
    # is replaced by an id of ours.
    assert response.headers["x-request-id"] == traced.replace("-", "")
    free_text = await gateway.get("/healthz", headers={"x-request-id": "trace-me-123"})
    assert len(free_text.headers["x-request-id"]) == 32
    csp = response.headers["content-security-policy"]
    assert "frame-src https://tidycal.com" in csp
    assert "default-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "max-age" in response.headers["strict-transport-security"]
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    generated = (await gateway.get("/healthz")).headers["x-request-id"]
    assert len(generated) == 32


async def test_api_errors_are_json_and_clear(gateway: httpx.AsyncClient) -> None:
    anonymous = await gateway.get("/api/orders/orders")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": {"code": "unauthenticated", "message": "please sign in"}}
    assert (await gateway.get("/api/nothing/here")).json()["error"]["code"] == "not_found"
    cross_site = await gateway.post(
        "/api/orders/orders", headers={"origin": "https://evil.example"}, json={}
    )
    assert cross_site.status_code == 403
    assert cross_site.json()["error"]["code"] == "csrf"
    # A session cookie while auth is down: a clear 503, not a crash or a pass.
    down = await gateway.get("/api/orders/orders", headers={"cookie": "__Host-session=a.b"})
    assert down.status_code == 503
    assert down.json()["error"]["code"] == "unavailable"


@pytest.mark.parametrize(
    "path",
    [
        "/api/auth/login/%2e%2e/sessions/revoke",
        "/api/auth/register/%2e%2e/login",
        "/api/media/storage/%2e%2e/metrics",
        "/api/media/storage/a/../../metrics",
        "/api/orders/metrics",
        "/api/orders/readyz",
        "/api/auth/sessions/validate",
        "/api/auth/sessions/revoke",
        "/api/orders//orders",
    ],
)
async def test_no_path_reaches_internal_routes(gateway: httpx.AsyncClient, path: str) -> None:
    # Upstreams are on a closed port: a 404 here means the gateway refused before proxying.
    response = await gateway.post(path, json={"token": "a.b"})
    assert response.status_code == 404, path
    assert response.json()["error"]["code"] == "not_found"


def test_public_paths_are_exact() -> None:
    from pix_gateway.service import is_public, routable

    assert is_public("auth/register")
    assert is_public("media/storage/originals/g/a")
    assert not is_public("auth/register/x")
    assert not is_public("auth/login")  # has its own route, which sets the cookie
    assert not routable("media", "storage/../metrics")
    assert routable("media", "storage/originals/g/a")
