"""Shared by the leads tests: identities, an organisation's mailbox, delivering and processing
mail, reading the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pix_leads.intake import Intake
from pix_leads.models import jobs, outbox, raw_messages
from pix_leads.settings import LeadsSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import select

CORPUS = Path(__file__).parent / "corpus"


@dataclass
class LeadsApp:
    client: httpx.AsyncClient
    runtime: ServiceRuntime
    settings: LeadsSettings
    app: Any


def person(role: str = "client", org_id: uuid.UUID | None = None) -> Identity:
    return Identity(
        user_id=uuid.uuid4(),
        org_id=org_id or uuid.uuid4(),
        role=role,  # type: ignore[arg-type]
        email=f"{role}-{uuid.uuid4().hex[:8]}@makler.example.com",
        name="Max Makler",
        email_verified=True,
    )


def as_user(runtime: ServiceRuntime, who: Identity) -> dict[str, str]:
    return {IDENTITY_HEADER: sign_identity(who, runtime.internal_key)}


def intake_of(leads: LeadsApp) -> Intake:
    intake: Intake = leads.app.state.intake
    return intake


async def mailbox(leads: LeadsApp, who: Identity) -> dict[str, Any]:
    """The organisation's settings: its intake address (`intake_address`) among them."""
    response = await leads.client.get("/settings", headers=as_user(leads.runtime, who))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def deliver(leads: LeadsApp, raw: bytes, to: str) -> uuid.UUID:
    """A message recorded for its processing job to parse (the webhook's way in)."""
    received = await intake_of(leads).receive(
        raw, channel="smtp", mail_from="x@example.net", rcpt_to=[to]
    )
    return received.id


def corpus(name: str) -> bytes:
    return (CORPUS / f"{name}.eml").read_bytes()


async def outbox_events(
    runtime: ServiceRuntime, kind: type[Any], lead_id: object = None
) -> list[Any]:
    async with runtime.db.sessions() as session:
        rows = await session.execute(
            select(outbox.c.payload).where(outbox.c.topic == kind.topic).order_by(outbox.c.id)
        )
        found = [kind.model_validate_json(p) for p in rows.scalars()]
    return [e for e in found if lead_id is None or str(e.lead_id) == str(lead_id)]


async def raw_row(runtime: ServiceRuntime, raw_id: uuid.UUID) -> Any:
    async with runtime.db.sessions() as session:
        return (
            (await session.execute(select(raw_messages).where(raw_messages.c.id == raw_id)))
            .mappings()
            .one()
        )


async def queued(runtime: ServiceRuntime, kind: str, key_prefix: str) -> list[Any]:
    async with runtime.db.sessions() as session:
        rows = await session.execute(
            select(jobs).where(
                jobs.c.kind == kind, jobs.c.key.startswith(key_prefix), jobs.c.status == "queued"
            )
        )
        return list(rows.mappings())
