"""Listings from orders and by hand, media from the gallery export, the life cycle's events,
tenancy and bad input, on the real database."""

from __future__ import annotations

import uuid

from listings_helpers import ROOMS, Api, complete_listing, order_placed, person, stage_export
from pix_contracts.listings import ListingPublished, ListingUpdated, ListingWithdrawn


async def test_an_order_becomes_a_draft_listing_once(api: Api) -> None:
    agent = person()
    placed = order_placed(agent.org_id)
    for _ in range(2):  # a redelivery changes nothing
        await api.publish(placed)
    found = (await api.get(agent, "/listings")).json()
    mine = [x for x in found if x["reference"] == placed.reference]
    assert len(mine) == 1
    listing = (await api.get(agent, f"/listings/{mine[0]['id']}")).json()
    assert listing["status"] == "draft"
    assert listing["order_id"] == str(placed.order_id)
    assert listing["gallery_id"] == str(placed.gallery_id)
    assert (listing["street"], listing["postcode"], listing["city"]) == (
        "Lindenallee 5a",
        "10115",
        "Berlin",
    )
    assert listing["property_type"] == "apartment"
    assert listing["title"] == "Wohnung in Berlin"
    assert listing["contact_email"] == "erika@makler-example.de"


async def test_a_draft_takes_the_orders_property_facts_from_the_richer_event(api: Api) -> None:
    agent = person()
    placed = order_placed(
        agent.org_id,
        # The one-line address is not what counts when the parts travel.
        property_address="somewhere",
        street="Mariahilfer Straße",
        house_number="12",
        postcode="1060",
        city="Wien",
        country="AT",
        marketing="rent",
        living_area_m2=94.5,
        rooms=3.5,
    )
    await api.publish(placed)
    found = (await api.get(agent, "/listings")).json()
    [mine] = [x for x in found if x["reference"] == placed.reference]
    listing = (await api.get(agent, f"/listings/{mine['id']}")).json()
    assert (listing["street"], listing["postcode"], listing["city"], listing["country"]) == (
        "Mariahilfer Straße 12",
        "1060",
        "Wien",
        "AT",
    )
    assert (listing["marketing"], listing["living_area_m2"], listing["rooms"]) == (
        "rent",
        94.5,
        3.5,
    )
    assert listing["title"] == "Wohnung in Wien"


async def test_an_older_order_without_facts_keeps_the_defaults(api: Api) -> None:
    agent = person()
    placed = order_placed(agent.org_id)
    await api.publish(placed)
    [mine] = [
        x for x in (await api.get(agent, "/listings")).json() if x["reference"] == placed.reference
    ]
    listing = (await api.get(agent, f"/listings/{mine['id']}")).json()
    assert (listing["marketing"], listing["country"], listing["rooms"]) == ("sale", "DE", None)


