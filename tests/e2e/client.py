"""A small API client for the e2e tests: what a browser or CRM script does over HTTP."""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from dev_outbox import wait_for_link

COOKIE = "__Host-session"


async def login(http: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await http.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token = response.cookies[COOKIE]
    return {"Authorization": f"Bearer {token}"}


async def new_client_account(
    http: httpx.AsyncClient, mail_dir: Path, *, verify: bool = True
) -> dict[str, str]:
    """Sign up a new agency; with `verify`, follow the confirmation link from the mail."""
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
    if verify:
        link = await wait_for_link(mail_dir, email, "/verify-email")
        confirmed = await http.post(
            "/api/auth/verify-email", json={"token": link.split("token=")[1]}
        )
        assert confirmed.status_code == 200, confirmed.text
    return await login(http, email, password)


def full_order() -> dict[str, Any]:
    """A complete, valid order form, with preferred dates after today."""
    soon = datetime.date.today() + datetime.timedelta(days=7)
    return {
        "contact_name": "Erika Muster",
        "contact_email": "erika@makler-example.de",
        "contact_phone": "030 1234567",
        "street": "Lindenallee",
        "house_number": "5",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
        "property_type": "apartment",
        "marketing": "sale",
        "living_area_m2": 84.5,
        "rooms": 3,
        "services": ["photos", "floorplan"],
        "preferred_slots": [{"date": soon.isoformat(), "window": "morning"}],
        "access_notes": "",
        "locale": "de",
    }


async def place_order(http: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    response = await http.post(
        "/api/orders/orders",
        headers=auth,
        json=full_order(),
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
    """Ask for a signed URL, PUT the bytes to it, complete, wait for processing.

    `complete` answers 202 (queued) and the photo is processed in the background, so this polls
    the asset until it leaves queued/processing. The result reads like the old synchronous
    answer: 200 with the asset, or the refusal as an error body (409 for a duplicate, else 422)
    carrying the asset's `error_code`. An error answered by `complete` itself is returned as is.
    """
    ticket = await http.post(
        f"/api/media/galleries/{gallery_id}/uploads",
        headers=auth,
        json={"file_name": name, "byte_size": len(data)},
    )
    assert ticket.status_code == 201, ticket.text
    body = ticket.json()
    put = await http.put(body["upload_url"], content=data)
    assert put.status_code == 200, put.text
    completed = await http.post(f"/api/media/assets/{body['asset_id']}/complete", headers=auth)
    if completed.status_code != 202:
        return completed
    asset = await wait_processed(http, auth, body["asset_id"])
    if asset["status"] == "rejected":
        status = 409 if asset["error_code"] == "duplicate" else 422
        error = {"code": asset["error_code"], "message": asset["error_message"], "field": "file"}
        return httpx.Response(status, json={"error": error, "asset": asset})
    return httpx.Response(200, json=asset)


async def wait_processed(
    http: httpx.AsyncClient, auth: dict[str, str], asset_id: str, timeout: float = 60
) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        response = await http.get(f"/api/media/assets/{asset_id}", headers=auth)
        asset: dict[str, Any] = response.json()
        return None if asset["status"] in ("queued", "processing") else asset

    result: dict[str, Any] = await wait_for(done, timeout=timeout)
    return result
