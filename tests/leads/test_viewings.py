"""Viewings in the agent's own calendar, against a real CalDAV server (Radicale): connect with a
sealed password, book from a lead (the VEVENT in the calendar, the lead BOOKED, the invitation
with METHOD:REQUEST through notify), move and cancel, the lead's iTIP REPLY through the intake,
free slots and the lead's public page. Nothing of ours is patched."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import icalendar
import pytest
from caldav_server import Radicale, radicale
from faststream.kafka import TestKafkaBroker
from leads_helpers import LeadsApp, as_user, outbox_events, person
from pix_contracts import LeadMessageRequested
from pix_contracts.leads import LEAD_MAIL_SEAL_PURPOSE
from pix_contracts.listings import ListingFacts, ListingPublished
from pix_leads.calendars import CalendarNotPublic, check_public
from pix_leads.intake import Intake
from pix_leads.listing_mirror import ListingMirror
from pix_leads.models import jobs
from pix_leads.viewing_models import calendars, viewings
from pix_leads.viewings import VIEWING_ORPHANS
from pix_notify.app import create_app as create_notify
from pix_notify.settings import NotifySettings
from pix_runtime.identity import Identity
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.sealing import derive_key, unseal
from sqlalchemy import delete, select

__all__ = ["radicale"]  # the session fixture, used by name


@pytest.fixture
async def notify(
    migrated: set[str], tmp_path: Path
) -> AsyncIterator[tuple[ServiceRuntime, Any, Path]]:
    _, runtime = create_notify(NotifySettings(outbox_dir=tmp_path))
    async with TestKafkaBroker(runtime.broker) as broker:
        yield runtime, broker, tmp_path
    await runtime.db.dispose()


def headers(leads: LeadsApp, who: Identity) -> dict[str, str]:
    return as_user(leads.runtime, who)


async def connect(leads: LeadsApp, radicale: Radicale, who: Identity) -> tuple[str, str, str]:
    user, password = radicale.add_user()
    calendar_url = radicale.make_calendar(user, password)
    response = await leads.client.put(
        "/calendar",
        json={"url": calendar_url, "username": user, "password": password},
        headers=headers(leads, who),
    )
    assert response.status_code == 200, response.text
    assert response.json()["calendar_url"].rstrip("/") == calendar_url.rstrip("/")
    return user, password, calendar_url


async def new_lead(
    leads: LeadsApp, who: Identity, *, listing_id: uuid.UUID | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Lena Beispiel",
        "email": f"lena.{uuid.uuid4().hex[:6]}@example.org",
        "message": "Ich würde die Wohnung gern besichtigen.",
    }
    if listing_id is not None:
        body["listing_id"] = str(listing_id)
    response = await leads.client.post("/leads", json=body, headers=headers(leads, who))
    assert response.status_code == 201, response.text
    lead: dict[str, Any] = response.json()
    return lead


async def lead_detail(leads: LeadsApp, who: Identity, lead_id: str) -> dict[str, Any]:
    response = await leads.client.get(f"/leads/{lead_id}", headers=headers(leads, who))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def publish_listing(leads: LeadsApp, org_id: uuid.UUID) -> uuid.UUID:
    listing_id = uuid.uuid4()
    facts = ListingFacts(
        reference=f"W-{listing_id.hex[:6]}",
        title="Helle 3-Zimmer-Wohnung mit Balkon",
        property_type="apartment",
        marketing="rent",
        price_eur=1400,
        rooms=3,
        living_area_m2=82,
        street="Lindenallee 5a",
        postcode="10115",
        city="Berlin",
    )
    await ListingMirror(leads.runtime.db).listing_changed(
        ListingPublished(listing_id=listing_id, org_id=org_id, order_id=None, facts=facts)
    )
    return listing_id


def next_weekday(days_ahead: int = 7) -> date:
    day = datetime.now(UTC).date() + timedelta(days=days_ahead)
    while day.isoweekday() > 5:
        day += timedelta(days=1)
    return day


def content_of(leads: LeadsApp, event: LeadMessageRequested) -> dict[str, Any]:
    key = derive_key(leads.runtime.internal_key, LEAD_MAIL_SEAL_PURPOSE)
    body: dict[str, Any] = json.loads(unseal(event.sealed_content, key, context=event.message_key))
    return body


def reply_itip(
    to: str, attendee: str, invitation: str, partstat: str, *, automatic: bool = False
) -> bytes:
    """What a calendar client sends when the lead accepts or declines (RFC 5546 REPLY); some
    servers send it marked as automatic (RFC 3834)."""
    request = icalendar.Calendar.from_ical(invitation)
    [asked] = request.walk("VEVENT")
    answer = icalendar.Calendar()
    answer.add("prodid", "-//Example Corp.//Calendar 1.0//EN")
    answer.add("version", "2.0")
    answer.add("method", "REPLY")
    event = icalendar.Event()
    for name in ("UID", "SEQUENCE", "DTSTART", "DTEND", "SUMMARY", "ORGANIZER"):
        event[name] = asked[name]
    event.add("dtstamp", datetime.now(UTC))
    guest = icalendar.vCalAddress(f"mailto:{attendee}")
    guest.params["partstat"] = icalendar.vText(partstat)
    event.add("attendee", guest, encode=False)
    answer.add_component(event)
    mail = EmailMessage()
    mail["From"] = f"Lena Beispiel <{attendee}>"
    mail["To"] = to
    mail["Subject"] = f"{partstat.title()}: {asked['SUMMARY']}"
    if automatic:
        mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(f"Lena Beispiel has {partstat.lower()} this invitation.")
    mail.add_attachment(
        answer.to_ical(),
        maintype="text",
        subtype="calendar",
        params={"method": "REPLY"},
        filename="reply.ics",
    )
    return mail.as_bytes()


async def test_connect_book_invite_and_the_leads_decline_comes_back(
    leads: LeadsApp,
    radicale: Radicale,
    notify: tuple[ServiceRuntime, Any, Path],
) -> None:
    agent = person("owner")
    user, password, calendar_url = await connect(leads, radicale, agent)
    # The password rests sealed: neither it nor the URL-safe text of it is in the row.
    async with leads.runtime.db.sessions() as session:
        sealed = await session.scalar(
            select(calendars.c.sealed_password).where(calendars.c.user_id == agent.user_id)
        )
    assert sealed is not None
    assert password not in sealed

    listing_id = await publish_listing(leads, agent.org_id)
    lead = await new_lead(leads, agent, listing_id=listing_id)
    day = next_weekday()
    response = await leads.client.post(
        f"/leads/{lead['id']}/viewings",
        json={"date": day.isoformat(), "start": "10:00", "end": "10:45"},
        headers=headers(leads, agent),
    )
    assert response.status_code == 201, response.text
    viewing = response.json()
    assert viewing["state"] == "invited"
    assert viewing["place"] == "Lindenallee 5a, 10115 Berlin"  # the listing's address
    assert viewing["calendar_state"] == "pending"

    # The lead is BOOKED through the status machine (timeline entry with who, event).
    shown = await lead_detail(leads, agent, lead["id"])
    assert shown["lead"]["status"] == "BOOKED"
    kinds = [a["kind"] for a in shown["timeline"]]
    assert "viewing" in kinds
    assert "status" in kinds
    status = next(a for a in shown["timeline"] if a["kind"] == "status")
    assert status["data"]["new"] == "BOOKED"
    assert status["actor_id"] == str(agent.user_id)

    # Into the agent's calendar (the job after the commit), read back with the caldav client.
    await leads.runtime.jobs.run_due()
    uid = f"viewing-{viewing['id']}@pix.immo"
    stored = radicale.event(user, password, calendar_url, uid)
    assert stored is not None
    assert stored.decoded("DTSTART").astimezone(UTC).hour in (8, 9)  # 10:00 Berlin
    assert str(stored["LOCATION"]) == "Lindenallee 5a, 10115 Berlin"
    assert str(stored["ATTENDEE"]).lower() == f"mailto:{lead['email']}"
    assert stored["ATTENDEE"].params["PARTSTAT"] == "NEEDS-ACTION"
    again = await leads.client.get(f"/viewings/{viewing['id']}", headers=headers(leads, agent))
    assert again.json()["calendar_state"] == "written"

    # The invitation: a mail request to notify with the .ics (METHOD:REQUEST) ...
    [invite] = [
        e
        for e in await outbox_events(leads.runtime, LeadMessageRequested, lead["id"])
        if e.kind == "viewing"
    ]
    content = content_of(leads, invite)
    assert content["calendar"]["method"] == "REQUEST"
    # ... that notify sends with the calendar entry attached.
    notify_runtime, broker, folder = notify
    await broker.publish(invite, LeadMessageRequested.topic)
    await notify_runtime.jobs.run_due()
    [sent] = list(folder.glob("*.eml"))
    message = message_from_bytes(sent.read_bytes(), policy=policy.default)
    assert message["To"] == lead["email"]
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert parts
    assert parts[0].get_param("method") == "REQUEST"
    mailed = icalendar.Calendar.from_ical(parts[0].get_payload(decode=True))
    assert str(mailed["METHOD"]) == "REQUEST"
    [event] = mailed.walk("VEVENT")
    assert str(event["UID"]) == uid
    assert int(event["SEQUENCE"]) == 0
    assert str(event["ATTENDEE"]).lower() == f"mailto:{lead['email']}"
    # The organizer is the lead's reply address: the calendar's answer comes back to us.
    assert str(event["ORGANIZER"]).lower() == f"mailto:{shown['lead']['reply_address']}"

    # The lead declines in their calendar: the REPLY arrives through the intake (SMTP path).
    intake: Intake = leads.app.state.intake
    received = await intake.receive(
        reply_itip(
            shown["lead"]["reply_address"],
            lead["email"],
            content["calendar"]["content"],
            "DECLINED",
        ),
        channel="smtp",
        mail_from=lead["email"],
        rcpt_to=[shown["lead"]["reply_address"]],
        parse_now=True,
    )
    assert received.status == "reply"
    declined = await leads.client.get(f"/viewings/{viewing['id']}", headers=headers(leads, agent))
    assert declined.json()["state"] == "declined"
    shown = await lead_detail(leads, agent, lead["id"])
    answer = next(a for a in shown["timeline"] if a["kind"] == "viewing_reply")
    assert answer["data"]["answer"] == "declined"
    assert shown["lead"]["reply_count"] == 0  # an answer to the invitation, not a conversation
    await leads.runtime.jobs.run_due()
    stored = radicale.event(user, password, calendar_url, uid)
    assert stored is not None
    assert stored["ATTENDEE"].params["PARTSTAT"] == "DECLINED"
    assert str(stored["TRANSP"]) == "TRANSPARENT"  # the time is free again


async def test_move_and_cancel_raise_the_sequence_and_remove_the_event(
    leads: LeadsApp, radicale: Radicale
) -> None:
    agent = person("owner")
    user, password, calendar_url = await connect(leads, radicale, agent)
    lead = await new_lead(leads, agent)
    day = next_weekday(8)
    booked = (
        await leads.client.post(
            f"/leads/{lead['id']}/viewings",
            json={"date": day.isoformat(), "start": "14:00", "place": "Am Markt 1, Potsdam"},
            headers=headers(leads, agent),
        )
    ).json()
    assert booked["end"] == "14:45:00"  # the calendar's slot length by default
    moved = await leads.client.patch(
        f"/viewings/{booked['id']}", json={"start": "16:00"}, headers=headers(leads, agent)
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["sequence"] == 1
    assert moved.json()["start"] == "16:00:00"
    await leads.runtime.jobs.run_due()
    uid = f"viewing-{booked['id']}@pix.immo"
    stored = radicale.event(user, password, calendar_url, uid)
    assert stored is not None
    assert int(stored["SEQUENCE"]) == 1
    cancelled = await leads.client.post(
        f"/viewings/{booked['id']}/cancel", headers=headers(leads, agent)
    )
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["sequence"] == 2
    mails = [
        content_of(leads, e)
        for e in await outbox_events(leads.runtime, LeadMessageRequested, lead["id"])
        if e.kind == "viewing"
    ]
    assert [m["calendar"]["method"] for m in mails] == ["REQUEST", "REQUEST", "CANCEL"]
    sequences = [
        int(icalendar.Calendar.from_ical(m["calendar"]["content"]).walk("VEVENT")[0]["SEQUENCE"])
        for m in mails
    ]
    assert sequences == [0, 1, 2]
    await leads.runtime.jobs.run_due()
    assert radicale.event(user, password, calendar_url, uid) is None


async def test_a_bad_password_is_refused_clearly_and_other_orgs_see_nothing(
    leads: LeadsApp, radicale: Radicale
) -> None:
    agent = person("owner")
    user, password = radicale.add_user()
    calendar_url = radicale.make_calendar(user, password)
    refused = await leads.client.put(
        "/calendar",
        json={"url": calendar_url, "username": user, "password": "not-" + password},
        headers=headers(leads, agent),
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "calendar_auth"
    assert refused.json()["error"]["field"] == "password"
    assert "not-" + password not in refused.text
    status = await leads.client.get("/calendar", headers=headers(leads, agent))
    assert status.json() == {"calendar": None}

    lead = await new_lead(leads, agent)
    booked = (
        await leads.client.post(
            f"/leads/{lead['id']}/viewings",
            json={"date": next_weekday().isoformat(), "start": "11:00"},
            headers=headers(leads, agent),
        )
    ).json()
    assert booked["calendar_state"] == "none"  # no calendar: stored and invited all the same
    stranger = person("owner")
    for method, path, body in (
        ("GET", f"/viewings/{booked['id']}", None),
        ("PATCH", f"/viewings/{booked['id']}", {"start": "12:00"}),
        ("POST", f"/viewings/{booked['id']}/cancel", None),
        ("GET", f"/leads/{lead['id']}/viewings", None),
        ("POST", f"/leads/{lead['id']}/viewings", {"date": "2031-01-02", "start": "10:00"}),
    ):
        answer = await leads.client.request(
            method, path, json=body, headers=headers(leads, stranger)
        )
        assert answer.status_code == 404, (method, path, answer.text)
    listed = await leads.client.get(f"/leads/{lead['id']}/viewings", headers=headers(leads, agent))
    assert [v["id"] for v in listed.json()] == [booked["id"]]

    # Disconnecting forgets the calendar and its password.
    await connect(leads, radicale, agent)
    gone = await leads.client.delete("/calendar", headers=headers(leads, agent))
    assert gone.status_code == 204
    async with leads.runtime.db.sessions() as session:
        left = await session.scalar(
            select(calendars.c.id).where(calendars.c.user_id == agent.user_id)
        )
    assert left is None


def busy_ics(start: datetime, minutes: int) -> str:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//test//")
    calendar.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", f"{uuid.uuid4()}@example.org")
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=minutes))
    event.add("summary", "Notartermin")
    calendar.add_component(event)
    text: bytes = calendar.to_ical()
    return text.decode()


async def test_free_slots_and_the_leads_own_pick_on_the_public_page(
    leads: LeadsApp, radicale: Radicale
) -> None:
    agent = person("owner")
    user, password, calendar_url = await connect(leads, radicale, agent)
    hours = await leads.client.put(
        "/calendar/hours",
        json={"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "12:00", "slot_minutes": 60},
        headers=headers(leads, agent),
    )
    assert hours.status_code == 200, hours.text
    slots = (await leads.client.get("/calendar/slots", headers=headers(leads, agent))).json()
    assert slots
    assert all(s["start"] in ("09:00:00", "10:00:00", "11:00:00") for s in slots)
    assert all(date.fromisoformat(s["day"]).isoweekday() <= 5 for s in slots)
    # An appointment already in the agent's calendar takes its slot away.
    third = slots[2]
    radicale.add_event(
        user,
        password,
        calendar_url,
        busy_ics(datetime.fromisoformat(third["starts_at"]) + timedelta(minutes=15), 20),
    )
    free = (await leads.client.get("/calendar/slots", headers=headers(leads, agent))).json()
    starts = [s["starts_at"] for s in free]
    assert third["starts_at"] not in starts
    assert slots[1]["starts_at"] in starts
    assert slots[3]["starts_at"] in starts

    # The lead's acknowledgement carries the link to pick a slot (the `{viewing_line}`).
    intake_lead = await inquiry_lead(leads, agent)
    await leads.runtime.jobs.run_due()
    [ack] = [
        e
        for e in await outbox_events(leads.runtime, LeadMessageRequested, intake_lead)
        if e.kind == "acknowledgement"
    ]
    text = content_of(leads, ack)["text"]
    found = re.search(r"/viewing/([A-Za-z0-9._\-=]+)", text)
    assert found, text
    token = found.group(1)

    offer = await leads.client.get(f"/public/viewings/{token}")
    assert offer.status_code == 200, offer.text
    offered = offer.json()
    assert offered["booked"] is None
    assert [s["starts_at"] for s in offered["slots"]] == starts
    # A slot that became busy since the page was shown is refused with a clear message.
    taken = offered["slots"][0]
    radicale.add_event(
        user, password, calendar_url, busy_ics(datetime.fromisoformat(taken["starts_at"]), 60)
    )
    refused = await leads.client.post(
        f"/public/viewings/{token}", json={"starts_at": taken["starts_at"]}
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "slot_taken"
    assert "taken" in refused.json()["error"]["message"]
    # A free one books the viewing: stored, BOOKED, into the calendar.
    chosen = offered["slots"][1]
    picked = await leads.client.post(
        f"/public/viewings/{token}", json={"starts_at": chosen["starts_at"]}
    )
    assert picked.status_code == 201, picked.text
    assert picked.json()["starts_at"] == chosen["starts_at"]
    shown = await lead_detail(leads, agent, str(intake_lead))
    assert shown["lead"]["status"] == "BOOKED"
    [viewing] = (
        await leads.client.get(f"/leads/{intake_lead}/viewings", headers=headers(leads, agent))
    ).json()
    assert viewing["booked_via"] == "lead"
    assert viewing["state"] == "accepted"
    await leads.runtime.jobs.run_due()
    assert radicale.event(user, password, calendar_url, f"viewing-{viewing['id']}@pix.immo")
    # The same slot for another lead of the organisation is taken now.
    other = await inquiry_lead(leads, agent, "jonas.weber@example.net")
    await leads.runtime.jobs.run_due()
    other_token = token_of(
        content_of(
            leads,
            next(
                e
                for e in await outbox_events(leads.runtime, LeadMessageRequested, other)
                if e.kind == "acknowledgement"
            ),
        )["text"]
    )
    clash = await leads.client.post(
        f"/public/viewings/{other_token}", json={"starts_at": chosen["starts_at"]}
    )
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "slot_taken"
    # The page now shows the booked viewing instead of slots; a forged token is unknown.
    again = (await leads.client.get(f"/public/viewings/{token}")).json()
    assert again["booked"]["starts_at"] == chosen["starts_at"]
    assert again["slots"] == []
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert (await leads.client.get(f"/public/viewings/{forged}")).status_code == 404


def token_of(text: str) -> str:
    found = re.search(r"/viewing/([A-Za-z0-9._\-=]+)", text)
    assert found, text
    return found.group(1)


async def inquiry_lead(
    leads: LeadsApp, agent: Identity, address: str = "lena.beispiel@example.org"
) -> uuid.UUID:
    """A lead through the intake (a direct mail), so its acknowledgement job runs."""
    box = (await leads.client.get("/settings", headers=headers(leads, agent))).json()
    raw = (
        f"From: Interessent <{address}>\r\nTo: {box['intake_address']}\r\n"
        "Subject: Anfrage Wohnung\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Guten Tag, ich interessiere mich für die Wohnung und würde sie gern besichtigen.\r\n"
        "Telefon 0171 3925418\r\n"
    ).encode()
    intake: Intake = leads.app.state.intake
    received = await intake.receive(
        raw, channel="smtp", mail_from=address, rcpt_to=[box["intake_address"]], parse_now=True
    )
    async with leads.runtime.db.sessions() as session:
        from pix_leads.models import raw_messages

        lead_id = await session.scalar(
            select(raw_messages.c.lead_id).where(raw_messages.c.id == received.id)
        )
    assert lead_id is not None
    return lead_id


async def test_production_takes_only_public_https_calendars() -> None:
    """Outside development the service never signs in to a calendar inside its own network or
    without TLS (the password would travel in clear, or the server would probe its neighbours)."""
    for url in (
        "http://calendar.example.org/dav/",
        "https://127.0.0.1:5232/agent/",
        "https://10.0.0.7/remote.php/dav/",
        "https://[::1]/dav/",
        "https://localhost/dav/",
    ):
        with pytest.raises(CalendarNotPublic):
            await check_public(url)
    await check_public("https://8.8.8.8/dav/")  # a public address passes


async def test_an_answer_to_an_older_time_changes_nothing_the_current_one_counts(
    leads: LeadsApp, radicale: Radicale
) -> None:
    agent = person("owner")
    user, password, calendar_url = await connect(leads, radicale, agent)
    lead = await new_lead(leads, agent)
    booked = (
        await leads.client.post(
            f"/leads/{lead['id']}/viewings",
            json={"date": next_weekday(9).isoformat(), "start": "09:30"},
            headers=headers(leads, agent),
        )
    ).json()
    reply_address = (await lead_detail(leads, agent, lead["id"]))["lead"]["reply_address"]
    await leads.client.patch(
        f"/viewings/{booked['id']}", json={"start": "11:30"}, headers=headers(leads, agent)
    )
    first, moved = [
        content_of(leads, e)["calendar"]["content"]
        for e in await outbox_events(leads.runtime, LeadMessageRequested, lead["id"])
        if e.kind == "viewing"
    ]
    intake: Intake = leads.app.state.intake

    async def answer(invitation: str, partstat: str, *, automatic: bool = False) -> None:
        received = await intake.receive(
            reply_itip(reply_address, lead["email"], invitation, partstat, automatic=automatic),
            channel="smtp",
            mail_from=lead["email"],
            rcpt_to=[reply_address],
            parse_now=True,
        )
        assert received.status == "reply"

    # Accepting the first time (SEQUENCE 0) after the move (SEQUENCE 1) is outdated.
    await answer(first, "ACCEPTED")
    state = await leads.client.get(f"/viewings/{booked['id']}", headers=headers(leads, agent))
    assert state.json()["state"] == "invited"
    shown = await lead_detail(leads, agent, lead["id"])
    outdated = next(a for a in shown["timeline"] if a["kind"] == "viewing_reply")
    assert outdated["data"]["outdated"] is True
    # Accepting the new time counts (sent as automatic by the lead's calendar server: still
    # an answer, not an auto-reply), and the calendar shows it.
    await answer(moved, "ACCEPTED", automatic=True)
    state = await leads.client.get(f"/viewings/{booked['id']}", headers=headers(leads, agent))
    assert state.json()["state"] == "accepted"
    await leads.runtime.jobs.run_due()
    stored = radicale.event(user, password, calendar_url, f"viewing-{booked['id']}@pix.immo")
    assert stored is not None
    assert stored["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED"
    assert int(stored["SEQUENCE"]) == 1


async def test_an_erased_leads_viewing_leaves_the_agents_calendar(
    leads: LeadsApp, radicale: Radicale
) -> None:
    agent = person("owner")
    user, password, calendar_url = await connect(leads, radicale, agent)
    lead = await new_lead(leads, agent)
    booked = (
        await leads.client.post(
            f"/leads/{lead['id']}/viewings",
            json={"date": next_weekday(10).isoformat(), "start": "15:00"},
            headers=headers(leads, agent),
        )
    ).json()
    await leads.runtime.jobs.run_due()
    uid = f"viewing-{booked['id']}@pix.immo"
    assert radicale.event(user, password, calendar_url, uid) is not None
    erased = await leads.client.delete(f"/leads/{lead['id']}", headers=headers(leads, agent))
    assert erased.status_code == 204
    # The periodic clean-up, planted at this service's clock (earlier tests planted theirs).
    runtime = leads.runtime
    async with runtime.db.transaction() as session:
        await session.execute(delete(jobs).where(jobs.c.kind == VIEWING_ORPHANS))
    await runtime.jobs._plant_periodic()
    runtime.clock.advance(timedelta(minutes=11))
    await runtime.jobs.run_due()
    assert radicale.event(user, password, calendar_url, uid) is None
    async with runtime.db.sessions() as session:
        left = await session.scalar(select(viewings.c.id).where(viewings.c.uid == uid))
    assert left is None
