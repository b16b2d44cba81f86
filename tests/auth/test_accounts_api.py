"""Auth's API and its security properties, on the real database (in-process HTTP)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pix_auth.app import create_app
from pix_auth.models import outbox, sessions, tokens
from pix_auth.settings import AuthSettings
from pix_contracts import (
    EmailVerificationRequested,
    PasswordChanged,
    PasswordResetRequested,
    UserDeletedV2,
)
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.personal_data import subject_digest, subject_key
from pix_runtime.sealing import derive_key, unseal
from sqlalchemy import func, select, update

PASSWORD = "Ruhige-Seitenstrasse-12"
TIGHT_LIMITS = {
    "login-ip": "1000/minute",
    "login-account": "3/minute",
    "register-ip": "1000/hour",
    "reset-ip": "1000/hour",
    "reset-account": "2/hour",
}


@pytest.fixture
async def auth(migrated: set[str]) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    app, runtime = create_app(AuthSettings(rate_limits=TIGHT_LIMITS))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
        yield client, runtime
    await runtime.db.dispose()


def address() -> str:
    return f"agent-{uuid.uuid4().hex[:10]}@makler-example.de"


async def sign_up(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Identity:
    response = await client.post(
        "/register",
        json={
            "name": "Erika Muster",
            "email": email,
            "password": password,
            "company": "Muster Immobilien",
            "locale": "de",
        },
    )
    assert response.status_code == 201, response.text
    return Identity.model_validate(response.json())


async def log_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await client.post("/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def as_user(runtime: ServiceRuntime, identity: Identity) -> dict[str, str]:
    return {IDENTITY_HEADER: sign_identity(identity, runtime.internal_key)}


async def events(runtime: ServiceRuntime, kind: type[Any], email: str) -> list[Any]:
    async with runtime.db.sessions() as session:
        rows = await session.execute(select(outbox.c.payload).where(outbox.c.topic == kind.topic))
        found = [kind.model_validate_json(p) for p in rows.scalars()]
    return [e for e in found if str(e.email) == email]


async def emailed_token(runtime: ServiceRuntime, kind: type[Any], email: str, field: str) -> str:
    [event] = (await events(runtime, kind, email))[-1:]
    url = unseal(
        getattr(event, field), derive_key(runtime.internal_key, "email-link"), context="email-link"
    )
    return url.split("token=")[1]


async def test_passwords_follow_the_policy(auth: tuple[httpx.AsyncClient, ServiceRuntime]) -> None:
    client, _ = auth
    for password, code in [
        ("kurz", "weak_password"),
        ("password123", "common_password"),
        ("x" * 129, "password_too_long"),
    ]:
        response = await client.post(
            "/register",
            json={"name": "A", "email": address(), "password": password, "company": "B"},
        )
        assert response.status_code == 422
        assert response.json()["error"] == {
            "code": code,
            "message": response.json()["error"]["message"],
            "field": "password",
        }
    long_ok = "ein sehr langer satz als passwort " * 3  # >64 characters are allowed
    await sign_up(client, address(), long_ok[:100])


async def test_registration_sends_a_single_use_verification_link(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = auth
    email = address()
    me = await sign_up(client, email)
    assert (await client.get("/me", headers=as_user(runtime, me))).json()["email_verified"] is False
    token = await emailed_token(runtime, EmailVerificationRequested, email, "sealed_verify_url")
    assert len(token) >= 43  # 256 bits, urlsafe base64
    assert (await client.post("/verify-email", json={"token": token})).status_code == 200
    again = await client.post("/verify-email", json={"token": token})
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "link_invalid"
    assert (await client.get("/me", headers=as_user(runtime, me))).json()["email_verified"] is True
    duplicate = await client.post(
        "/register",
        json={"name": "A", "email": email.upper(), "password": PASSWORD, "company": "B"},
    )
    assert duplicate.status_code == 409


async def test_every_login_is_a_new_session_stored_only_as_a_hash(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = auth
    email = address()
    await sign_up(client, email)
    first, second = await log_in(client, email), await log_in(client, email)
    assert first.split(".")[0] != second.split(".")[0]
    session_id, secret = first.split(".")
    async with runtime.db.sessions() as db:
        stored = (await db.execute(select(sessions).where(sessions.c.id == session_id))).one()
    assert secret.encode() not in stored.secret_hash
    assert len(stored.secret_hash) == 32
    # A forged secret for a real session id is refused.
    forged = await client.post("/sessions/validate", json={"token": f"{session_id}.AAAA"})
    assert forged.status_code == 401
    valid = await client.post("/sessions/validate", json={"token": first})
    assert valid.json()["email"] == email
    assert valid.json()["session_id"] == session_id


async def test_idle_and_absolute_lifetimes_end_a_session(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = auth
    email = address()
    await sign_up(client, email)
    idle, capped = await log_in(client, email), await log_in(client, email)
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with runtime.db.transaction() as db:
        await db.execute(
            update(sessions).where(sessions.c.id == idle.split(".")[0]).values(expires_at=past)
        )
        await db.execute(
            update(sessions)
            .where(sessions.c.id == capped.split(".")[0])
            .values(absolute_expires_at=past)
        )
    for token in (idle, capped):
        assert (await client.post("/sessions/validate", json={"token": token})).status_code == 401


async def test_login_failures_do_not_tell_unknown_emails_apart_and_are_rate_limited(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, _ = auth
    email = address()
    await sign_up(client, email)
    unknown = await client.post("/login", json={"email": address(), "password": PASSWORD})
    wrong = await client.post("/login", json={"email": email, "password": "falsch-falsch"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()

    for _ in range(2):  # the account allows 3 attempts a minute; one was used above
        assert (
            await client.post("/login", json={"email": email, "password": "nope-nope"})
        ).status_code == 401
    limited = await client.post("/login", json={"email": email, "password": PASSWORD})
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 0 < int(limited.headers["retry-after"]) <= 60


async def test_the_rate_limit_recovers(migrated: set[str]) -> None:
    # A window long enough that a slow, busy machine still makes three attempts inside it.
    app, runtime = create_app(
        AuthSettings(rate_limits={**TIGHT_LIMITS, "login-account": "2/20 seconds"})
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://auth"
    ) as client:
        email = address()
        await sign_up(client, email)
        for _ in range(2):
            await client.post("/login", json={"email": email, "password": "nope-nope"})
        limited = await client.post("/login", json={"email": email, "password": PASSWORD})
        assert limited.status_code == 429
        # Recovers once the window has passed: the right password gets in (polled, so the
        # test waits for the condition, not for a guessed time).
        deadline = asyncio.get_running_loop().time() + 90
        while True:
            answer = await client.post("/login", json={"email": email, "password": PASSWORD})
            if answer.status_code != 429 or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(1.0)
        assert answer.status_code == 200
    await runtime.db.dispose()


async def test_password_reset_is_enumeration_safe_single_use_and_ends_all_sessions(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = auth
    email = address()
    me = await sign_up(client, email)
    session = await log_in(client, email)

    started = time.perf_counter()
    known = await client.post("/password/forgot", json={"email": email})
    known_s = time.perf_counter() - started
    started = time.perf_counter()
    unknown = await client.post("/password/forgot", json={"email": address()})
    unknown_s = time.perf_counter() - started
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert abs(known_s - unknown_s) < 0.5
    # The link is sent by a job, after the answer, so looking up the address cannot show.
    assert await runtime.jobs.run_due() == 2

    token = await emailed_token(runtime, PasswordResetRequested, email, "sealed_reset_url")
    [event] = await events(runtime, PasswordResetRequested, email)
    assert event.expires_at <= datetime.now(UTC) + timedelta(hours=2)
    weak = await client.post("/password/reset", json={"token": token, "password": "kurz"})
    assert weak.status_code == 422  # refused before the token is used up
    new = "Neue-Gartenlaube-2026"
    assert (
        await client.post("/password/reset", json={"token": token, "password": new})
    ).status_code == 200
    reuse = await client.post("/password/reset", json={"token": token, "password": new + "x"})
    assert reuse.status_code == 400
    assert (await client.post("/sessions/validate", json={"token": session})).status_code == 401
    await log_in(client, email, new)
    changed = await events(runtime, PasswordChanged, email)
    assert [c.via for c in changed] == ["reset"]
    assert me.email == email

    # An expired token is refused too.
    await client.post("/password/forgot", json={"email": email})
    await runtime.jobs.run_due()
    token = await emailed_token(runtime, PasswordResetRequested, email, "sealed_reset_url")
    async with runtime.db.transaction() as db:
        await db.execute(
            update(tokens)
            .values(expires_at=datetime.now(UTC) - timedelta(1))
            .where(tokens.c.used_at.is_(None))
        )
    assert (
        await client.post("/password/reset", json={"token": token, "password": new + "y"})
    ).status_code == 400


async def test_reset_requests_are_rate_limited_per_account(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, _ = auth
    email = address()
    await sign_up(client, email)
    for _ in range(2):
        assert (await client.post("/password/forgot", json={"email": email})).status_code == 202
    assert (await client.post("/password/forgot", json={"email": email})).status_code == 429


async def test_changing_the_password_keeps_this_session_and_ends_the_others(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = auth
    email = address()
    await sign_up(client, email)
    here, elsewhere = await log_in(client, email), await log_in(client, email)
    me = Identity.model_validate(
        (await client.post("/sessions/validate", json={"token": here})).json()
    )
    wrong = await client.post(
        "/password/change",
        headers=as_user(runtime, me),
        json={"current_password": "nicht-meins", "new_password": "X" * 12},
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["field"] == "current_password"
    ok = await client.post(
        "/password/change",
        headers=as_user(runtime, me),
        json={"current_password": PASSWORD, "new_password": PASSWORD + "!"},
    )
    assert ok.status_code == 200
    assert (await client.post("/sessions/validate", json={"token": here})).status_code == 200
    assert (await client.post("/sessions/validate", json={"token": elsewhere})).status_code == 401


async def test_sessions_can_be_listed_and_ended_one_by_one_or_all(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = auth
    email = address()
    await sign_up(client, email)
    here, other = await log_in(client, email), await log_in(client, email)
    me = Identity.model_validate(
        (await client.post("/sessions/validate", json={"token": here})).json()
    )
    listed = (await client.get("/sessions", headers=as_user(runtime, me))).json()
    assert {s["current"] for s in listed} == {True, False}
    other_id = other.split(".")[0]
    assert (
        await client.delete(f"/sessions/{other_id}", headers=as_user(runtime, me))
    ).status_code == 204
    assert (await client.post("/sessions/validate", json={"token": other})).status_code == 401
    stranger = me.model_copy(update={"user_id": uuid.uuid4()})
    assert (
        await client.delete(f"/sessions/{here.split('.')[0]}", headers=as_user(runtime, stranger))
    ).status_code == 404
    assert (await client.post("/sessions/revoke-all", headers=as_user(runtime, me))).json() == {
        "revoked": 1
    }
    assert (await client.post("/sessions/validate", json={"token": here})).status_code == 401


async def test_data_export_and_account_deletion(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = auth
    email = address()
    me = await sign_up(client, email)
    await log_in(client, email)
    exported = await client.get("/me/export", headers=as_user(runtime, me))
    assert exported.headers["content-disposition"].startswith("attachment")
    data = exported.json()
    assert data["profile"]["email"] == email
    assert data["profile"]["organisation"] == "Muster Immobilien"
    assert len(data["sessions"]) == 1
    assert "password" not in str(data).lower().replace("password_", "")
    # In the user's language (German here), from auth's catalogue.
    assert data["note"] == (
        "Aufträge, Fotos und Exporte Ihrer Organisation bleiben bei der Organisation."
    )
    patched = await client.patch("/me", headers=as_user(runtime, me), json={"locale": "en"})
    assert patched.status_code == 200, patched.text
    english = (await client.get("/me/export", headers=as_user(runtime, me))).json()
    assert english["note"].startswith("Orders, photos and exports")

    wrong = await client.post(
        "/me/delete", headers=as_user(runtime, me), json={"password": "nicht-meins"}
    )
    assert wrong.status_code == 422
    assert (
        await client.post("/me/delete", headers=as_user(runtime, me), json={"password": PASSWORD})
    ).status_code == 204
    async with runtime.db.sessions() as db:
        payloads = (
            await db.scalars(select(outbox.c.payload).where(outbox.c.topic == UserDeletedV2.topic))
        ).all()
    deleted = [UserDeletedV2.model_validate_json(p) for p in payloads]
    # The erasure names the user by ids and the address's keyed digest, never the address.
    digest = subject_digest(email, subject_key(runtime.internal_key))
    assert [e.user_id for e in deleted if e.email_digest == digest] == [me.user_id]
    assert not any(email in str(p) for p in payloads)
    assert (
        await client.post("/login", json={"email": email, "password": PASSWORD})
    ).status_code == 401
    async with runtime.db.sessions() as db:
        left = await db.scalar(select(func.count()).where(sessions.c.user_id == me.user_id))
    assert left == 0


async def test_admins_invite_colleagues_and_change_roles(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = auth
    owner = await sign_up(client, address())
    admin = owner.model_copy(update={"role": "admin"})
    client_headers = as_user(runtime, owner)
    assert (await client.get("/admin/users", headers=client_headers)).status_code == 403
    colleague = address()
    invited = await client.post(
        "/admin/invitations",
        headers=as_user(runtime, admin),
        json={"org_id": str(owner.org_id), "email": colleague, "name": "Max Kollege"},
    )
    assert invited.status_code == 201
    assert invited.json()["org_id"] == str(owner.org_id)
    [event] = await events(runtime, PasswordResetRequested, colleague)
    assert event.purpose == "invitation"
    token = await emailed_token(runtime, PasswordResetRequested, colleague, "sealed_reset_url")
    assert (
        await client.post("/password/reset", json={"token": token, "password": PASSWORD})
    ).status_code == 200
    await log_in(client, colleague)
    users = (await client.get("/admin/users", headers=as_user(runtime, admin))).json()
    mate = next(u for u in users if u["email"] == colleague)
    assert mate["email_verified_at"] is not None
    assert (
        await client.patch(
            f"/admin/users/{mate['id']}", headers=as_user(runtime, admin), json={"role": "admin"}
        )
    ).status_code == 200
    orgs = (await client.get("/admin/organisations", headers=as_user(runtime, admin))).json()
    assert next(o for o in orgs if o["id"] == str(owner.org_id))["members"] == 2


async def test_owners_manage_their_team_and_agents_do_not(
    auth: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = auth
    owner = await sign_up(client, address())
    assert owner.role == "owner"  # whoever registers the agency owns it
    colleague = address()
    invited = await client.post(
        "/organisation/invitations",
        headers=as_user(runtime, owner),
        json={"email": colleague, "name": "Max Kollege"},
    )
    assert invited.status_code == 201, invited.text
    assert invited.json()["role"] == "agent"
    token = await emailed_token(runtime, PasswordResetRequested, colleague, "sealed_reset_url")
    assert (
        await client.post("/password/reset", json={"token": token, "password": PASSWORD})
    ).status_code == 200
    session = await client.post("/login", json={"email": colleague, "password": PASSWORD})
    agent = Identity.model_validate(session.json()["identity"])
    assert (agent.role, agent.org_id) == ("agent", owner.org_id)

    # Agents see their colleagues (to hand a lead over) but cannot change the team.
    listed = await client.get("/organisation/members", headers=as_user(runtime, agent))
    assert {(m["email"], m["role"]) for m in listed.json()} == {
        (owner.email, "owner"),
        (colleague, "agent"),
    }
    refused = await client.post(
        "/organisation/invitations",
        headers=as_user(runtime, agent),
        json={"email": address(), "name": "Noch Jemand"},
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    # An owner gives organisation roles only, and only in their own organisation.
    promoted = await client.patch(
        f"/organisation/members/{agent.user_id}",
        headers=as_user(runtime, owner),
        json={"role": "owner"},
    )
    assert promoted.status_code == 200
    platform_role = await client.patch(
        f"/admin/users/{agent.user_id}", headers=as_user(runtime, owner), json={"role": "admin"}
    )
    assert platform_role.status_code == 403
    stranger = await sign_up(client, address())
    foreign = await client.patch(
        f"/organisation/members/{agent.user_id}",
        headers=as_user(runtime, stranger),
        json={"role": "agent"},
    )
    assert foreign.status_code == 404
    own = await client.patch(
        f"/organisation/members/{owner.user_id}",
        headers=as_user(runtime, owner),
        json={"role": "agent"},
    )
    assert own.status_code == 409


def test_identities_signed_before_the_roles_split_are_owners() -> None:
    old = Identity.model_validate(
        {
            "user_id": uuid.uuid4(),
            "org_id": uuid.uuid4(),
            "role": "client",
            "email": "a@b.de",
            "name": "A",
        }
    )
    assert old.role == "owner"
    assert old.manages_organisation
