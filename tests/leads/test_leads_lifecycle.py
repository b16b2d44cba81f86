"""A lead's life on the real database: duplicates merged, scores with reasons, the status
machine, replies by plus-address, acknowledgement and follow-ups with a moved clock, search,
predictions, A/B tests, tenancy and bad input."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from leads_helpers import (
    LeadsApp,
    as_user,
    corpus,
    deliver,
    mailbox,
    outbox_events,
    person,
    queued,
    raw_row,
)
from pix_contracts import LeadMessageRequested, LeadStatusChanged
from pix_contracts.leads import LEAD_MAIL_SEAL_PURPOSE
from pix_runtime.identity import Identity
from pix_runtime.sealing import derive_key, unseal


async def lead_from(leads: LeadsApp, agent: Identity, name: str) -> dict[str, Any]:
    box = await mailbox(leads, agent)
    raw_id = await deliver(leads, corpus(name), box["intake_address"])
    await leads.runtime.jobs.run_due()
    row = await raw_row(leads.runtime, raw_id)
    assert row["lead_id"] is not None, row
    return await detail(leads, agent, row["lead_id"])


async def detail(leads: LeadsApp, who: Identity, lead_id: object) -> dict[str, Any]:
    response = await leads.client.get(f"/leads/{lead_id}", headers=as_user(leads.runtime, who))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def reply_mail(to: str, text: str, subject: str = "Re: Ihre Anfrage") -> bytes:
    return (
        f"From: Lena Beispiel <lena.beispiel@example.org>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{text}\r\n\r\nAm 01.12.2026 schrieb Makler:\r\n> Vielen Dank für Ihre Anfrage\r\n"
    ).encode()


async def test_the_same_person_twice_is_one_lead_with_both_inquiries(leads: LeadsApp) -> None:
    agent = person()
    first = await lead_from(leads, agent, "is24_xml_multipart")
    box = await mailbox(leads, agent)
    # The same person again, through a website-style direct mail with her address.
    again = reply_mail(
        box["intake_address"],
        "Ich habe noch eine Frage zur Wohnung: gibt es einen Keller?",
        "Frage",
    )
    raw_id = await deliver(leads, again, box["intake_address"])
    await leads.runtime.jobs.run_due()
    row = await raw_row(leads.runtime, raw_id)
    assert row["lead_id"] == uuid.UUID(first["lead"]["id"])
    assert row["kind"] == "duplicate"
    merged = await detail(leads, agent, first["lead"]["id"])
    assert merged["lead"]["inquiry_count"] == 2
    inquiries = [a for a in merged["timeline"] if a["kind"] == "inquiry"]
    assert len(inquiries) == 2
    assert inquiries[1]["data"]["merged"] is True
    listed = (await leads.client.get("/leads", headers=as_user(leads.runtime, agent))).json()
    assert len(listed) == 1


async def test_the_score_follows_the_seed_weights_and_says_why(leads: LeadsApp) -> None:
    agent = person()
    lead = (await lead_from(leads, agent, "is24_text_qp"))["lead"]
    factors = lead["score_factors"]
    assert {k: f["max"] for k, f in factors.items()} == {
        "time_frame": 25,
        "financing": 25,
        "budget_match": 15,
        "source_quality": 15,
        "engagement": 10,
        "completeness": 10,
    }
    assert factors["financing"]["points"] == 25  # Finanzierungsbestätigung liegt vor
    assert factors["time_frame"]["points"] == 20  # in 2 Monaten
    assert factors["budget_match"]["points"] == 7  # a budget, no listing price known
    assert factors["source_quality"]["points"] == 12
    assert lead["score"] == sum(f["points"] for f in factors.values())
    assert lead["phone"] == "+491713925418"


async def test_acknowledgement_then_follow_ups_then_lost(leads: LeadsApp) -> None:
    agent = person()
    lead = (await lead_from(leads, agent, "is24_xml_multipart"))["lead"]
    lead_id = lead["id"]
    runtime = leads.runtime
    # The acknowledgement went out with the first run (to the lead, reply-to its address).
    asks = await outbox_events(runtime, LeadMessageRequested, lead_id)
    assert [a.kind for a in asks] == ["acknowledgement"]
    ack = asks[0]
    key = derive_key(runtime.internal_key, LEAD_MAIL_SEAL_PURPOSE)
    assert unseal(ack.sealed_recipient, key, context=ack.message_key) == "lena.beispiel@example.org"
    content = json.loads(unseal(ack.sealed_content, key, context=ack.message_key))
    assert "Helle 3-Zimmer-Wohnung mit Balkon" in content["subject"]
    assert content["text"].startswith("Sehr geehrte Frau Beispiel,")
    assert ack.reply_to == lead["reply_address"]
    assert (await detail(leads, agent, lead_id))["lead"]["status"] == "CONTACTED"
    planned = (await detail(leads, agent, lead_id))["planned"]
    assert [p["step"] for p in planned if p["kind"] == "leads.follow-up"] == [3, 7, 14]

    runtime.clock.advance(timedelta(days=3, minutes=1))
    await runtime.jobs.run_due()
    await runtime.jobs.run_due()  # running again sends nothing twice
    kinds = [
        a.message_key.split(":", 1)[1]
        for a in await outbox_events(runtime, LeadMessageRequested, lead_id)
    ]
    assert kinds == ["acknowledgement", "follow-up:3"]

    runtime.clock.advance(timedelta(days=12))
    await runtime.jobs.run_due()
    kinds = [
        a.message_key.split(":", 1)[1]
        for a in await outbox_events(runtime, LeadMessageRequested, lead_id)
    ]
    assert kinds == ["acknowledgement", "follow-up:3", "follow-up:7", "follow-up:14"]
    after = await detail(leads, agent, lead_id)
    assert after["lead"]["status"] == "LOST"
    assert after["lead"]["lost_reason"] == "no response after 14 days"
    changes = await outbox_events(runtime, LeadStatusChanged, lead_id)
    assert [(c.old_status, c.new_status) for c in changes] == [
        ("NEW", "CONTACTED"),
        ("CONTACTED", "LOST"),
    ]
    assert changes[-1].changed_by is None


async def test_a_reply_joins_the_conversation_and_cancels_the_follow_ups(leads: LeadsApp) -> None:
    agent = person()
    lead = (await lead_from(leads, agent, "is24_xml_multipart"))["lead"]
    runtime = leads.runtime
    assert len(await queued(runtime, "leads.follow-up", lead["id"])) == 3
    raw_id = await deliver(
        leads,
        reply_mail(lead["reply_address"], "Dienstag um 18 Uhr passt mir sehr gut!"),
        lead["reply_address"],
    )
    await runtime.jobs.run_due()
    assert (await raw_row(runtime, raw_id))["status"] == "reply"
    after = await detail(leads, agent, lead["id"])
    assert after["lead"]["status"] == "CONVERSATION"
    assert after["lead"]["reply_count"] == 1
    replies = [a for a in after["timeline"] if a["kind"] == "email_in"]
    assert replies[0]["text"] == "Dienstag um 18 Uhr passt mir sehr gut!"  # the quote is cut
    assert await queued(runtime, "leads.follow-up", lead["id"]) == []
    runtime.clock.advance(timedelta(days=20))
    await runtime.jobs.run_due()
    asks = await outbox_events(runtime, LeadMessageRequested, lead["id"])
    assert [a.kind for a in asks] == ["acknowledgement"]
    assert (await detail(leads, agent, lead["id"]))["lead"]["status"] == "CONVERSATION"


async def test_an_auto_reply_to_the_reply_address_changes_nothing(leads: LeadsApp) -> None:
    agent = person()
    lead = (await lead_from(leads, agent, "is24_xml_multipart"))["lead"]
    raw_id = await deliver(
        leads,
        corpus("auto_reply_de").replace(
            b"anfragen@leads.pix.localhost", lead["reply_address"].encode()
        ),
        lead["reply_address"],
    )
    await leads.runtime.jobs.run_due()
    assert (await raw_row(leads.runtime, raw_id))["status"] == "ignored"
    assert (await detail(leads, agent, lead["id"]))["lead"]["status"] == "CONTACTED"


async def test_the_status_machine(leads: LeadsApp) -> None:
    agent = person()
    headers = as_user(leads.runtime, agent)
    created = await leads.client.post(
        "/leads", json={"name": "Tom Telefon", "phone": "0170 23125 999"}, headers=headers
    )
    assert created.status_code == 201, created.text
    lead_id = created.json()["id"]
    assert created.json()["phone"] == "+4917023125999"

    async def move(status: str, reason: str | None = None) -> Any:
        return await leads.client.post(
            f"/leads/{lead_id}/status", json={"status": status, "reason": reason}, headers=headers
        )

    assert (await move("CONVERSATION")).status_code == 200
    back = await move("CONTACTED")
    assert back.status_code == 409
    assert back.json()["error"]["code"] == "invalid_transition"
    no_reason = await move("LOST")
    assert no_reason.status_code == 422
    assert (await move("BOOKED")).status_code == 200
    lost = await move("LOST", "bought elsewhere")
    assert lost.json()["status"] == "LOST"
    assert (await move("NEW")).status_code == 409
    timeline = (await detail(leads, agent, lead_id))["timeline"]
    statuses = [
        (a["data"]["old"], a["data"]["new"], a["actor_id"])
        for a in timeline
        if a["kind"] == "status"
    ]
    assert statuses == [
        ("NEW", "CONVERSATION", str(agent.user_id)),
        ("CONVERSATION", "BOOKED", str(agent.user_id)),
        ("BOOKED", "LOST", str(agent.user_id)),
    ]


async def test_an_agent_reply_goes_out_through_notify(leads: LeadsApp) -> None:
    agent = person()
    lead = (await lead_from(leads, agent, "willhaben_english"))["lead"]
    headers = as_user(leads.runtime, agent)
    sent = await leads.client.post(
        f"/leads/{lead['id']}/messages", json={"text": "Tuesday at 5 pm?"}, headers=headers
    )
    assert sent.status_code == 201, sent.text
    asks = await outbox_events(leads.runtime, LeadMessageRequested, lead["id"])
    assert [a.kind for a in asks] == ["acknowledgement", "reply"]
    assert asks[0].locale == "en"


async def test_search_finds_german_word_forms(leads: LeadsApp) -> None:
    agent = person()
    await lead_from(leads, agent, "is24_forwarded_twice")  # "... das Penthouse kaufen ..."
    await lead_from(leads, agent, "immowelt_text")
    headers = as_user(leads.runtime, agent)
    hits = (await leads.client.get("/search", params={"q": "Penthouse"}, headers=headers)).json()
    assert [h["lead"]["name"] for h in hits] == ["Paul Fiktiv"]
    # "Besichtigung" in a message is found by "besichtigungen" (German stemming).
    hits = (
        await leads.client.get("/search", params={"q": "besichtigungen"}, headers=headers)
    ).json()
    assert [h["lead"]["name"] for h in hits] == ["Tarik Beispielmann"]
    prefix = (await leads.client.get("/leads", params={"q": "Beispielm"}, headers=headers)).json()
    assert [lead["name"] for lead in prefix] == ["Tarik Beispielmann"]
    other = person()
    assert (
        await leads.client.get(
            "/search", params={"q": "Penthouse"}, headers=as_user(leads.runtime, other)
        )
    ).json() == []


async def test_another_organisations_lead_is_not_found(leads: LeadsApp) -> None:
    agent, stranger = person(), person()
    lead = (await lead_from(leads, agent, "immowelt_budget"))["lead"]
    theirs = as_user(leads.runtime, stranger)
    lead_id = lead["id"]
    for method, path, body in [
        ("GET", f"/leads/{lead_id}", None),
        ("PATCH", f"/leads/{lead_id}", {"notes": "x"}),
        ("POST", f"/leads/{lead_id}/status", {"status": "BOOKED"}),
        ("POST", f"/leads/{lead_id}/messages", {"text": "hi"}),
        ("POST", f"/leads/{lead_id}/reparse", None),
        ("GET", f"/leads/{lead_id}/prediction", None),
        ("DELETE", f"/leads/{lead_id}", None),
    ]:
        response = await leads.client.request(method, path, json=body, headers=theirs)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert (await leads.client.get("/leads", headers=theirs)).json() == []
    admin = person("admin")
    seen = await leads.client.get(f"/leads/{lead_id}", headers=as_user(leads.runtime, admin))
    assert seen.status_code == 200
    assert (await leads.client.get(f"/leads/{lead_id}")).status_code == 401


async def test_assignment_and_the_mine_filter(leads: LeadsApp) -> None:
    owner = person()
    colleague = person(org_id=owner.org_id)
    lead = (await lead_from(leads, owner, "immowelt_budget"))["lead"]
    headers = as_user(leads.runtime, owner)
    changed = await leads.client.patch(
        f"/leads/{lead['id']}", json={"assignee_id": str(colleague.user_id)}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    mine = (
        await leads.client.get(
            "/leads", params={"assignee": "me"}, headers=as_user(leads.runtime, colleague)
        )
    ).json()
    assert [m["id"] for m in mine] == [lead["id"]]
    assert (
        await leads.client.get("/leads", params={"assignee": "me"}, headers=headers)
    ).json() == []


async def test_agents_see_their_own_and_unassigned_leads_owners_all(leads: LeadsApp) -> None:
    owner = person("owner")
    agent = person("agent", org_id=owner.org_id)
    other_agent = person("agent", org_id=owner.org_id)
    headers = as_user(leads.runtime, owner)
    theirs = (await lead_from(leads, owner, "immowelt_budget"))["lead"]
    open_lead = (await lead_from(leads, owner, "is24_xml_multipart"))["lead"]
    assigned = await leads.client.patch(
        f"/leads/{theirs['id']}", json={"assignee_id": str(other_agent.user_id)}, headers=headers
    )
    assert assigned.status_code == 200, assigned.text

    as_agent = as_user(leads.runtime, agent)
    seen = {lead["id"] for lead in (await leads.client.get("/leads", headers=as_agent)).json()}
    assert open_lead["id"] in seen
    assert theirs["id"] not in seen
    hidden = await leads.client.get(f"/leads/{theirs['id']}", headers=as_agent)
    assert hidden.status_code == 404
    assert (
        await leads.client.get(
            f"/leads/{theirs['id']}", headers=as_user(leads.runtime, other_agent)
        )
    ).status_code == 200
    everything = {lead["id"] for lead in (await leads.client.get("/leads", headers=headers)).json()}
    assert {theirs["id"], open_lead["id"]} <= everything


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/leads", b"{not json", 422),
        ("POST", "/leads", {"name": 5}, 422),
        ("POST", "/leads", {"name": "A", "email": "nope"}, 422),
        ("POST", "/leads", {"name": "A", "unknown": 1}, 422),
        ("GET", "/leads?min_score=500", None, 422),
        ("GET", "/leads?status=WHATEVER", None, 422),
        ("GET", "/leads/not-a-uuid", None, 422),
        ("POST", f"/leads/{uuid.uuid4()}/status", {"status": "BOOKED"}, 404),
        ("PUT", "/settings", {"slug": "NO SPACES"}, 422),
        (
            "POST",
            "/ab-tests",
            {"name": "x", "template_kind": "acknowledgement", "variants": []},
            422,
        ),
    ],
)
async def test_bad_input_is_a_clean_client_error(
    leads: LeadsApp, method: str, path: str, body: object, status: int
) -> None:
    headers = as_user(leads.runtime, person())
    if isinstance(body, bytes):
        response = await leads.client.request(
            method, path, content=body, headers={**headers, "content-type": "application/json"}
        )
    else:
        response = await leads.client.request(method, path, json=body, headers=headers)
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) >= {"code", "message"}


async def test_a_prediction_and_the_best_contact_time(leads: LeadsApp) -> None:
    agent = person()
    lead = (await lead_from(leads, agent, "is24_xml_multipart"))["lead"]
    headers = as_user(leads.runtime, agent)
    prediction = (await leads.client.get(f"/leads/{lead['id']}/prediction", headers=headers)).json()
    assert 0 <= prediction["probability"] <= 99
    assert prediction["calibrated"] is False
    assert prediction["factors"]["financing"] == 0.9
    await deliver(leads, reply_mail(lead["reply_address"], "Gern!"), lead["reply_address"])
    await leads.runtime.jobs.run_due()
    timing = (await leads.client.get("/analytics/contact-time", headers=headers)).json()
    assert timing["replies_counted"] == 1
    assert timing["best_hour"] is not None
    better = (await leads.client.get(f"/leads/{lead['id']}/prediction", headers=headers)).json()
    assert better["probability"] > prediction["probability"]


async def test_an_ab_test_assigns_by_weight_and_reports_significance(leads: LeadsApp) -> None:
    agent = person()
    headers = as_user(leads.runtime, agent)
    created = await leads.client.post(
        "/ab-tests",
        json={
            "name": "Kurz gegen lang",
            "template_kind": "acknowledgement",
            "variants": [
                {
                    "name": "A",
                    "weight": 1,
                    "subject": "Danke, {name}",
                    "body": "{greeting}\n\nKurz.",
                },
                {
                    "name": "B",
                    "weight": 3,
                    "subject": "Ihre Anfrage",
                    "body": "{greeting}\n\nLang.",
                },
            ],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    experiment_id = created.json()["id"]
    assert (
        await leads.client.post(f"/ab-tests/{experiment_id}/start", headers=headers)
    ).status_code == 200
    again = await leads.client.post(f"/ab-tests/{experiment_id}/start", headers=headers)
    assert again.status_code == 409
    for name in ("is24_xml_multipart", "immowelt_text", "willhaben_text_at_phone", "is24_text_qp"):
        await lead_from(leads, agent, name)
    results = (await leads.client.get(f"/ab-tests/{experiment_id}/results", headers=headers)).json()
    assert sum(v["assigned"] for v in results["variants"]) == 4
    assert results["variants"][0]["p_value"] is None
    stranger = as_user(leads.runtime, person())
    assert (
        await leads.client.get(f"/ab-tests/{experiment_id}/results", headers=stranger)
    ).status_code == 404
    assert (await leads.client.post(f"/ab-tests/{experiment_id}/end", headers=headers)).json()[
        "status"
    ] == "ended"


async def test_predictions_calibrate_on_the_organisations_own_history(leads: LeadsApp) -> None:
    agent = person()
    headers = as_user(leads.runtime, agent)
    for n in range(30):
        created = await leads.client.post(
            "/leads", json={"name": f"Lead {n}", "email": f"l{n}@example.org"}, headers=headers
        )
        status = {"status": "BOOKED"} if n < 3 else {"status": "LOST", "reason": "no fit"}
        moved = await leads.client.post(
            f"/leads/{created.json()['id']}/status", json=status, headers=headers
        )
        assert moved.status_code == 200
    fresh = await leads.client.post(
        "/leads", json={"name": "Neu", "email": "neu@example.org"}, headers=headers
    )
    prediction = (
        await leads.client.get(f"/leads/{fresh.json()['id']}/prediction", headers=headers)
    ).json()
    assert prediction["calibrated"] is True
    assert "calibration" in prediction["factors"]
    # A tenth of the organisation's decided leads booked: the model's mean is moved there.
    assert prediction["probability"] <= 15
