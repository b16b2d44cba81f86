"""Shared by the orders tests: an in-process orders app, signed identities, a valid order."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from pix_orders.models import outbox
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import select


def person(
    role: str = "client", org_id: uuid.UUID | None = None, name: str = "Erika Muster"
) -> Identity:
    return Identity(
        user_id=uuid.uuid4(),
        org_id=org_id or uuid.uuid4(),
        role=role,  # type: ignore[arg-type]
        email=f"{role}-{uuid.uuid4().hex[:8]}@makler-example.de",
        name=name,
        email_verified=True,
    )


def as_user(runtime: ServiceRuntime, identity: Identity) -> dict[str, str]:
    return {IDENTITY_HEADER: sign_identity(identity, runtime.internal_key)}


def in_days(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def valid_order(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "contact_name": "Erika Muster",
        "contact_email": "erika@makler-example.de",
        "contact_phone": "030 1234567",
        "street": "Lindenallee",
        "house_number": "5a",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
        "property_type": "apartment",
        "marketing": "sale",
        "living_area_m2": 84.5,
        "rooms": 3.5,
        "services": ["photos", "floorplan"],
        "preferred_slots": [
            {"date": in_days(3), "window": "morning"},
            {"date": in_days(4), "window": "all_day"},
        ],
        "access_notes": "Schlüssel beim Hausmeister",
        "locale": "de",
    }
    order.update(changes)
    return order


async def place(
    client: httpx.AsyncClient, runtime: ServiceRuntime, who: Identity, **changes: Any
) -> dict[str, Any]:
    response = await client.post(
        "/orders", json=valid_order(**changes), headers=as_user(runtime, who)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def outbox_events(runtime: ServiceRuntime, kind: type[Any], order_id: str) -> list[Any]:
    async with runtime.db.sessions() as session:
        rows = await session.execute(
            select(outbox.c.payload).where(outbox.c.topic == kind.topic).order_by(outbox.c.id)
        )
        found = [kind.model_validate_json(p) for p in rows.scalars()]
    return [e for e in found if str(e.order_id) == order_id]
