"""Viewing pages through the real gateway (auth and leads as HTTP servers, Radicale as the
agent's calendar): the calendar under the leads settings, "Besichtigung planen" on the lead's
page with the viewing's state, and the lead's public page to pick a slot, in German and
English; a taken slot is refused with a clear message."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from caldav_server import Radicale, radicale
from pix_auth.app import create_app as auth_app
from pix_auth.settings import AuthSettings
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_leads.app import create_app as leads_app
from pix_leads.settings import LeadsSettings
from pix_leads.viewings import Viewings
from pix_runtime.settings import PlatformSettings
from test_leads_pages import PASSWORD, PUBLIC, serve
from test_viewings import busy_ics, next_weekday

__all__ = ["radicale"]


@pytest.fixture
async def site(leads_schema: str) -> AsyncIterator[tuple[httpx.AsyncClient, Any, Any]]:
    auth, auth_runtime = auth_app(AuthSettings())
    leads, leads_runtime = leads_app(LeadsSettings(smtp_port=0))
    auth_url, auth_server, auth_task = await serve(auth)
    leads_url, leads_server, leads_task = await serve(leads)
    platform = PlatformSettings(auth_url=auth_url, leads_url=leads_url)
    gateway = gateway_app(GatewaySettings(platform=platform))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url=PUBLIC
    ) as client:
        yield client, leads, leads_runtime
    for server, task in ((auth_server, auth_task), (leads_server, leads_task)):
        server.should_exit = True
        await task
    await auth_runtime.db.dispose()
    await leads_runtime.db.dispose()


async def test_calendar_settings_booking_form_and_the_public_pick_page(
    site: tuple[httpx.AsyncClient, Any, Any], radicale: Radicale
) -> None:
    client, leads, _leads_runtime = site
    email = f"agent-{uuid.uuid4().hex[:10]}@makler-example.de"
    registered = await client.post(
        "/api/auth/register",
        json={"name": "Erika", "email": email, "password": PASSWORD, "company": "Muster"},
    )
    assert registered.status_code == 201, registered.text
    login = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    cookie = {"cookie": f"__Host-session={login.cookies['__Host-session']}"}
    same_site = {**cookie, "sec-fetch-site": "same-origin", "origin": PUBLIC}

    # The calendar under the leads settings: a wrong password is said plainly.
    settings = await client.get("/leads/settings", headers=cookie)
    assert 'hx-get="/leads/settings/calendar"' in settings.text
    panel = await client.get("/leads/settings/calendar", headers=cookie)
    assert "Kalender verbinden" in panel.text
    user, password = radicale.add_user()
    calendar_url = radicale.make_calendar(user, password, "Besichtigungen")
    form = {"url": calendar_url, "username": user, "start": "09:00", "end": "17:00"}
    wrong = await client.post(
        "/leads/settings/calendar",
        data={**form, "password": "falsch", "day": ["1", "2", "3", "4", "5"]},
        headers=same_site,
    )
    assert wrong.status_code == 303
    assert wrong.headers["location"].startswith("/leads/settings?calendar_error=calendar_auth")
    refused = await client.get(
        "/leads/settings/calendar?calendar_error=calendar_auth", headers=cookie
    )
    assert "Benutzername oder Passwort abgelehnt" in refused.text
    connected = await client.post(
        "/leads/settings/calendar",
        data={**form, "password": password, "slot_minutes": "60", "day": ["1", "2", "3", "4", "5"]},
        headers=same_site,
    )
    assert connected.status_code == 303, connected.text
    panel = await client.get("/leads/settings/calendar?calendar=connected", headers=cookie)
    assert "Verbunden mit „Besichtigungen“" in panel.text
    assert "Kalender verbunden." in panel.text

    # "Besichtigung planen" on the lead's page.
    created = await client.post(
        "/api/leads/leads",
        json={"name": "Lena Beispiel", "email": "lena.pages@example.org"},
        headers=same_site,
    )
    assert created.status_code == 201, created.text
    lead_id = created.json()["id"]
    page = await client.get(f"/leads/{lead_id}", headers=cookie)
    assert f'hx-get="/leads/{lead_id}/viewings"' in page.text
    fragment = await client.get(f"/leads/{lead_id}/viewings", headers=cookie)
    assert "Besichtigung planen" in fragment.text
    assert "Noch keine Besichtigung." in fragment.text
    day = next_weekday()
    booked = await client.post(
        f"/leads/{lead_id}/viewings",
        data={"date": day.isoformat(), "start": "10:00", "place": "Am Markt 1"},
        headers=same_site,
    )
    assert booked.status_code == 303
    assert booked.headers["location"] == f"/leads/{lead_id}?viewing=booked#viewings"
    fragment = await client.get(f"/leads/{lead_id}/viewings?viewing=booked", headers=cookie)
    assert "eingeladen" in fragment.text
    assert "10:00–11:00" in fragment.text
    assert "Einladung verschickt" in fragment.text
    in_past = await client.post(
        f"/leads/{lead_id}/viewings",
        data={"date": "2020-01-06", "start": "10:00"},
        headers=same_site,
    )
    assert in_past.headers["location"].endswith("viewing_error=in_past#viewings")
    # Another organisation's lead: 404, not a form.
    assert (await client.get(f"/leads/{uuid.uuid4()}/viewings", headers=cookie)).status_code == 404

    # The lead's page: no account, the signed link; phone-friendly buttons per slot.
    viewings: Viewings = leads.state.viewings
    token = viewings.link_token(uuid.UUID(lead_id))
    # The viewing booked above is upcoming: the page shows it instead of slots.
    shown = await client.get(f"/viewing/{token}")
    assert shown.status_code == 200
    assert "Ihre Besichtigung" in shown.text
    listed = await client.get(f"/api/leads/leads/{lead_id}/viewings", headers=cookie)
    cancelled = await client.post(
        f"/viewings/{listed.json()[0]['id']}/cancel", data={"lead_id": lead_id}, headers=same_site
    )
    assert cancelled.headers["location"] == f"/leads/{lead_id}?viewing=cancel#viewings"
    offer = await client.get(f"/viewing/{token}")
    assert offer.status_code == 200, offer.text
    assert "Besichtigungstermin wählen" in offer.text
    assert 'name="viewport"' in offer.text
    slots = (await client.get(f"/api/leads/public/viewings/{token}")).json()["slots"]
    assert slots
    first, second = slots[0], slots[1]
    assert offer.text.count('data-test="slot"') == len(slots)
    # Taken meanwhile (an appointment entered in the agent's calendar): refused, with words.
    radicale.add_event(
        user, password, calendar_url, busy_ics(datetime.fromisoformat(first["starts_at"]), 60)
    )
    taken = await client.post(
        f"/viewing/{token}",
        data={"starts_at": first["starts_at"]},
        headers={"sec-fetch-site": "same-origin", "origin": PUBLIC},
    )
    assert taken.status_code == 409
    assert "inzwischen vergeben" in taken.text
    picked = await client.post(
        f"/viewing/{token}",
        data={"starts_at": second["starts_at"]},
        headers={"sec-fetch-site": "same-origin", "origin": PUBLIC, "cookie": "lang=en"},
    )
    assert picked.status_code == 200, picked.text
    assert "Thank you, your viewing is booked." in picked.text
    assert "Your viewing" in picked.text
    assert (await client.get("/viewing/not-a-token")).status_code == 404
