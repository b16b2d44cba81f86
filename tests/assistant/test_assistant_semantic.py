"""The semantic_search tool finds leads by the meaning of their wishes (the leads service's
embeddings) as well as by their words, and listings, always as the asking user."""

from __future__ import annotations

import uuid
from typing import Any

from assistant_helpers import AssistantStack, person
from pix_assistant.platform import SERVICES, Caller, PlatformApis
from pix_assistant.tools import SemanticSearch, ToolContext, semantic_search
from pix_runtime.identity import Identity, sign_identity, verify_identity


class NoMemory:
    async def remember(self, caller: Caller, fact: str) -> uuid.UUID:
        raise AssertionError("not a memory tool")

    async def facts(self, caller: Caller) -> list[tuple[uuid.UUID, str]]:
        return []

    async def forget(self, caller: Caller, memory_id: uuid.UUID) -> bool:
        return False


async def search_as(stack: AssistantStack, who: Identity, query: str) -> Any:
    key = stack.runtime.internal_key
    signed = sign_identity(who, key)
    apis = PlatformApis(
        {name: f"http://{name}" for name in SERVICES}, key, transports=stack.transports
    )
    try:
        ctx = ToolContext(apis, Caller(verify_identity(signed, key), signed), NoMemory())
        return await semantic_search(ctx, SemanticSearch(query=query))
    finally:
        await apis.aclose()


async def test_semantic_search_finds_leads_by_meaning_within_the_callers_organisation(
    stack: AssistantStack,
) -> None:
    owner = person()
    headers = stack.headers(owner)
    made = {}
    for name, message in (
        ("Familie Gärtner", "Wir suchen mit unseren Kindern ein Haus mit großem Garten."),
        ("Bernd Büro", "Für unsere Kanzlei suchen wir Büroräume in der Innenstadt."),
    ):
        response = await stack.leads.post(
            "/leads", json={"name": name, "message": message}, headers=headers
        )
        assert response.status_code == 201, response.text
        made[name] = response.json()["id"]
    while await stack.leads_runtime.jobs.run_due():
        pass

    found = await search_as(stack, owner, "Einfamilienhaus für Eltern mit Kindern")
    first = found["leads"][0]
    assert first["id"] == made["Familie Gärtner"]
    assert first["matched"] == "meaning"
    assert 0 < first["similarity"] <= 1
    assert "listings" in found
    by_name = await search_as(stack, owner, "Gärtner")
    assert by_name["leads"][0]["id"] == made["Familie Gärtner"]
    assert by_name["leads"][0]["matched"] in ("words", "words+meaning")

    stranger = await search_as(stack, person(), "Haus mit Garten für Kinder")
    assert not {lead["id"] for lead in stranger["leads"]} & set(made.values())
