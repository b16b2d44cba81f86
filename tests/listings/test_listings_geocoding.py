""" "Nearby" as a real radius: listings and leads' wished places are geocoded by jobs through
Google's Geocoding API (a local server speaking it), matching and price estimates measure
great-circle distances, and without a key everything falls back to postcode areas, saying so."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from geocoding_fake import KEY, FakeGeocoding, serving
from listings_helpers import Api, person, unique_postcode
from pix_contracts.leads import LeadCreated, LeadProfile, LeadUpdated
from pix_listings.app import create_app
from pix_listings.geocoding import LOCATE_LEAD, LOCATE_LISTING, Point, distance_km
from pix_listings.models import jobs
from pix_listings.settings import ListingsSettings
from pix_runtime.embeddings import LocalEmbedder
from pydantic import SecretStr
from sqlalchemy import select

# Around a made-up centre at 52.52° N: a degree of latitude is 111.2 km, of longitude 67.7 km.
CENTRE = (52.52, 13.405)


def north(km: float) -> tuple[float, float]:
    return (CENTRE[0] + km / 111.195, CENTRE[1])


def east(km: float) -> tuple[float, float]:
    return (CENTRE[0], CENTRE[1] + km / 67.7)


def same_area(postcode: str) -> str:
    """Another postcode of the same postcode area (same first three digits)."""
    return f"{postcode[:3]}{(int(postcode[3:]) + 1) % 100:02d}"


def other_area(postcode: str, step: int) -> str:
    """A postcode of another postcode area (other first three digits)."""
    return f"{(int(postcode[:3]) - 100 + step) % 900 + 100}{postcode[3:]}"


@pytest.fixture(scope="module")
async def google() -> AsyncIterator[tuple[FakeGeocoding, str]]:
    fake = FakeGeocoding()
    async with serving(fake) as url:
        yield fake, url


async def located_api(
    url: str, embedder: LocalEmbedder, key: str = KEY
) -> tuple[Api, Any, httpx.AsyncClient]:
    settings = ListingsSettings(
        google_maps_key=SecretStr(key), google_geocoding_base_url=url, price_radius_km=5.0
    )
    app, runtime = create_app(settings, embedder=embedder)
    await app.state.vectors.ensure_indexes()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://listings")
    return Api(client, runtime, None, app), runtime, client


@pytest.fixture
async def geo(
    listings_schema: str, local_embedder: LocalEmbedder, google: tuple[FakeGeocoding, str]
) -> AsyncIterator[tuple[Api, FakeGeocoding]]:
    fake, url = google
    fake.failing = False
    api, runtime, client = await located_api(url, local_embedder)
    async with TestKafkaBroker(runtime.broker) as broker:
        api.broker = broker
        yield api, fake
    await client.aclose()
    await runtime.db.dispose()


def lead(org_id: uuid.UUID, **profile: Any) -> LeadCreated:
    return LeadCreated(
        lead_id=uuid.uuid4(),
        org_id=org_id,
        source="immoscout24",
        status="NEW",
        score=70,
        profile=LeadProfile(property_type="apartment", marketing="sale", **profile),
    )


async def test_listings_within_the_radius_of_the_wished_place_match_with_their_distance(
    geo: tuple[Api, FakeGeocoding],
) -> None:
    api, fake = geo
    agent = person()
    wished = unique_postcode()
    tag = uuid.uuid4().hex[:6]
    fake.places[f"{wished}, Deutschland"] = CENTRE
    fake.places[f"Nordweg {tag}"] = north(2.3)
    fake.places[f"Ostweg {tag}"] = east(8)
    fake.places[f"Fernweg {tag}"] = north(25)
    same = {"price_eur": 400_000, "rooms": 3, "description_de": "Helle Wohnung mit Balkon."}
    near = await api.create_published(
        agent, street=f"Nordweg {tag}", postcode=other_area(wished, 1), city="Nordstadt", **same
    )
    mid = await api.create_published(
        agent, street=f"Ostweg {tag}", postcode=other_area(wished, 2), city="Oststadt", **same
    )
    far = await api.create_published(
        agent, street=f"Fernweg {tag}", postcode=other_area(wished, 3), city="Fernstadt", **same
    )
    # Google knows no such street: no point, and the postcode area stands in.
    unknown_street = await api.create_published(
        agent, street=f"Nirgendwo {tag}", postcode=same_area(wished), city="Irgendwo", **same
    )
    assert await api.run_jobs()
    shown = (await api.get(agent, f"/listings/{near['id']}")).json()
    assert shown["geo_source"] == "geocoded"
    assert (shown["latitude"], shown["longitude"]) == pytest.approx(north(2.3))
    assert (await api.get(agent, f"/listings/{unknown_street['id']}")).json()["geo_source"] == (
        "not_found"
    )
    sent = [r for r in fake.requests if f"Nordweg {tag}" in r["address"]]
    assert sent[0]["region"] == "de"
    assert sent[0]["key"] == KEY

    wanted = lead(agent.org_id, postcodes=[wished], budget_max_eur=420_000, wishes="Mit Balkon")
    await api.publish(wanted)
    assert await api.run_jobs()
    matches = (await api.get(agent, f"/leads/{wanted.lead_id}/listings")).json()
    by_id = {m["id"]: m for m in matches}
    assert set(by_id) == {near["id"], mid["id"], unknown_street["id"]}
    assert far["id"] not in by_id
    assert "2,3 km entfernt" in by_id[near["id"]]["reasons"]
    assert by_id[near["id"]]["distance_km"] == pytest.approx(2.3, abs=0.05)
    assert "8 km entfernt" in by_id[mid["id"]]["reasons"]
    assert by_id[near["id"]]["score"] > by_id[mid["id"]]["score"]  # closer ranks higher
    assert by_id[unknown_street["id"]]["distance_km"] is None
    assert any("Entfernung unbekannt" in r for r in by_id[unknown_street["id"]]["reasons"])
    english = await api.get(
        person(org_id=agent.org_id, locale="en"), f"/leads/{wanted.lead_id}/listings"
    )
    assert any(r == "2.3 km away" for m in english.json() for r in m["reasons"])

    # Leads for the far listing: none within 10 km; a lead whose words name 30 km wants it.
    count = (await api.get(agent, f"/listings/{far['id']}/leads")).json()
    assert wanted.lead_id not in {uuid.UUID(m["id"]) for m in count["matches"]}
    await api.publish(
        LeadUpdated(
            lead_id=wanted.lead_id,
            org_id=agent.org_id,
            status="NEW",
            score=70,
            profile=LeadProfile(
                property_type="apartment",
                marketing="sale",
                postcodes=[wished],
                budget_max_eur=420_000,
                wishes="Gern auch im Umkreis von 30 km, mit Balkon",
            ),
        )
    )
    await api.run_jobs()
    leads = (await api.get(agent, f"/listings/{far['id']}/leads")).json()
    [found] = [m for m in leads["matches"] if m["id"] == str(wanted.lead_id)]
    assert "25 km entfernt" in found["reasons"]
    # The same place again was not geocoded again.
    assert len([r for r in fake.requests if r["address"] == f"{wished}, Deutschland"]) == 1


async def test_an_address_change_relocates_and_typed_coordinates_are_kept(
    geo: tuple[Api, FakeGeocoding],
) -> None:
    api, fake = geo
    agent = person()
    tag = uuid.uuid4().hex[:6]
    fake.places[f"Altweg {tag}"] = north(1)
    fake.places[f"Neuweg {tag}"] = east(4)
    listing = await api.create(agent, street=f"Altweg {tag}")
    await api.run_jobs()
    assert (await api.get(agent, f"/listings/{listing['id']}")).json()["latitude"] == (
        pytest.approx(north(1)[0])
    )
    await api.patch(agent, f"/listings/{listing['id']}", {"street": f"Neuweg {tag}"})
    await api.run_jobs()
    moved = (await api.get(agent, f"/listings/{listing['id']}")).json()
    assert (moved["latitude"], moved["longitude"]) == pytest.approx(east(4))

    await api.patch(agent, f"/listings/{listing['id']}", {"latitude": 48.1, "longitude": 11.5})
    assert await api.run_jobs() == 1  # the embedding; no geocoding over typed coordinates
    typed = (await api.get(agent, f"/listings/{listing['id']}")).json()
    assert (typed["latitude"], typed["longitude"], typed["geo_source"]) == (48.1, 11.5, "manual")


async def test_price_estimate_takes_comparables_within_the_radius(
    geo: tuple[Api, FakeGeocoding],
) -> None:
    api, fake = geo
    agent = person()
    tag = uuid.uuid4().hex[:6]
    wanted = unique_postcode()
    fake.places[f"{wanted} Preisstadt-{tag}, Deutschland"] = CENTRE
    # Commercial rentals of ~2,500 m²: no other test's listing comes near them.
    for index, km in enumerate([0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 12, 20]):
        street = f"Gewerbeweg {index} {tag}"
        fake.places[street] = east(km)
        await api.create_published(
            person() if index % 2 else agent,
            property_type="commercial",
            marketing="rent",
            street=street,
            postcode=other_area(wanted, index + 1),
            city=f"Ort-{tag}-{index}",
            living_area_m2=2500 + index,
            price_eur=(20 + index % 3) * (2500 + index),
        )
    await api.run_jobs()
    response = await api.post(
        agent,
        "/price-estimate",
        {
            "property_type": "commercial",
            "marketing": "rent",
            "living_area_m2": 2500,
            "postcode": wanted,
            "city": f"Preisstadt-{tag}",
        },
    )
    assert response.status_code == 200, response.text
    estimate = response.json()
    assert estimate["located"] is True
    assert estimate["comparables_used"] == 8
    assert {c["proximity"] for c in estimate["comparables"]} == {"nearby"}
    assert max(c["distance_km"] for c in estimate["comparables"]) <= 5
    assert "Umkreis von 5 km" in estimate["message"]


async def test_geocoding_failures_retry_and_a_refused_key_gives_up(
    listings_schema: str, local_embedder: LocalEmbedder, google: tuple[FakeGeocoding, str]
) -> None:
    fake, url = google
    tag = uuid.uuid4().hex[:6]
    fake.places[f"Wackelweg {tag}"] = north(3)
    api, runtime, client = await located_api(url, local_embedder)
    agent = person()
    try:
        fake.failing = True
        listing = await api.create(agent, street=f"Wackelweg {tag}")
        await api.run_jobs()
        async with runtime.db.sessions() as session:
            job = (
                await session.execute(
                    select(jobs.c.status, jobs.c.attempts).where(
                        jobs.c.kind == LOCATE_LISTING, jobs.c.key == listing["id"]
                    )
                )
            ).one()
        assert job.status == "queued"
        assert job.attempts == 1
        assert (await api.get(agent, f"/listings/{listing['id']}")).json()["latitude"] is None
    finally:
        fake.failing = False
        await client.aclose()
        await runtime.db.dispose()

    refused, runtime, client = await located_api(url, local_embedder, key="wrong-key")
    try:
        other = await refused.create(agent, street=f"Wackelweg {tag}")
        await refused.run_jobs()
        async with runtime.db.sessions() as session:
            status = await session.scalar(
                select(jobs.c.status).where(
                    jobs.c.kind == LOCATE_LISTING, jobs.c.key == other["id"]
                )
            )
        assert status == "failed"
        assert (await refused.get(agent, f"/listings/{other['id']}")).json()["geo_source"] is None
    finally:
        await client.aclose()
        await runtime.db.dispose()


async def test_without_a_key_nearby_is_the_postcode_area_and_the_reasons_say_so(api: Api) -> None:
    agent = person()
    wished = unique_postcode()
    nearby = same_area(wished)
    listing = await api.create_published(agent, postcode=nearby, price_eur=400_000)
    wanted = lead(agent.org_id, postcodes=[wished])
    await api.publish(wanted)
    await api.run_jobs()
    async with api.runtime.db.sessions() as session:
        queued = await session.scalar(
            select(jobs.c.id).where(
                jobs.c.kind.in_([LOCATE_LISTING, LOCATE_LEAD]),
                jobs.c.key.in_([listing["id"], str(wanted.lead_id)]),
            )
        )
    assert queued is None  # no key: nothing to geocode
    [match] = (await api.get(agent, f"/leads/{wanted.lead_id}/listings")).json()
    assert match["id"] == listing["id"]
    assert match["distance_km"] is None
    assert (
        f"nahe der Wunsch-PLZ ({nearby}; nach PLZ-Bereich, Entfernung unbekannt)"
        in (match["reasons"])
    )
    shown = (await api.get(agent, f"/listings/{listing['id']}")).json()
    assert shown["geo_source"] is None


def test_great_circle_distance() -> None:
    berlin, munich = Point(52.5200, 13.4050), Point(48.1351, 11.5820)
    assert distance_km(berlin, munich) == pytest.approx(504, abs=2)
    assert distance_km(Point(*CENTRE), Point(*north(2.3))) == pytest.approx(2.3, abs=0.01)
