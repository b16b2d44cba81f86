"""Matching both ways with reasons, German full-text and meaning search, price estimates."""

from __future__ import annotations

import uuid
from typing import Any

from listings_helpers import Api, person, unique_postcode
from pix_contracts.leads import (
    LeadCreated,
    LeadErased,
    LeadProfile,
    LeadStatusChanged,
    LeadUpdated,
)


def lead(org_id: uuid.UUID, **profile: Any) -> LeadCreated:
    return LeadCreated(
        lead_id=uuid.uuid4(),
        org_id=org_id,
        source="immoscout24",
        status="NEW",
        score=70,
        profile=LeadProfile(**profile),
    )


async def test_listings_for_a_lead_are_ranked_with_reasons(api: Api) -> None:
    agent = person()
    postcode = unique_postcode()
    fits = await api.create_published(
        agent,
        title="Altbauwohnung mit Balkon",
        price_eur=468_000,
        rooms=3,
        postcode=postcode,
        features=["Balkon", "Aufzug"],
        description_de="Ruhige Altbauwohnung mit sonnigem Balkon und Aufzug, nahe Kita.",
    )
    cheaper = await api.create_published(
        agent,
        title="Kleine Wohnung",
        price_eur=390_000,
        rooms=3,
        postcode=postcode,
        features=["Keller"],
        description_de="Kompakte Wohnung im Hinterhaus.",
    )
    too_dear = await api.create_published(agent, price_eur=600_000, rooms=3, postcode=postcode)
    house = await api.create_published(agent, property_type="house", postcode=postcode)
    await api.create(agent, price_eur=400_000, postcode=postcode)  # a draft: never matched
    other_org = await api.create_published(person(), price_eur=400_000, postcode=postcode)

    wanted = lead(
        agent.org_id,
        property_type="apartment",
        marketing="sale",
        budget_max_eur=450_000,
        rooms_min=3,
        postcodes=[postcode],
        wishes="Wir suchen eine ruhige Wohnung mit Balkon für unsere Familie.",
    )
    await api.publish(wanted)
    await api.run_jobs()

    response = await api.get(agent, f"/leads/{wanted.lead_id}/listings")
    assert response.status_code == 200, response.text
    matches = response.json()
    ids = [m["id"] for m in matches]
    assert set(ids) == {fits["id"], cheaper["id"]}
    assert too_dear["id"] not in ids
    assert house["id"] not in ids
    assert other_org["id"] not in ids
    first = matches[0]
    assert first["id"] == fits["id"]  # balcony and quiet mentioned, 4 % over budget
    assert "3 Zimmer wie gewünscht" in first["reasons"]
    assert "4 % über Budget" in first["reasons"]
    assert "Balkon erwähnt" in first["reasons"]
    assert f"in PLZ {postcode}" in first["reasons"]
    assert first["similarity"] is not None
    assert "13 % unter Budget" in matches[1]["reasons"]

    english = await api.get(
        person(org_id=agent.org_id, locale="en"), f"/leads/{wanted.lead_id}/listings"
    )
    assert "3 rooms as wished" in english.json()[0]["reasons"]
    assert "4 % over budget" in english.json()[0]["reasons"]

    # Another organisation's agent cannot ask for this lead.
    assert (await api.get(person(), f"/leads/{wanted.lead_id}/listings")).status_code == 404


async def test_leads_for_a_new_listing_count_and_drop_lost_and_erased_leads(api: Api) -> None:
    agent = person()
    postcode = unique_postcode()
    near = f"{postcode[:3]}{(int(postcode[3:]) + 1) % 100:02d}"
    leads = [
        lead(
            agent.org_id,
            budget_max_eur=500_000,
            rooms_min=2,
            postcodes=[postcode],
            wishes="Balkon wäre schön",
        ),
        lead(agent.org_id, budget_max_eur=460_000, postcodes=[near]),  # neighbouring postcode
        lead(agent.org_id, city="Berlin", marketing="sale"),
        lead(agent.org_id, budget_max_eur=300_000, postcodes=[postcode]),  # too poor
        lead(agent.org_id, marketing="rent", postcodes=[postcode]),  # wants to rent
        lead(agent.org_id, property_type="house", postcodes=[postcode]),
        lead(person().org_id, postcodes=[postcode]),  # another organisation's lead
    ]
    for created in leads:
        await api.publish(created)
    listing = await api.create_published(agent, price_eur=450_000, rooms=3, postcode=postcode)
    await api.run_jobs()

    response = await api.get(agent, f"/listings/{listing['id']}/leads")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 3
    assert body["matches"][0]["id"] == str(leads[0].lead_id)
    assert {m["id"] for m in body["matches"]} == {str(x.lead_id) for x in leads[:3]}
    top = body["matches"][0]
    assert "3 Zimmer wie gewünscht" in top["reasons"]
    assert "10 % unter Budget" in top["reasons"]
    assert "Balkon erwähnt" in top["reasons"]

    # A lead that is lost, or erased, drops out; a changed profile counts at once.
    status = LeadStatusChanged(
        lead_id=leads[1].lead_id, org_id=agent.org_id, old_status="NEW", new_status="LOST"
    )
    await api.publish(status)
    await api.publish(LeadErased(lead_id=leads[2].lead_id, org_id=agent.org_id))
    richer = LeadUpdated(
        lead_id=leads[3].lead_id,
        org_id=agent.org_id,
        status="CONTACTED",
        score=80,
        profile=LeadProfile(budget_max_eur=480_000, postcodes=[postcode]),
    )
    for _ in range(2):
        await api.publish(richer)
    await api.run_jobs()
    after = (await api.get(agent, f"/listings/{listing['id']}/leads")).json()
    assert {m["id"] for m in after["matches"]} == {str(leads[0].lead_id), str(leads[3].lead_id)}
    assert after["count"] == 2


