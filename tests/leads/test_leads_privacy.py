"""The rights of a lead's person (GDPR Art. 15, 17, 21) and the leads' retention, on the real
database and storage: found by address or number in the caller's organisation only, exported,
anonymised with the statistics kept, an objection that stops every mail for good, and the
periodic retention jobs with a moved clock."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from leads_helpers import (
    LeadsApp,
    as_user,
    corpus,
    intake_of,
    mailbox,
    outbox_events,
    person,
    raw_row,
)
from pix_contracts import LeadMessageRequested
from pix_leads.models import jobs
from pix_runtime.identity import Identity
from sqlalchemy import delete

LENA = "Lena.Beispiel@example.org"


async def deliver(leads: LeadsApp, raw: bytes, who: Identity) -> uuid.UUID:
    box = await mailbox(leads, who)
    received = await intake_of(leads).receive(
        raw,
        channel="smtp",
        mail_from="kontaktanfrage@immobilienscout24.de",
        rcpt_to=[box["intake_address"]],
    )
    await leads.runtime.jobs.run_due()
    return received.id


async def call(leads: LeadsApp, who: Identity, action: str, **subject: str) -> Any:
    return await leads.client.post(
        f"/privacy/subjects/{action}", json=subject, headers=as_user(leads.runtime, who)
    )


async def lead(leads: LeadsApp, who: Identity, lead_id: object) -> dict[str, Any]:
    response = await leads.client.get(f"/leads/{lead_id}", headers=as_user(leads.runtime, who))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_person_is_found_exported_objects_and_is_erased_with_the_counts_kept(
    leads: LeadsApp,
) -> None:
    runtime = leads.runtime
    owner = person()
    agent = person("agent", org_id=owner.org_id)
    stranger = person()
    raw_id = await deliver(leads, corpus("is24_xml_multipart"), owner)
    lena = (await raw_row(runtime, raw_id))["lead_id"]
    other_raw = await deliver(leads, corpus("is24_text_qp"), owner)
    other = (await raw_row(runtime, other_raw))["lead_id"]
    # The same person wrote to another organisation too: not this one's business.
    await deliver(leads, corpus("is24_xml_multipart"), stranger)

    found = (await call(leads, agent, "find", email=LENA)).json()
    assert found == {
        "service": "leads",
        "lead_ids": [str(lena)],
        "raw_messages": 1,
        "objected": False,
    }
    by_phone = (await call(leads, agent, "find", phone="030 23125 401")).json()
    assert by_phone["lead_ids"] == [str(lena)]
    assert (await call(leads, stranger, "find", email="nobody@example.org")).json()[
        "lead_ids"
    ] == []
    bad = await call(leads, agent, "find")
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "subject_missing"

    exported = await call(leads, agent, "export", email=LENA)
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    data = exported.json()
    assert [x["email"] for x in data["leads"]] == ["lena.beispiel@example.org"]
    assert data["leads"][0]["name"] == "Lena Beispiel"
    assert {a["kind"] for a in data["leads"][0]["activities"]} >= {"inquiry", "email_out"}
    assert [r["id"] for r in data["raw_messages"]] == [str(raw_id)]

    # Art. 21: the follow-ups planned after the acknowledgement do not go out, and a new
    # inquiry of the same person is not acknowledged either.
    objected = (await call(leads, owner, "object", email=LENA)).json()
    assert objected == {"service": "leads", "leads": 1}
    runtime.clock.advance(timedelta(days=15))
    await runtime.jobs.run_due()
    asks = await outbox_events(runtime, LeadMessageRequested, lena)
    assert [a.kind for a in asks] == ["acknowledgement"]
    assert (await lead(leads, owner, lena))["lead"]["status"] == "CONTACTED"
    # Nor does an agent's own reply: refused, and nothing is asked of notify.
    refused = await leads.client.post(
        f"/leads/{lena}/messages",
        json={"subject": "", "text": "Darf ich Ihnen noch ein Angebot schicken?"},
        headers=as_user(runtime, owner),
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "objected"
    asks = await outbox_events(runtime, LeadMessageRequested, lena)
    assert [a.kind for a in asks] == ["acknowledgement"]

    # Art. 17: erased, while the organisation keeps its counts and stages.
    storage_key = (await raw_row(runtime, raw_id))["storage_key"]
    erased = (await call(leads, owner, "erase", email=LENA)).json()
    assert erased == {"service": "leads", "leads": 1, "raw_messages": 1}
    left = await lead(leads, owner, lena)
    assert left["lead"]["name"] == ""
    assert left["lead"]["email"] is None
    assert left["lead"]["phone"] is None
    assert left["lead"]["message"] == ""
    assert left["lead"]["status"] == "CONTACTED"
    assert all(a["text"] == "" for a in left["timeline"])
    assert "Lena" not in str(left)
    assert not await runtime.storage.exists(storage_key)
    listed = (await leads.client.get("/leads", headers=as_user(runtime, owner))).json()
    assert len(listed) == 2
    assert (await call(leads, owner, "find", email=LENA)).json()["lead_ids"] == []
    # The objection outlives the erasure (kept as a digest, not as the address).
    assert (await call(leads, owner, "find", email=LENA)).json()["objected"] is True
    again = await deliver(leads, corpus("is24_xml_multipart"), owner)
    new_lead = (await raw_row(runtime, again))["lead_id"]
    assert new_lead not in (lena, other)
    assert await outbox_events(runtime, LeadMessageRequested, new_lead) == []
    # The other organisation and the other person are untouched.
    assert (await lead(leads, owner, other))["lead"]["name"] != ""
    assert len((await call(leads, stranger, "find", email=LENA)).json()["lead_ids"]) == 1


async def test_retention_deletes_raw_messages_after_30_days_and_anonymises_lost_leads_after_a_year(
    leads: LeadsApp,
) -> None:
    runtime = leads.runtime
    owner = person()
    headers = as_user(runtime, owner)
    # Periodic jobs from earlier tests in this schema may be planted at their own clock's
    # time, days or a year ahead: plant them afresh at this service's clock.
    async with runtime.db.transaction() as session:
        await session.execute(delete(jobs).where(jobs.c.every_seconds.is_not(None)))
    await runtime.jobs._plant_periodic()
    raw_id = await deliver(leads, corpus("is24_text_qp"), owner)
    lost_id = (await raw_row(runtime, raw_id))["lead_id"]
    storage_key = (await raw_row(runtime, raw_id))["storage_key"]
    moved = await leads.client.post(
        f"/leads/{lost_id}/status", json={"status": "LOST", "reason": "gekauft"}, headers=headers
    )
    assert moved.status_code == 200, moved.text
    kept = await leads.client.post(
        "/leads", json={"name": "Tom Telefon", "phone": "0170 23125 999"}, headers=headers
    )
    kept_id = kept.json()["id"]
    # Another organisation keeps lost leads 30 days only (and original messages 10).
    brisk = person()
    own = await leads.client.put(
        "/privacy/retention",
        json={"lost_lead_days": 30, "raw_message_days": 10},
        headers=as_user(runtime, brisk),
    )
    assert own.json() == {
        "lost_lead_days": 30,
        "raw_message_days": 10,
        "own": {"lost_lead_days": 30, "raw_message_days": 10},
    }
    too_long = await leads.client.put(
        "/privacy/retention", json={"raw_message_days": 400}, headers=as_user(runtime, brisk)
    )
    assert too_long.status_code == 422
    agent = person("agent", org_id=brisk.org_id)
    refused = await leads.client.put(
        "/privacy/retention", json={"raw_message_days": 5}, headers=as_user(runtime, agent)
    )
    assert refused.status_code == 403
    brisk_raw = await deliver(leads, corpus("is24_text_qp"), brisk)
    brisk_lost = (await raw_row(runtime, brisk_raw))["lead_id"]
    brisk_key = (await raw_row(runtime, brisk_raw))["storage_key"]
    await leads.client.post(
        f"/leads/{brisk_lost}/status",
        json={"status": "LOST", "reason": "gekauft"},
        headers=as_user(runtime, brisk),
    )
    defaults = (await leads.client.get("/privacy/retention", headers=headers)).json()
    assert (defaults["lost_lead_days"], defaults["raw_message_days"]) == (365, 30)

    runtime.clock.advance(timedelta(days=11))
    await runtime.jobs.run_due()
    assert not await runtime.storage.exists(brisk_key)
    assert await runtime.storage.exists(storage_key)
    runtime.clock.advance(timedelta(days=18))
    await runtime.jobs.run_due()
    assert await runtime.storage.exists(storage_key)
    runtime.clock.advance(timedelta(days=2))
    await runtime.jobs.run_due()
    assert not await runtime.storage.exists(storage_key)
    assert (await lead(leads, owner, lost_id))["lead"]["name"] != ""
    assert (await lead(leads, brisk, brisk_lost))["lead"]["name"] == ""

    runtime.clock.advance(timedelta(days=365 - 31 + 1))
    await runtime.jobs.run_due()
    gone = (await lead(leads, owner, lost_id))["lead"]
    assert (gone["name"], gone["email"], gone["phone"], gone["status"]) == ("", None, None, "LOST")
    assert (await lead(leads, owner, kept_id))["lead"]["name"] == "Tom Telefon"