async def test_the_gallery_export_brings_captioned_photos_idempotently(api: Api) -> None:
    agent = person()
    placed = order_placed(agent.org_id)
    await api.publish(placed)
    asset_ids: dict[str, uuid.UUID] = {}
    exported = await stage_export(api.runtime, agent.org_id, placed.gallery_id, asset_ids=asset_ids)
    for _ in range(2):
        await api.publish(exported)
    [summary] = [
        x for x in (await api.get(agent, "/listings")).json() if x["reference"] == placed.reference
    ]
    assert summary["title_picture_url"]
    listing = (await api.get(agent, f"/listings/{summary['id']}")).json()
    media = listing["media"]
    assert [m["name"] for m in media] == [r[0] for r in ROOMS]
    assert [m["is_title"] for m in media] == [True, False, False, False, False]
    assert [m["is_floor_plan"] for m in media] == [False, False, False, False, True]
    assert media[1]["title_de"] == "Offene Küche"
    assert media[1]["caption_en"].startswith("Offene Küche: bright")
    assert media[0]["url"].startswith("http://testserver/api/media/storage/listings/")
    data = await api.runtime.storage.get_bytes(media[0]["storage_key"])
    assert data[:3] == b"\xff\xd8\xff"

    # The agent orders the photos and picks the kitchen as the title picture.
    kitchen, living = media[1]["id"], media[0]["id"]
    arranged = await api.put(
        agent,
        f"/listings/{summary['id']}/media",
        {"order": [kitchen, living], "title_media_id": kitchen},
    )
    assert arranged.status_code == 200, arranged.text
    order = [m["name"] for m in arranged.json()["media"]]
    assert order[:2] == ["Kueche_01", "Wohnzimmer_01"]
    assert [m["name"] for m in arranged.json()["media"] if m["is_title"]] == ["Kueche_01"]

    # A preview version (not delivered) changes nothing: the listing takes what was delivered.
    preview = await stage_export(
        api.runtime,
        agent.org_id,
        placed.gallery_id,
        version=2,
        rooms=ROOMS[:1],
        asset_ids=asset_ids,
        delivered=False,
    )
    await api.publish(preview)
    unchanged = (await api.get(agent, f"/listings/{summary['id']}")).json()["media"]
    assert [m["name"] for m in unchanged][:2] == ["Kueche_01", "Wohnzimmer_01"]
    assert len(unchanged) == len(ROOMS)

    # A later export version without the bathroom keeps the agent's order and title picture.
    later = await stage_export(
        api.runtime,
        agent.org_id,
        placed.gallery_id,
        version=3,
        rooms=[r for r in ROOMS if r[0] != "Bad_01"],
        asset_ids=asset_ids,
    )
    await api.publish(later)
    again = (await api.get(agent, f"/listings/{summary['id']}")).json()["media"]
    assert [m["name"] for m in again] == [
        "Kueche_01",
        "Wohnzimmer_01",
        "Balkon_01",
        "Grundriss_01",
    ]
    assert [m["name"] for m in again if m["is_title"]] == ["Kueche_01"]

    # Unknown media ids are refused.
    refused = await api.put(
        agent, f"/listings/{summary['id']}/media", {"order": [str(uuid.uuid4())]}
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "unknown_media"


async def test_publishing_needs_the_energy_certificate_and_announces_the_life_cycle(
    api: Api,
) -> None:
    agent = person()
    listing = await api.create(
        agent, energy_certificate_type=None, energy_value_kwh=None, energy_class=None
    )
    refused = await api.post(agent, f"/listings/{listing['id']}/publish")
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "incomplete"
    assert error["field"] == "energy_certificate_type"

    fixed = await api.patch(
        agent,
        f"/listings/{listing['id']}",
        {"energy_certificate_type": "bedarf", "energy_value_kwh": 58, "energy_class": "B"},
    )
    assert fixed.status_code == 200
    published = await api.post(agent, f"/listings/{listing['id']}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"

    changed = await api.patch(agent, f"/listings/{listing['id']}", {"price_eur": 439_000})
    assert changed.json()["price_eur"] == 439_000
    withdrawn = await api.post(agent, f"/listings/{listing['id']}/withdraw", {"reason": "verkauft"})
    assert withdrawn.json()["status"] == "withdrawn"
    again = await api.post(agent, f"/listings/{listing['id']}/withdraw", {})
    assert again.status_code == 409

    lid = uuid.UUID(listing["id"])
    [pub] = [e for e in await api.outbox(ListingPublished) if e.listing_id == lid]
    assert pub.facts.reference == listing["reference"]
    assert pub.facts.price_eur == 450_000
    assert pub.facts.postcode == "10115"
    [upd] = [e for e in await api.outbox(ListingUpdated) if e.listing_id == lid]
    assert upd.facts.price_eur == 439_000
    [gone] = [e for e in await api.outbox(ListingWithdrawn) if e.listing_id == lid]
    assert gone.reason == "verkauft"
    assert gone.org_id == agent.org_id


async def test_land_needs_no_energy_certificate(api: Api) -> None:
    agent = person()
    listing = await api.create(
        agent,
        property_type="land",
        energy_certificate_type=None,
        energy_value_kwh=None,
        energy_class=None,
        plot_area_m2=800,
    )
    published = await api.post(agent, f"/listings/{listing['id']}/publish")
    assert published.status_code == 200, published.text


async def test_another_organisation_sees_nothing_of_a_listing(api: Api) -> None:
    owner, stranger = person(), person()
    listing = await api.create(owner)
    lid = listing["id"]
    for response in (
        await api.get(stranger, f"/listings/{lid}"),
        await api.patch(stranger, f"/listings/{lid}", {"price_eur": 1}),
        await api.post(stranger, f"/listings/{lid}/publish"),
        await api.post(stranger, f"/listings/{lid}/withdraw", {}),
        await api.put(stranger, f"/listings/{lid}/media", {"order": []}),
        await api.post(stranger, f"/listings/{lid}/exposes", {"locale": "de"}),
        await api.get(stranger, f"/listings/{lid}/exposes"),
        await api.get(stranger, f"/listings/{lid}/leads"),
        await api.post(stranger, f"/listings/{lid}/draft"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
    assert all(x["id"] != lid for x in (await api.get(stranger, "/listings")).json())
    unchanged = (await api.get(owner, f"/listings/{lid}")).json()
    assert unchanged["price_eur"] == 450_000
    # Platform staff see it.
    assert (await api.get(person("admin"), f"/listings/{lid}")).status_code == 200


async def test_bad_input_gets_a_clean_error(api: Api) -> None:
    agent = person()
    cases = [
        ("post", "/listings", complete_listing(postcode="ABCDE"), 422, "postcode"),
        ("post", "/listings", complete_listing(price_eur=-5), 422, "price_eur"),
        ("post", "/listings", complete_listing(energy_class="Z"), 422, "energy_class"),
        ("post", "/listings", complete_listing(video_url="javascript:alert(1)"), 422, "video_url"),
        ("post", "/listings", {**complete_listing(), "is_admin": True}, 422, "is_admin"),
        ("get", "/listings/not-a-uuid", None, 422, None),
        ("get", f"/listings/{uuid.uuid4()}", None, 404, None),
        ("get", "/search?q=", None, 422, "q"),
        ("post", "/price-estimate", {"property_type": "castle"}, 422, None),
    ]
    for method, path, body, status, field in cases:
        if method == "post":
            response = await api.post(agent, path, body)
        else:
            response = await api.get(agent, path)
        assert response.status_code == status, (path, response.text)
        error = response.json()["error"]
        assert error["code"]
        assert error["message"]
        if field:
            assert field in (error.get("field") or ""), (path, error)
    # No signed identity: refused before anything else.
    anonymous = await api.client.get("/listings")
    assert anonymous.status_code == 401
    forged = await api.client.get("/listings", headers={"X-Pix-Identity": "x.y"})
    assert forged.status_code == 401
