"""A small API client for the e2e tests: what a browser or CRM script does over HTTP."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

COOKIE = "__Host-session"


async def login(http: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await http.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token = response.cookies[COOKIE]
    return {"Authorization": f"Bearer {token}"}


async def new_client_account(http: httpx.AsyncClient) -> dict[str, str]:
    email = f"agent-{uuid.uuid4().hex[:8]}@makler-example.de"
    password = "Sonnenblume-Dach-42"
    response = await http.post(
        "/api/auth/register",
        json={
            "name": "Erika Muster",
            "email": email,
            "password": password,
            "company": "Muster Immobilien GmbH",
            "locale": "de",
        },
    )
    assert response.status_code == 201, response.text
    return await login(http, email, password)


async def place_order(http: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    response = await http.post(
        "/api/orders/orders",
        headers=auth,
        json={
            "contact_name": "Erika Muster",
            "contact_email": "erika@makler-example.de",
            "property_address": "Lindenallee 5, 10115 Berlin",
            "locale": "de",
        },
    )
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


async def wait_for(check: Any, *, timeout: float = 30.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


async def wait_for_gallery(
    http: httpx.AsyncClient, auth: dict[str, str], gallery_id: str
) -> dict[str, Any]:
    async def ready() -> dict[str, Any] | None:
        response = await http.get(f"/api/media/galleries/{gallery_id}", headers=auth)
        return response.json() if response.status_code == 200 else None

    gallery: dict[str, Any] = await wait_for(ready)
    return gallery


async def upload(
    http: httpx.AsyncClient, auth: dict[str, str], gallery_id: str, name: str, data: bytes
) -> httpx.Response:
    """Ask for a signed URL, PUT the bytes to it, complete. Returns the completion response."""
    ticket = await http.post(
        f"/api/media/galleries/{gallery_id}/uploads",
        headers=auth,
        json={"file_name": name, "byte_size": len(data)},
    )
    assert ticket.status_code == 201, ticket.text
    body = ticket.json()
    put = await http.put(body["upload_url"], content=data)
    assert put.status_code == 200, put.text
    return await http.post(f"/api/media/assets/{body['asset_id']}/complete", headers=auth)
