"""Notification preferences: a user switches a kind of notification email off through notify's
API; such a mail is then recorded as `skipped` (in the mail log, never sent), while security
mails (a password reset) still arrive. Security kinds cannot be switched off (422), and nobody
reads or writes another user's preferences (404)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from pix_contracts import OrderPlaced, OrderStatusChanged, PasswordResetRequested
from pix_notify.app import create_app
from pix_notify.models import emails
from pix_notify.settings import NotifySettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.sealing import derive_key, seal
from sqlalchemy import select

Notify = tuple[ServiceRuntime, Any, httpx.AsyncClient, Path]


@pytest.fixture
async def notify(migrated: set[str], tmp_path: Path) -> AsyncIterator[Notify]:
    app, runtime = create_app(NotifySettings(outbox_dir=tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with (
        TestKafkaBroker(runtime.broker) as broker,
        httpx.AsyncClient(transport=transport, base_url="http://notify") as http,
    ):
        yield runtime, broker, http, tmp_path
    await runtime.db.dispose()


def member(role: str = "owner") -> Identity:
    return Identity(
        user_id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        role=role,  # type: ignore[arg-type]
        email=f"Erika-{uuid.uuid4().hex[:8]}@Makler-Example.de",
        name="Erika Muster",
        email_verified=True,
    )


def signed(runtime: ServiceRuntime, who: Identity) -> dict[str, str]:
    return {IDENTITY_HEADER: sign_identity(who, runtime.internal_key)}


def path(who: Identity, kind: str = "") -> str:
    base = f"/users/{who.user_id}/notification-preferences"
    return f"{base}/{kind}" if kind else base


async def mails_to(runtime: ServiceRuntime, address: str) -> list[Any]:
    async with runtime.db.sessions() as session:
        rows = await session.execute(
            select(emails)
            .where(emails.c.recipient == address)
            .order_by(emails.c.created_at, emails.c.kind)
        )
        return list(rows.mappings())


async def test_order_status_switched_off_is_skipped_but_a_password_reset_arrives(
    notify: Notify,
) -> None:
    runtime, broker, http, folder = notify
    erika = member()
    # The mail goes to the address as the order wrote it; the preference matches it whatever
    # its case.
    address = erika.email.lower()

    shown = await http.get(path(erika), headers=signed(runtime, erika))
    assert shown.status_code == 200, shown.text
    assert {p["kind"]: (p["enabled"], p["switchable"]) for p in shown.json()} == {
        "order_updates": (True, True),
        "gallery_delivered": (True, True),
        "appointments": (True, True),
        "admin_alerts": (True, True),
        "security": (True, False),
    }
    off = await http.put(
        path(erika, "order_updates"), json={"enabled": False}, headers=signed(runtime, erika)
    )
    assert off.status_code == 200, off.text
    assert {p["kind"]: p["enabled"] for p in off.json()}["order_updates"] is False

    placed = OrderPlaced(
        order_id=uuid.uuid4(),
        org_id=erika.org_id,
        gallery_id=uuid.uuid4(),
        reference=f"PIX-{uuid.uuid4().hex[:6]}",
        placed_by=erika.user_id,
        contact_name="Erika Muster",
        contact_email=address,
        locale="de",
        property_address="Lindenallee 5, Berlin",  # type: ignore[arg-type]
    )
    await broker.publish(placed.model_dump_json().encode(), OrderPlaced.topic)
    changed = OrderStatusChanged(
        order_id=placed.order_id,
        org_id=placed.org_id,
        gallery_id=placed.gallery_id,
        reference=placed.reference,
        old_status="received",
        new_status="scheduled",
        changed_by=uuid.uuid4(),
        contact_email=address,
        locale="de",
    )
    await broker.publish(changed.model_dump_json().encode(), OrderStatusChanged.topic)
    link = f"http://localhost:8000/reset?token={uuid.uuid4().hex}"
    reset = PasswordResetRequested(
        user_id=erika.user_id,
        email=address,
        name="Erika Muster",
        locale="de",
        sealed_reset_url=seal(
            link, derive_key(runtime.internal_key, "email-link"), context="email-link"
        ),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    await broker.publish(reset.model_dump_json().encode(), PasswordResetRequested.topic)
    await runtime.jobs.run_due()

    rows = {r["kind"]: r for r in await mails_to(runtime, address)}
    assert set(rows) == {"order_confirmation", "order_status", "password_reset"}
    for kind in ("order_confirmation", "order_status"):
        assert rows[kind]["status"] == "skipped"
        assert rows[kind]["error"] == "switched off by the recipient (order_updates)"
        assert rows[kind]["attempts"] == 0
    assert rows["password_reset"]["status"] == "sent"
    # Only the reset reached the (dev outbox) mailbox.
    delivered = [t for p in folder.glob("*.eml") if f"To: {address}" in (t := p.read_text())]
    assert any(link in text.replace("=\n", "") for text in delivered)
    assert not any(placed.reference in text for text in delivered)

    # The admin's mail log lists the skipped mails with their reason.
    admin = member("admin")
    log = await http.get(
        "/mail", params={"status": "skipped", "recipient": address}, headers=signed(runtime, admin)
    )
    assert log.status_code == 200, log.text
    assert sorted(m["kind"] for m in log.json()) == ["order_confirmation", "order_status"]

    # Switched on again, the next status change is sent.
    on = await http.put(
        path(erika, "order_updates"), json={"enabled": True}, headers=signed(runtime, erika)
    )
    assert on.status_code == 200
    again = changed.model_copy(update={"event_id": uuid.uuid4(), "new_status": "shot"})
    await broker.publish(again.model_dump_json().encode(), OrderStatusChanged.topic)
    await runtime.jobs.run_due()
    rows_now = await mails_to(runtime, address)
    assert sorted(r["status"] for r in rows_now if r["kind"] == "order_status") == [
        "sent",
        "skipped",
    ]


async def test_security_mails_cannot_be_switched_off(notify: Notify) -> None:
    runtime, _, http, _ = notify
    erika = member()
    refused = await http.put(
        path(erika, "security"), json={"enabled": False}, headers=signed(runtime, erika)
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "not_switchable"
    assert refused.json()["error"]["field"] == "kind"
    unknown = await http.put(
        path(erika, "password_reset"), json={"enabled": False}, headers=signed(runtime, erika)
    )
    assert unknown.status_code == 422
    shown = await http.get(path(erika), headers=signed(runtime, erika))
    assert all(p["enabled"] for p in shown.json())


async def test_nobody_reads_or_writes_another_users_preferences(notify: Notify) -> None:
    runtime, _, http, _ = notify
    erika, max_, admin = member(), member(), member("admin")
    await http.put(
        path(erika, "gallery_delivered"), json={"enabled": False}, headers=signed(runtime, erika)
    )
    for intruder in (max_, admin):
        read = await http.get(path(erika), headers=signed(runtime, intruder))
        assert read.status_code == 404, read.text
        assert read.json()["error"]["code"] == "not_found"
        write = await http.put(
            path(erika, "gallery_delivered"),
            json={"enabled": True},
            headers=signed(runtime, intruder),
        )
        assert write.status_code == 404
    assert (await http.get(path(erika))).status_code == 401
    mine = await http.get(path(erika), headers=signed(runtime, erika))
    assert {p["kind"]: p["enabled"] for p in mine.json()}["gallery_delivered"] is False
