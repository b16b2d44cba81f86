"""Emails from events: one per event, DE/EN, recorded before sending (TestKafkaBroker)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from pix_contracts import (
    CaptionFailed,
    ExportFile,
    GalleryExported,
    OrderPlaced,
    OrderStatusChanged,
    UserRegistered,
)
from pix_notify.app import create_app
from pix_notify.models import emails
from pix_notify.settings import NotifySettings
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import select


@pytest.fixture
async def notify(
    migrated: set[str], tmp_path: Path
) -> AsyncIterator[tuple[ServiceRuntime, Any, Path]]:
    _, runtime = create_app(NotifySettings(outbox_dir=tmp_path))
    async with TestKafkaBroker(runtime.broker) as broker:
        yield runtime, broker, tmp_path
    await runtime.db.dispose()


def order(locale: str) -> OrderPlaced:
    return OrderPlaced(
        order_id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        gallery_id=uuid.uuid4(),
        reference=f"PIX-{uuid.uuid4().hex[:6]}",
        placed_by=uuid.uuid4(),
        contact_name="Erika Muster",
        contact_email="erika@makler-example.de",
        locale=locale,
        property_address="Lindenallee 5, Berlin",  # type: ignore[arg-type]
    )


def exported(placed: OrderPlaced, version: int = 1, delivery: int | None = 1) -> GalleryExported:
    """An export version; `delivery` None is an interim preview."""
    return GalleryExported(
        gallery_id=placed.gallery_id,
        org_id=placed.org_id,
        version=version,
        asset_count=3,
        complete=delivery is not None,
        delivery=delivery,
        files=[
            ExportFile(
                name="captions.json",
                format="captions-json",
                media_type="application/json",
                storage_key="exports/x/v1/captions.json",
                download_url="http://localhost:8000/api/media/storage/exports/x?sig=abc",
                url_expires_at=datetime.now(UTC) + timedelta(days=7),
                sha256="0" * 64,
                byte_size=10,
            )
        ],
    )


async def sent(runtime: ServiceRuntime, reference: str) -> list[Any]:
    async with runtime.db.sessions() as session:
        rows = await session.execute(
            select(emails).where(emails.c.subject.contains(reference)).order_by(emails.c.kind)
        )
        return list(rows.mappings())


@pytest.mark.parametrize(
    ("locale", "confirmation", "ready"),
    [
        ("de", "Ihr Auftrag {ref} ist eingegangen", "Ihre Galerie {ref} ist fertig"),
        ("en", "Your order {ref} has been received", "Your gallery {ref} is ready"),
    ],
)
async def test_order_and_gallery_emails_once_each_in_the_clients_language(
    notify: tuple[ServiceRuntime, Any, Path], locale: str, confirmation: str, ready: str
) -> None:
    runtime, broker, folder = notify
    placed = order(locale)
    done = exported(placed)
    for _ in range(2):  # every event delivered twice
        await broker.publish(placed.model_dump_json().encode(), OrderPlaced.topic)
        await broker.publish(done.model_dump_json().encode(), GalleryExported.topic)
    await runtime.jobs.run_due()
    rows = [
        r
        for r in await sent(runtime, placed.reference)
        if r["recipient"] == "erika@makler-example.de"
    ]
    assert [r["kind"] for r in rows] == ["gallery_ready", "order_confirmation"]
    assert all(r["status"] == "sent" and r["recipient"] == "erika@makler-example.de" for r in rows)
    assert rows[1]["subject"] == confirmation.format(ref=placed.reference)
    assert rows[0]["subject"] == ready.format(ref=placed.reference)
    assert "captions.json" in rows[0]["text_body"]
    assert "sig=abc" in rows[0]["html_body"]
    assert "<html" in rows[0]["html_body"]
    files = [p for p in folder.glob("*.eml") if placed.reference in p.read_text()]
    assert len(files) == 2


async def test_interim_export_versions_do_not_email(
    notify: tuple[ServiceRuntime, Any, Path],
) -> None:
    runtime, broker, _ = notify
    placed = order("de")
    await broker.publish(placed.model_dump_json().encode(), OrderPlaced.topic)
    interim = exported(placed, delivery=None)
    await broker.publish(interim.model_dump_json().encode(), GalleryExported.topic)
    await runtime.jobs.run_due()
    kinds = [r["kind"] for r in await sent(runtime, placed.reference)]
    assert "gallery_ready" not in kinds


async def test_status_changes_reach_the_client_and_operators_hear_of_orders_and_failures(
    notify: tuple[ServiceRuntime, Any, Path],
) -> None:
    runtime, broker, _ = notify
    admin_email = f"ops-{uuid.uuid4().hex[:6]}@pix.immo"
    admin = UserRegistered(
        user_id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        email=admin_email,
        name="Ops",
        role="admin",
        locale="en",
    )
    await broker.publish(admin.model_dump_json().encode(), UserRegistered.topic)
    placed = order("en")
    await broker.publish(placed.model_dump_json().encode(), OrderPlaced.topic)
    changed = OrderStatusChanged(
        order_id=placed.order_id,
        org_id=placed.org_id,
        gallery_id=placed.gallery_id,
        reference=placed.reference,
        old_status="received",
        new_status="scheduled",
        changed_by=uuid.uuid4(),
        contact_email=placed.contact_email,
        locale="en",
    )
    for _ in range(2):
        await broker.publish(changed.model_dump_json().encode(), OrderStatusChanged.topic)
    failed = CaptionFailed(
        asset_id=uuid.uuid4(),
        gallery_id=placed.gallery_id,
        org_id=placed.org_id,
        asset_version=1,
        pseudonym="Kitchen_07",
        reason="provider timed out",
        attempts=4,
    )
    await broker.publish(failed.model_dump_json().encode(), CaptionFailed.topic)

    rows = await sent(runtime, placed.reference)
    kinds = sorted(r["kind"] for r in rows)
    assert "new_order_admin" in kinds
    assert kinds.count("order_status") == 1
    assert kinds.count("order_confirmation") == 1
    status = next(r for r in rows if r["kind"] == "order_status")
    assert status["subject"] == f"Your order {placed.reference}: scheduled"
    notices = [r["recipient"] for r in rows if r["kind"] == "new_order_admin"]
    assert admin_email in notices
    async with runtime.db.sessions() as session:
        failure = (
            (
                await session.execute(
                    select(emails).where(
                        emails.c.subject.contains("Kitchen_07"), emails.c.recipient == admin_email
                    )
                )
            )
            .mappings()
            .all()
        )
    assert len(failure) == 1
    assert "provider timed out" in failure[0]["text_body"]


async def test_one_ready_mail_per_gallery_then_at_most_one_update_per_interval(
    notify: tuple[ServiceRuntime, Any, Path],
) -> None:
    runtime, broker, _ = notify
    placed = order("en")

    async def export(version: int, delivery: int) -> None:
        event = exported(placed, version, delivery)
        await broker.publish(event.model_dump_json().encode(), GalleryExported.topic)

    async def kinds() -> list[tuple[str, str]]:
        rows = await sent(runtime, placed.reference)
        return sorted(
            (r["kind"], r["text_body"].split("(version ")[1].split(")")[0])
            for r in rows
            if r["kind"].startswith("gallery_")
        )

    # The delivered export overtakes the order: the mail waits for the recipient.
    await export(2, 1)
    await runtime.jobs.run_due()
    assert await kinds() == []
    await broker.publish(placed.model_dump_json().encode(), OrderPlaced.topic)
    runtime.clock.advance(timedelta(seconds=10))  # the job's retry backoff
    await runtime.jobs.run_due()
    assert await kinds() == [("gallery_ready", "2")]

    # A delivered status change says nothing of its own: the ready mail told the client.
    delivered = OrderStatusChanged(
        order_id=placed.order_id,
        org_id=placed.org_id,
        gallery_id=placed.gallery_id,
        reference=placed.reference,
        old_status="shot",
        new_status="delivered",
        changed_by=uuid.uuid4(),
        contact_email=placed.contact_email,
        locale="en",
        via="gallery-delivery",
    )
    await broker.publish(delivered.model_dump_json().encode(), OrderStatusChanged.topic)

    # Three updates within the interval (one arrives twice): nothing now, one mail later,
    # with the latest version.
    for version in (3, 4, 4, 5):
        await export(version, version - 1)
        runtime.clock.advance(timedelta(minutes=20))
        await runtime.jobs.run_due()
    assert await kinds() == [("gallery_ready", "2")]
    runtime.clock.advance(timedelta(hours=2))
    await runtime.jobs.run_due()
    assert await kinds() == [("gallery_ready", "2"), ("gallery_updated", "5")]
    updated = next(
        r for r in await sent(runtime, placed.reference) if r["kind"] == "gallery_updated"
    )
    assert updated["subject"] == f"Your gallery {placed.reference} was updated"

    # An old version arriving late changes nothing; a newer one waits for the next interval.
    await export(4, 3)
    await export(6, 5)
    runtime.clock.advance(timedelta(hours=1))
    await runtime.jobs.run_due()
    assert len(await kinds()) == 2
    runtime.clock.advance(timedelta(hours=2, minutes=1))
    await runtime.jobs.run_due()
    assert await kinds() == [
        ("gallery_ready", "2"),
        ("gallery_updated", "5"),
        ("gallery_updated", "6"),
    ]
    assert "order_status" not in [r["kind"] for r in await sent(runtime, placed.reference)]
