"""Intake end to end on the real database and storage: portal mails become leads with their
fields, auto-replies and bounces do not, nothing accepted is lost when parsing fails."""

from __future__ import annotations

import json

from leads_helpers import (
    CORPUS,
    LeadsApp,
    as_user,
    corpus,
    deliver,
    mailbox,
    outbox_events,
    person,
    raw_row,
)
from pix_contracts import LeadCreated

EXPECTED = json.loads((CORPUS / "expected.json").read_text())


async def test_every_corpus_message_becomes_the_lead_it_should(leads: LeadsApp) -> None:
    agent = person()
    box = await mailbox(leads, agent)
    ids = {name: await deliver(leads, corpus(name), box["intake_address"]) for name in EXPECTED}
    assert await leads.runtime.jobs.run_due() >= len(EXPECTED)
    headers = as_user(leads.runtime, agent)
    for name, facts in EXPECTED.items():
        row = await raw_row(leads.runtime, ids[name])
        if "not_a_lead" in facts:
            assert row["status"] == "ignored", name
            assert row["kind"] == facts["not_a_lead"], name
            assert row["lead_id"] is None
            continue
        if facts.get("needs") == "unparseable":
            assert row["status"] == "needs_review", name
            lead = (await leads.client.get(f"/leads/{row['lead_id']}", headers=headers)).json()
            assert lead["lead"]["needs_review"] is True
            continue
        assert row["status"] == "lead", (name, row["error"])
        detail = (await leads.client.get(f"/leads/{row['lead_id']}", headers=headers)).json()
        lead = detail["lead"]
        for key in (
            "source",
            "name",
            "email",
            "phone",
            "financing",
            "time_frame",
            "budget_max_eur",
        ):
            if key in facts:
                assert lead[key] == facts[key], (name, key, lead[key])
        assert 0 <= lead["score"] <= 100
        assert set(lead["score_factors"]) == {
            "time_frame",
            "financing",
            "budget_match",
            "source_quality",
            "engagement",
            "completeness",
        }
        assert detail["timeline"][0]["kind"] == "inquiry"
        assert detail["timeline"][0]["raw_message_id"] == str(ids[name])
    created = await outbox_events(leads.runtime, LeadCreated)
    mine = [e for e in created if e.org_id == agent.org_id]
    # Every message that is a lead, one lead per person (Paul and Lena each wrote once).
    assert len(mine) >= 25
    # Events carry no contact data (GDPR data minimisation).
    for event in mine:
        assert "@" not in event.model_dump_json(), event
