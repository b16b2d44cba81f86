"""Viewings in the calendar of the agent's Gmail or Outlook mailbox, through the mailbox's own
OAuth grant (no CalDAV calendar connected), against the local servers that speak Google
Calendar API v3 and Microsoft Graph: the event with the lead as attendee (Google, without
Google's own invitation mail), the lead BOOKED, free slots without the provider's busy times,
and cancelling removes the event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from leads_helpers import LeadsApp, as_user
from mailbox_fakes import FakeGoogle, FakeMicrosoft
from pix_leads.app import create_app
from pix_leads.oauth_calendars import google_event_id
from pix_leads.settings import LeadsSettings
from test_mailboxes import REDIRECT, agent_of, connect
from test_viewings import lead_detail, new_lead, next_weekday

BERLIN = ZoneInfo("Europe/Berlin")


async def after_jobs(leads: LeadsApp, condition: Callable[[], bool], what: str) -> None:
    """Runs the due jobs until `condition` holds: under load a calendar call can time out and
    its job comes back after a backoff of seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while True:
        await leads.runtime.jobs.run_due()
        if condition():
            return
        assert loop.time() < deadline, f"waited 120 s for {what}"
        await asyncio.sleep(0.2)


@pytest.fixture
async def leads(
    leads_schema: str, google: FakeGoogle, microsoft: FakeMicrosoft
) -> AsyncIterator[LeadsApp]:
    settings = LeadsSettings(
        smtp_port=0,
        mailbox_redirect_url=REDIRECT,
        **google.settings(),  # type: ignore[arg-type]
        **microsoft.settings(),
    )
    app, runtime = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://leads") as client:
        yield LeadsApp(client, runtime, settings, app)
    await runtime.db.dispose()


async def test_viewings_go_into_the_mailboxs_google_or_outlook_calendar(
    leads: LeadsApp, google: FakeGoogle, microsoft: FakeMicrosoft
) -> None:
    agent = agent_of()
    asked = await connect(leads, agent, "gmail", google)
    assert asked["provider"] == "gmail"
    lead = await new_lead(leads, agent)
    day = next_weekday(7)

    # Free slots leave out what Google's freeBusy says is busy (11:00-12:00 Berlin).
    busy_from = datetime.combine(day, time(11, 0), tzinfo=BERLIN).astimezone(UTC)
    busy_to = busy_from + timedelta(hours=1)
    google.busy = [(busy_from.isoformat(), busy_to.isoformat())]
    slots = await leads.client.get(
        f"/leads/{lead['id']}/viewing-slots", headers=as_user(leads.runtime, agent)
    )
    assert slots.status_code == 200, slots.text
    that_day = [s for s in slots.json() if s["day"] == day.isoformat()]
    assert that_day
    starts = {s["start"] for s in that_day}
    assert "09:45:00" in starts
    assert "10:30:00" not in starts  # 10:30-11:15 runs into the busy hour
    assert "11:15:00" not in starts
    for slot in that_day:
        begin = datetime.fromisoformat(slot["starts_at"])
        end = datetime.fromisoformat(slot["ends_at"])
        assert end <= busy_from or begin >= busy_to

    booked = await leads.client.post(
        f"/leads/{lead['id']}/viewings",
        json={"date": day.isoformat(), "start": "09:45", "place": "Lindenallee 5a, Berlin"},
        headers=as_user(leads.runtime, agent),
    )
    assert booked.status_code == 201, booked.text
    viewing = booked.json()
    shown = await lead_detail(leads, agent, lead["id"])
    assert shown["lead"]["status"] == "BOOKED"
    uid = f"viewing-{viewing['id']}@pix.immo"
    await after_jobs(leads, lambda: google_event_id(uid) in google.events, "the Google event")
    event = google.events[google_event_id(uid)]
    assert event["attendees"][0]["email"] == lead["email"]
    assert event["attendees"][0]["responseStatus"] == "needsAction"
    assert event["location"] == "Lindenallee 5a, Berlin"
    start = datetime.fromisoformat(event["start"]["dateTime"]).replace(tzinfo=UTC)
    assert start == datetime.combine(day, time(9, 45), tzinfo=BERLIN).astimezone(UTC)
    # Our own iTIP mail invites the lead: Google must not send a second invitation.
    assert all(q.get("sendUpdates") == "none" for _, _, q in google.event_requests)
    status = await leads.client.get(
        f"/viewings/{viewing['id']}", headers=as_user(leads.runtime, agent)
    )
    assert status.json()["calendar_state"] == "written"
    calendar = await leads.client.get("/calendar", headers=as_user(leads.runtime, agent))
    assert calendar.json()["calendar"]["kind"] == "gmail"

    cancelled = await leads.client.post(
        f"/viewings/{viewing['id']}/cancel", headers=as_user(leads.runtime, agent)
    )
    assert cancelled.status_code == 200, cancelled.text
    await after_jobs(
        leads, lambda: google_event_id(uid) not in google.events, "the Google event's removal"
    )

    # The same booking for an agent with an Outlook mailbox goes through Graph.
    other = agent_of()
    await connect(leads, other, "outlook", microsoft)
    microsoft.schedule = [
        (
            busy_from.strftime("%Y-%m-%dT%H:%M:%S.0000000"),
            busy_to.strftime("%Y-%m-%dT%H:%M:%S.0000000"),
        )
    ]
    their_lead = await new_lead(leads, other)
    slots = await leads.client.get(
        f"/leads/{their_lead['id']}/viewing-slots", headers=as_user(leads.runtime, other)
    )
    assert slots.status_code == 200, slots.text
    starts = {s["start"] for s in slots.json() if s["day"] == day.isoformat()}
    assert "09:45:00" in starts
    assert "11:15:00" not in starts
    booked = await leads.client.post(
        f"/leads/{their_lead['id']}/viewings",
        json={"date": day.isoformat(), "start": "09:45"},
        headers=as_user(leads.runtime, other),
    )
    assert booked.status_code == 201, booked.text
    shown = await lead_detail(leads, other, their_lead["id"])
    assert shown["lead"]["status"] == "BOOKED"
    uid = f"viewing-{booked.json()['id']}@pix.immo"

    def outlook_events() -> list[dict[str, Any]]:
        return [
            e
            for e in microsoft.events.values()
            if any(p["value"] == uid for p in e["singleValueExtendedProperties"])
        ]

    await after_jobs(leads, lambda: bool(outlook_events()), "the Outlook event")
    [written] = outlook_events()
    assert written["start"]["timeZone"] == "UTC"
    assert their_lead["email"] in written["body"]["content"]
    assert written["showAs"] == "busy"
    cancelled = await leads.client.post(
        f"/viewings/{booked.json()['id']}/cancel", headers=as_user(leads.runtime, other)
    )
    assert cancelled.status_code == 200, cancelled.text
    await after_jobs(
        leads, lambda: written["id"] not in microsoft.events, "the Outlook event's removal"
    )