async def test_the_search_box_finds_words_and_meaning_and_says_which(api: Api) -> None:
    agent = person()
    balcony = await api.create(
        agent,
        title="Dachgeschosswohnung mit Balkonen",
        description_de="Zwei Balkone mit Blick ins Grüne.",
    )
    garden = await api.create(
        agent,
        title="Reihenhaus am Stadtrand",
        property_type="house",
        street="Gartenweg 3",
        description_de="Familienfreundliches Haus mit großem Garten, Spielplatz, Schule nebenan.",
        features=["Garten"],
    )
    compound = await api.create(
        agent,
        title="Loft am Kanal",
        features=["Einbauküche"],
        description_de="Loft mit Südbalkon und Blick aufs Wasser.",
    )
    await api.create(person(), title="Balkonwohnung einer anderen Agentur")
    await api.run_jobs()

    words = (await api.get(agent, "/search", params={"q": "Balkon"})).json()
    assert [h["id"] for h in words][:1] == [balcony["id"]]  # German stemming: Balkonen
    assert "text" in words[0]["matched"]
    assert "<mark>" in words[0]["headline"]
    assert all("anderen Agentur" not in h["title"] for h in words)
    # German compounds: stemming keeps "Südbalkon" whole; the trigram index finds the part.
    by_id = {h["id"]: h for h in words}
    assert "text" in by_id[compound["id"]]["matched"]

    meaning = (
        await api.get(agent, "/search", params={"q": "Zuhause für Kinder zum Spielen im Grünen"})
    ).json()
    by_id = {h["id"]: h for h in meaning}
    assert garden["id"] in by_id
    assert "meaning" in by_id[garden["id"]]["matched"]

    address = (await api.get(agent, "/search", params={"q": "Gartenweg"})).json()
    assert address[0]["id"] == garden["id"]
    assert "text" in address[0]["matched"]


async def test_price_estimate_uses_comparables_removes_outliers_and_is_honest(api: Api) -> None:
    agent = person()
    postcode = unique_postcode()
    per_m2 = [5000, 5200, 5100, 4900, 5300, 5050, 4950, 5150, 25000]  # one absurd listing
    for index, price in enumerate(per_m2):
        who = agent if index % 2 == 0 else person()  # also other organisations' listings
        await api.create_published(
            who, postcode=postcode, living_area_m2=80 + index, price_eur=price * (80 + index)
        )
    response = await api.post(
        agent,
        "/price-estimate",
        {"property_type": "apartment", "living_area_m2": 84, "postcode": postcode},
    )
    assert response.status_code == 200, response.text
    estimate = response.json()
    assert estimate["status"] == "ok"
    assert estimate["outliers_removed"] == 1
    assert estimate["comparables_used"] == 8
    assert 5000 <= estimate["price_per_m2"] <= 5150
    assert estimate["low_eur"] < estimate["estimate_eur"] < estimate["high_eur"]
    assert estimate["low_eur"] >= 84 * 4900
    assert estimate["high_eur"] <= 84 * 5300
    outliers = [c for c in estimate["comparables"] if c["outlier"]]
    assert [c["price_per_m2"] for c in outliers] == [25000]
    # Other organisations' listings count, but anonymously.
    theirs = [c for c in estimate["comparables"] if not c["own"]]
    assert theirs
    assert all(c["listing_id"] is None and c["title"] is None for c in theirs)

    lonely = await api.post(
        agent,
        "/price-estimate",
        {"property_type": "house", "living_area_m2": 140, "postcode": unique_postcode()},
    )
    assert lonely.status_code == 200
    assert lonely.json()["status"] == "too_few_comparables"
    assert lonely.json()["estimate_eur"] is None
    assert "keine seriöse Schätzung" in lonely.json()["message"]
