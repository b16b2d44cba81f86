"""The photographer's day (/photographer) through the gateway, signed in against real auth and
orders services: today's shoots assigned to them with address, access notes, contact and map
link; another photographer's shoot and the page for agents stay out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from pix_auth.app import create_app as auth_app
from pix_auth.models import users
from pix_orders.app import create_app as orders_app
from pix_runtime.db import Database
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.settings import PlatformSettings
from sqlalchemy import func, select
from test_gateway_order_pages import Served, Services, browser_for


@pytest.fixture
def day_services(migrated: set[str]) -> Iterator[tuple[Services, ServiceRuntime]]:
    auth, _ = auth_app()
    orders, runtime = orders_app()
    served = [Served(auth), Served(orders)]
    yield Services(served[0].url, served[1].url), runtime
    for s in served:
        s.stop()


def staff(runtime: ServiceRuntime, role: str) -> dict[str, str]:
    who = Identity(
        user_id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        role=role,  # type: ignore[arg-type]
        email=f"{role}@makler-example.de",
        name="Erika Muster",
        email_verified=True,
    )
    return {IDENTITY_HEADER: sign_identity(who, runtime.internal_key)}


async def newest_user_id() -> uuid.UUID:
    db = Database(PlatformSettings().database_url, schema="auth", application_name="test")
    async with db.sessions() as session:
        # The newest user is the one browser_for just registered.
        found = await session.scalar(
            select(users.c.id).order_by(users.c.created_at.desc(), func.random()).limit(1)
        )
    await db.dispose()
    assert found is not None
    return found


async def test_the_photographer_sees_todays_shoots_assigned_to_them_only(
    day_services: tuple[Services, ServiceRuntime],
) -> None:
    services, runtime = day_services
    photographer = await browser_for(services, role="photographer")
    paula = await newest_user_id()
    agent = await browser_for(services, role="owner")
    berlin_today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    today, later = berlin_today.isoformat(), (berlin_today + timedelta(days=3)).isoformat()
    async with httpx.AsyncClient(base_url=services.orders_url) as orders:
        placed = []
        for notes in ("Schlüssel beim Hausmeister", "Code 4711"):
            order = await orders.post(
                "/orders",
                headers=staff(runtime, "owner"),
                json={
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
                    "rooms": 3,
                    "services": ["photos"],
                    "preferred_slots": [{"date": later, "window": "morning"}],
                    "access_notes": notes,
                },
            )
            assert order.status_code == 201, order.text
            placed.append(order.json())
        for order, who in ((placed[0], paula), (placed[1], uuid.uuid4())):
            put = await orders.put(
                f"/orders/{order['id']}/appointment",
                headers=staff(runtime, "admin"),
                json={
                    "date": today,
                    "starts_at": "09:00",
                    "ends_at": "11:00",
                    "photographer_id": str(who),
                },
            )
            assert put.status_code == 200, put.text

    try:
        page = await photographer.get("/photographer")
        assert page.status_code == 200, page.text
        html = page.text
        assert placed[0]["reference"] in html
        assert "Schlüssel beim Hausmeister" in html
        assert "09:00–11:00" in html
        assert "https://www.openstreetmap.org/search?query=Lindenallee+5a%2C+10115+Berlin" in html
        assert f"/galleries/{placed[0]['gallery_id']}" in html
        assert placed[1]["reference"] not in html
        assert "Code 4711" not in html
        # Their orders list holds their shoot only.
        listed = await photographer.get("/orders")
        assert placed[1]["reference"] not in listed.text
        assert (await agent.get("/photographer")).status_code == 404
    finally:
        await photographer.aclose()
        await agent.aclose()
