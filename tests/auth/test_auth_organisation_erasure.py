"""An organisation's deletion in auth: password, lock, grace period, the due job, the reports."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from pix_auth.app import create_app
from pix_auth.models import organisations, outbox, users
from pix_auth.settings import AuthSettings
from pix_contracts import ERASURE_REPORTS, OrganisationErasureDue
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.outbox import decode_payload
from sqlalchemy import select

PASSWORD = "Ruhige-Seitenstrasse-12"


@pytest.fixture
async def auth(migrated: set[str]) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    app, runtime = create_app(AuthSettings(erasure_grace_days=14))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
        yield client, runtime
    await runtime.db.dispose()


async def sign_up(client: httpx.AsyncClient) -> tuple[str, Identity]:
    email = f"owner-{uuid.uuid4().hex[:10]}@makler-example.de"
    response = await client.post(
        "/register",
        json={
            "name": "Erika Muster",
            "email": email,
            "password": PASSWORD,
            "company": "Muster Immobilien",
            "locale": "de",
        },
    )
    assert response.status_code == 201, response.text
    return email, Identity.model_validate(response.json())


def as_user(runtime: ServiceRuntime, identity: Identity) -> dict[str, str]:
    return {IDENTITY_HEADER: sign_identity(identity, runtime.internal_key)}


async def test_owner_deletes_the_organisation_after_a_cancellable_grace_period(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = auth
    email, owner = await sign_up(client)
    headers = as_user(runtime, owner)
    other_email, other = await sign_up(client)

    wrong = await client.post(
        "/organisation/erasure", headers=headers, json={"password": "not-the-password"}
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "wrong_password"
    agent = owner.model_copy(update={"role": "agent"})
    refused = await client.post(
        "/organisation/erasure", headers=as_user(runtime, agent), json={"password": PASSWORD}
    )
    assert refused.status_code == 403

    requested = await client.post(
        "/organisation/erasure", headers=headers, json={"password": PASSWORD}
    )
    assert requested.status_code == 202, requested.text
    view = requested.json()
    assert view["status"] == "pending"
    assert "auth" in view["waiting_for"]
    again = await client.post("/organisation/erasure", headers=headers, json={"password": PASSWORD})
    assert again.status_code == 409

    # Locked: nobody of the organisation signs in; another organisation does.
    locked = await client.post("/login", json={"email": email, "password": PASSWORD})
    assert locked.status_code == 409
    assert locked.json()["error"]["code"] == "organisation_locked"
    assert (
        await client.post("/login", json={"email": other_email, "password": PASSWORD})
    ).status_code == 200

    # Cancelled with the owner's password (no session can exist), then requested again.
    cancelled = await client.post(
        "/organisation/erasure/cancel", json={"email": email, "password": PASSWORD}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert (
        await client.post("/login", json={"email": email, "password": PASSWORD})
    ).status_code == 200
    # The cancelled job does not run when its time comes.
    runtime.clock.advance(timedelta(days=15))
    await runtime.jobs.run_due()
    async with runtime.db.sessions() as session:
        assert await session.scalar(select(users.c.id).where(users.c.id == owner.user_id))

    requested = await client.post(
        "/organisation/erasure", headers=headers, json={"password": PASSWORD}
    )
    assert requested.status_code == 202, requested.text
    erasure_id = uuid.UUID(requested.json()["id"])
    runtime.clock.advance(timedelta(days=13))
    await runtime.jobs.run_due()
    async with runtime.db.sessions() as session:
        assert await session.scalar(select(users.c.id).where(users.c.id == owner.user_id))

    runtime.clock.advance(timedelta(days=1, minutes=1))
    assert await runtime.jobs.run_due() >= 1
    async with runtime.db.sessions() as session:
        assert not await session.scalar(select(users.c.id).where(users.c.org_id == owner.org_id))
        assert not await session.scalar(
            select(organisations.c.id).where(organisations.c.id == owner.org_id)
        )
        assert await session.scalar(select(users.c.id).where(users.c.id == other.user_id))
        payloads = [
            decode_payload(p)
            for p in (
                await session.execute(
                    select(outbox.c.payload).where(outbox.c.topic == OrganisationErasureDue.topic)
                )
            ).scalars()
        ]
    due = [p for p in payloads if p["org_id"] == str(owner.org_id)]
    # Ids only: nothing of the people erased travels.
    assert [set(p) for p in due] == [{"event_id", "occurred_at", "org_id", "erasure_id"}]

    admin = Identity(
        user_id=uuid.uuid4(), org_id=uuid.uuid4(), role="admin", email="a@pix.immo", name="A"
    )
    admin_headers = as_user(runtime, admin)
    assert (
        await client.get(f"/admin/organisations/{owner.org_id}/erasure", headers=headers)
    ).status_code == 403
    progress = (
        await client.get(f"/admin/organisations/{owner.org_id}/erasure", headers=admin_headers)
    ).json()
    assert progress["status"] == "erasing"
    assert [r["service"] for r in progress["reports"]] == ["auth"]
    assert set(progress["waiting_for"]) == set(ERASURE_REPORTS)

    erasures = client._transport.app.state.erasures  # type: ignore[attr-defined]
    for service, report in ERASURE_REPORTS.items():
        event = report(org_id=owner.org_id, erasure_id=erasure_id, rows=3, objects=1)
        await erasures.service_erased(event, service)
        await erasures.service_erased(event, service)  # redelivered: no effect
    done = (
        await client.get(f"/admin/organisations/{owner.org_id}/erasure", headers=admin_headers)
    ).json()
    assert done["status"] == "done"
    assert done["waiting_for"] == []
    assert {r["service"]: r["rows"] for r in done["reports"]}["media"] == 3
    listed = (await client.get("/admin/erasures", headers=admin_headers)).json()
    assert [e["id"] for e in listed if e["org_id"] == str(owner.org_id)] == [str(erasure_id)]
    assert (await client.get("/admin/erasures", headers=headers)).status_code == 403
