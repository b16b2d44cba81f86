"""The issue's "done means", on the real database: ten portal emails and one website inquiry
become scored leads (one duplicate merged onto its lead's timeline); a known listing attaches
its inquiries and puts its exposé into the acknowledgement; an answer moves its lead on, the
silent ones are followed up on day 3 and LOST after day 14; erasure forgets."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from leads_helpers import LeadsApp, as_user, corpus, outbox_events, person, raw_row
from pix_contracts import LeadErased, LeadMessageRequested
from pix_contracts.leads import LEAD_MAIL_SEAL_PURPOSE
from pix_contracts.listings import ListingFacts, ListingPublished
from pix_leads.listing_mirror import ListingMirror
from pix_runtime.sealing import derive_key, unseal

TEN = [
    "is24_xml_multipart",
    "is24_text_qp",
    "is24_html_only",
    "is24_forwarded_twice",
    "immowelt_text",
    "immowelt_html_only",
    "kleinanzeigen_relay",
    "willhaben_text_at_phone",
    "generic_contact_form_swiss",
    "is24_latin1_qp",
]


async def test_ten_mails_one_form_one_duplicate(leads: LeadsApp) -> None:
    runtime, client = leads.runtime, leads.client
    agent = person()
    headers = as_user(runtime, agent)
    box = (await client.get("/settings", headers=headers)).json()
    # The listing behind the first mail (ImmoScout24 id 158293741), as listings announces it.
    listing_id = uuid.uuid4()
    await ListingMirror(runtime.db).listing_changed(
        ListingPublished(
            listing_id=listing_id,
            org_id=agent.org_id,
            order_id=None,
            facts=ListingFacts(
                reference="BLN-2041",
                title="Helle 3-Zimmer-Wohnung mit Balkon",
                property_type="apartment",
                marketing="sale",
                price_eur=480_000,
                rooms=3,
                living_area_m2=82,
                street=None,
                postcode="10115",
                city="Berlin",
                portal_ids=["158293741"],
                expose_url="https://pix.example/expose/BLN-2041.pdf",
            ),
        )
    )
    intake = leads.app.state.intake  # type: ignore[attr-defined]
    for name in TEN:
        await intake.receive(
            corpus(name), channel="smtp", mail_from=None, rcpt_to=[box["intake_address"]]
        )
    await runtime.jobs.run_due()
    # The same person as the first mail writes again through the website, another address.
    form = await client.post(
        f"/public/forms/{box['form_key']}",
        json={
            "name": "Lena Beispiel",
            "email": "lena.b@example.net",
            "phone": "+49 30 23125401",
            "message": "Gibt es einen Stellplatz?",
            "consent": True,
            "listing": str(listing_id),
        },
    )
    assert form.status_code == 201, form.text
    await runtime.jobs.run_due()

    listed = (await client.get("/leads", headers=headers)).json()
    assert len(listed) == 10  # eleven inquiries, one of them merged
    by_name = {lead["name"]: lead for lead in listed}
    lena = by_name["Lena Beispiel"]
    assert lena["inquiry_count"] == 2
    assert all(0 < lead["score"] <= 100 for lead in listed)
    detail = (await client.get(f"/leads/{lena['id']}", headers=headers)).json()
    assert detail["lead"]["listing_id"] == str(listing_id)
    assert detail["lead"]["score_factors"]["budget_match"]["reason"] == "no budget stated"
    sources = [a["data"]["source"] for a in detail["timeline"] if a["kind"] == "inquiry"]
    assert sources == ["immoscout24", "website"]

    ack = (await outbox_events(runtime, LeadMessageRequested, lena["id"]))[0]
    key = derive_key(runtime.internal_key, LEAD_MAIL_SEAL_PURPOSE)
    text = json.loads(unseal(ack.sealed_content, key, context=ack.message_key))["text"]
    assert "https://pix.example/expose/BLN-2041.pdf" in text

    # Jonas answers; everyone else stays silent.
    jonas = by_name["Jonas Testmann"]
    jonas_detail = (await client.get(f"/leads/{jonas['id']}", headers=headers)).json()
    reply = (
        f"From: Jonas <j.testmann@example.com>\r\nTo: {jonas_detail['lead']['reply_address']}\r\n"
        "Subject: Re: Ihre Anfrage\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Gern am Samstag.\r\n"
    ).encode()
    received = await intake.receive(
        reply, channel="smtp", mail_from=None, rcpt_to=[jonas_detail["lead"]["reply_address"]]
    )
    await runtime.jobs.run_due()
    assert (await raw_row(runtime, received.id))["status"] == "reply"

    runtime.clock.advance(timedelta(days=3, hours=1))
    await runtime.jobs.run_due()
    follow_ups = [
        e
        for e in await outbox_events(runtime, LeadMessageRequested)
        if e.org_id == agent.org_id and e.kind == "follow_up"
    ]
    # Jonas answered, and Lena wrote again (through the website) after our first message:
    # both engaged, so neither is followed up.
    emailable = {lead["id"] for lead in listed if lead["email"]} - {jonas["id"], lena["id"]}
    assert {str(e.lead_id) for e in follow_ups} == emailable

    runtime.clock.advance(timedelta(days=12))
    await runtime.jobs.run_due()
    after = {
        lead["name"]: lead["status"]
        for lead in (await client.get("/leads", headers=headers)).json()
    }
    assert after["Jonas Testmann"] == "CONVERSATION"
    assert after["Lena Beispiel"] == "CONTACTED"
    assert after["Mira Probe"] == "LOST"

    erased = await client.delete(f"/leads/{lena['id']}", headers=headers)
    assert erased.status_code == 204
    assert (await client.get(f"/leads/{lena['id']}", headers=headers)).status_code == 404
    assert len(await outbox_events(runtime, LeadErased, lena["id"])) == 1


async def test_a_similar_name_on_the_same_listing_is_the_same_person(leads: LeadsApp) -> None:
    runtime, client = leads.runtime, leads.client
    agent = person()
    headers = as_user(runtime, agent)
    listing_id = uuid.uuid4()
    await ListingMirror(runtime.db).listing_changed(
        ListingPublished(
            listing_id=listing_id,
            org_id=agent.org_id,
            order_id=None,
            facts=ListingFacts(
                reference="HH-17",
                title="Reihenhaus",
                property_type="house",
                marketing="sale",
                price_eur=500_000,
                rooms=5,
                living_area_m2=120,
                street=None,
                postcode="20095",
                city="Hamburg",
                portal_ids=["160014222"],
            ),
        )
    )

    async def create(name: str, email: str) -> Any:
        response = await client.post(
            "/leads",
            json={"name": name, "email": email, "listing_id": str(listing_id)},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        return response.json()

    first = await create("Jonas Testmann", "jonas@example.com")
    second = await create("Testmann, Jonas", "jt@example.org")
    assert second["id"] == first["id"]
    third = await create("Mira Probe", "mira@example.net")
    assert third["id"] != first["id"]
