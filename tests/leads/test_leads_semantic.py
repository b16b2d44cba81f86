"""Semantic search over leads: a job embeds each lead's wishes (message and profile) with the
platform's embedding provider; `GET /leads/search?q=` finds them by meaning, within the
caller's scope (an organisation's leads; an agent's own and unassigned ones)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from leads_helpers import LeadsApp, as_user, person
from pix_leads.models import lead_vectors
from pix_leads.wishes import LeadWishes, wishes_text
from pix_runtime.embeddings import LOCAL_MODEL, Embedder
from sqlalchemy import select

GARDEN = (
    "Wir sind eine Familie mit zwei kleinen Kindern und suchen ein Haus mit großem Garten "
    "am Stadtrand, gern in der Nähe von Kita und Grundschule."
)
STUDIO = (
    "Ich beginne im Oktober mein Studium und suche eine kleine möblierte Wohnung nahe der "
    "Universität, gern mit Balkon."
)
OFFICE = "Für unser Start-up suchen wir Büroflächen mit Besprechungsraum und guter Anbindung."


async def run_jobs(leads: LeadsApp) -> None:
    while await leads.runtime.jobs.run_due():
        pass


async def create(leads: LeadsApp, who: Any, name: str, message: str) -> str:
    response = await leads.client.post(
        "/leads", json={"name": name, "message": message}, headers=as_user(leads.runtime, who)
    )
    assert response.status_code == 201, response.text
    lead_id: str = response.json()["id"]
    return lead_id


async def search(leads: LeadsApp, who: Any, q: str) -> list[dict[str, Any]]:
    response = await leads.client.get(
        "/leads/search", params={"q": q}, headers=as_user(leads.runtime, who)
    )
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()
    return hits


async def test_leads_are_found_by_what_they_wish_for(leads: LeadsApp) -> None:
    owner = person()
    garden = await create(leads, owner, "Familie Gärtner", GARDEN)
    studio = await create(leads, owner, "Sina Student", STUDIO)
    office = await create(leads, owner, "Olaf Office", OFFICE)
    await run_jobs(leads)
    async with leads.runtime.db.sessions() as session:
        models = {
            str(r.lead_id): r.model
            for r in await session.execute(
                select(lead_vectors.c.lead_id, lead_vectors.c.model).where(
                    lead_vectors.c.lead_id.in_([garden, studio, office])
                )
            )
        }
    assert models == {garden: LOCAL_MODEL, studio: LOCAL_MODEL, office: LOCAL_MODEL}

    family = await search(leads, owner, "Einfamilienhaus für Eltern mit Kindern, Garten")
    assert [h["lead"]["id"] for h in family] == [garden, studio, office]
    assert family[0]["similarity"] > family[1]["similarity"]
    assert family[0]["lead"]["name"] == "Familie Gärtner"
    student = await search(leads, owner, "Appartement für eine Studentin in Uni-Nähe")
    assert student[0]["lead"]["id"] == studio
    work = await search(leads, owner, "Gewerbe: Büro für ein junges Unternehmen")
    assert work[0]["lead"]["id"] == office

    # Another organisation finds none of them; an agent not the ones assigned to others.
    assert await search(leads, person(), "Haus mit Garten") == []
    colleague = person(role="agent", org_id=owner.org_id)
    assigned = await leads.client.patch(
        f"/leads/{garden}",
        json={"assignee_id": str(uuid.uuid4())},
        headers=as_user(leads.runtime, owner),
    )
    assert assigned.status_code == 200, assigned.text
    seen = {h["lead"]["id"] for h in await search(leads, colleague, "Haus mit Garten")}
    assert seen == {studio, office}

    # Erasing the lead erases its vector.
    erased = await leads.client.delete(f"/leads/{studio}", headers=as_user(leads.runtime, owner))
    assert erased.status_code == 204
    assert studio not in {h["lead"]["id"] for h in await search(leads, owner, "Studium")}


async def test_the_query_is_checked_and_the_text_keeps_no_contact_data(leads: LeadsApp) -> None:
    owner = person()
    missing = await leads.client.get("/leads/search", headers=as_user(leads.runtime, owner))
    assert missing.status_code == 422
    assert "error" in missing.json()
    text = wishes_text(
        {
            "message": "Hallo,\nich suche eine Wohnung mit Balkon. Tel. 0170 1234567, "
            "max@example.com\nViele Grüße\nMax Muster",
            "name": "Max Muster",
            "property_type": "apartment",
            "marketing": "rent",
            "budget_min_eur": None,
            "budget_max_eur": 1200,
            "rooms_min": 3,
            "area_min_m2": None,
            "postcodes": ["10115"],
            "city": "Berlin",
            "financing": "unknown",
        }
    )
    assert text.startswith("Sucht Wohnung zur Miete in 10115 Berlin, bis 1200 €, ab 3 Zimmer.")
    assert "Balkon" in text
    for secret in ("0170", "max@example.com", "Muster", "Grüße"):
        assert secret not in text


class ErasingEmbedder:
    """The platform's embedder, but the lead is erased while the model runs."""

    def __init__(self, inner: Embedder, erase: Callable[[], Awaitable[None]]) -> None:
        self._inner = inner
        self._erase = erase
        self.model = inner.model
        self.dim = inner.dim

    async def embed(self, texts: list[str]) -> list[list[float]]:
        await self._erase()
        return await self._inner.embed(texts)


async def test_a_lead_erased_while_its_wishes_are_embedded_gets_no_vector(
    leads: LeadsApp,
) -> None:
    owner = person()
    lead_id = await create(leads, owner, "Eva Eilig", GARDEN)
    wishes = leads.app.state.wishes

    async def erase() -> None:
        response = await leads.client.delete(
            f"/leads/{lead_id}", headers=as_user(leads.runtime, owner)
        )
        assert response.status_code == 204

    await LeadWishes(leads.runtime.db, ErasingEmbedder(wishes.embedder, erase)).embed(
        uuid.UUID(lead_id)
    )
    async with leads.runtime.db.sessions() as session:
        stored = await session.scalar(
            select(lead_vectors.c.lead_id).where(lead_vectors.c.lead_id == lead_id)
        )
    assert stored is None
