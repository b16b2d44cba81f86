"""Shared by the assistant tests: identities, the apps, reading a streamed answer."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from chat_fake import ChatFake
from fastapi import FastAPI
from listings.listings_helpers import complete_listing
from pix_assistant.settings import AssistantSettings, Price
from pix_contracts.listings import ListingPublished
from pix_leads.listing_mirror import ListingMirror
from pix_listings.models import outbox as listings_outbox
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import select

# The chat models the tests name: the big one answers, the small one routes.
MODEL = "big-model"
ROUTER = "router-mini"


def model_settings(chat: ChatFake, **changes: object) -> AssistantSettings:
    values: dict[str, object] = {
        "base_url": chat.url,
        "api_key": "test-key",
        "model": MODEL,
        "router_model": ROUTER,
        "prices": {
            MODEL: Price(input_eur=2.0, output_eur=10.0),
            ROUTER: Price(input_eur=0.2, output_eur=1.0),
        },
        **changes,
    }
    return AssistantSettings.model_validate(values)


@asynccontextmanager
async def serve_in_loop(app: FastAPI) -> AsyncIterator[str]:
    """uvicorn in this event loop on a free port, lifespan included."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def person(role: str = "client", org_id: uuid.UUID | None = None, locale: str = "de") -> Identity:
    return Identity(
        user_id=uuid.uuid4(),
        org_id=org_id or uuid.uuid4(),
        role=role,  # type: ignore[arg-type]
        email=f"{role}-{uuid.uuid4().hex[:8]}@makler-example.de",
        name="Erika Muster",
        locale=locale,  # type: ignore[arg-type]
        email_verified=True,
    )


@dataclass
class Answer:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    raw: str = ""

    @property
    def text(self) -> str:
        return "".join(data["text"] for kind, data in self.events if kind == "delta")

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [data for k, data in self.events if k == kind]


@dataclass
class AssistantStack:
    client: httpx.AsyncClient
    runtime: ServiceRuntime
    leads: httpx.AsyncClient
    leads_runtime: ServiceRuntime
    listings: httpx.AsyncClient
    listings_runtime: ServiceRuntime
    chat: ChatFake
    transports: dict[str, httpx.AsyncBaseTransport]

    def headers(self, who: Identity) -> dict[str, str]:
        return {IDENTITY_HEADER: sign_identity(who, self.runtime.internal_key)}

    async def call(
        self, who: Identity, method: str, path: str, body: Any = None, **kw: Any
    ) -> httpx.Response:
        return await self.client.request(method, path, json=body, headers=self.headers(who), **kw)

    async def conversation(self, who: Identity) -> str:
        response = await self.call(who, "POST", "/conversations", {})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def ask(self, who: Identity, conversation_id: str, text: str) -> Answer:
        answer = Answer()
        async with self.client.stream(
            "POST",
            f"/conversations/{conversation_id}/messages",
            json={"text": text},
            headers=self.headers(who),
        ) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            kind = ""
            async for line in response.aiter_lines():
                answer.raw += line + "\n"
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    answer.events.append((kind, json.loads(line.removeprefix("data: "))))
        return answer

    # --- the other services, as their own clients would use them -----------------------------

    async def listing(self, who: Identity, **fields: Any) -> dict[str, Any]:
        response = await self.listings.post(
            "/listings", json=complete_listing(**fields), headers=self.headers(who)
        )
        assert response.status_code == 201, response.text
        listing: dict[str, Any] = response.json()
        published = await self.listings.post(
            f"/listings/{listing['id']}/publish", headers=self.headers(who)
        )
        assert published.status_code == 200, published.text
        # What leads learns from listings' event (the subscriber's own effect, without Kafka).
        async with self.listings_runtime.db.sessions() as session:
            rows = await session.execute(
                select(listings_outbox.c.payload).where(
                    listings_outbox.c.topic == ListingPublished.topic
                )
            )
            events = [ListingPublished.model_validate_json(p) for p in rows.scalars()]
        event = next(e for e in events if str(e.listing_id) == listing["id"])
        await ListingMirror(self.leads_runtime.db).listing_changed(event)
        return listing

    async def lead(
        self, who: Identity, name: str, listing_id: str | None = None, **changes: Any
    ) -> dict[str, Any]:
        form = {
            "name": name,
            "email": f"{name.split()[0].lower()}.{uuid.uuid4().hex[:6]}@example.org",
            "message": "Ich interessiere mich für die Wohnung.",
            "listing_id": listing_id,
        }
        response = await self.leads.post("/leads", json=form, headers=self.headers(who))
        assert response.status_code == 201, response.text
        lead: dict[str, Any] = response.json()
        if changes:
            edited = await self.leads.patch(
                f"/leads/{lead['id']}", json=changes, headers=self.headers(who)
            )
            assert edited.status_code == 200, edited.text
            lead = edited.json()
        return lead

    async def lead_status(self, who: Identity, lead_id: str) -> str:
        response = await self.leads.get(f"/leads/{lead_id}", headers=self.headers(who))
        assert response.status_code == 200, response.text
        return str(response.json()["lead"]["status"])
