"""Matching quality on the hand-made German set (50 listings, 30 leads): recall@5 both ways."""

from __future__ import annotations

import uuid

from listings_helpers import Api, person
from matching_set import LEADS, LISTINGS, recall_at
from pix_contracts.leads import LeadCreated, LeadProfile


async def test_matching_finds_the_expected_listings_in_the_first_five(api: Api) -> None:
    agent = person()
    ids: dict[str, str] = {}
    for listing in LISTINGS:
        body = listing.body() | {"reference": f"{listing.ref}-{uuid.uuid4().hex[:6]}"}
        created = await api.create_published(agent, **body)
        ids[created["id"]] = listing.ref
    lead_ids: dict[str, uuid.UUID] = {}
    for lead in LEADS:
        event = LeadCreated(
            lead_id=uuid.uuid4(),
            org_id=agent.org_id,
            source="immoscout24",
            status="NEW",
            score=50,
            profile=LeadProfile(**lead.profile, wishes=lead.wishes),
        )
        lead_ids[lead.name] = event.lead_id
        await api.publish(event)
    await api.run_jobs()

    ranked: dict[str, list[str]] = {}
    for lead in LEADS:
        response = await api.get(agent, f"/leads/{lead_ids[lead.name]}/listings?limit=5")
        assert response.status_code == 200, response.text
        ranked[lead.name] = [ids[m["id"]] for m in response.json()]
    recall = recall_at(5, ranked)
    first = recall_at(1, ranked)
    print(f"\nmatching recall@5 = {recall:.2f}, recall@1 = {first:.2f} over {len(LEADS)} leads")
    assert recall >= 0.9, ranked
    assert first >= 0.7, ranked

    # The other way round: each expected listing names its lead among its leads.
    by_ref = {ref: lid for lid, ref in ids.items()}
    found = 0
    for lead in LEADS:
        listing_id = by_ref[lead.expected[0]]
        body = (await api.get(agent, f"/listings/{listing_id}/leads?limit=5")).json()
        found += str(lead_ids[lead.name]) in {m["id"] for m in body["matches"]}
    assert found / len(LEADS) >= 0.9
