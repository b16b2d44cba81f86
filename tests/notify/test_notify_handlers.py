"""Emails from events: one per event, DE/EN, recorded before sending (TestKafkaBroker)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from pix_contracts import ExportFile, GalleryExported, OrderPlaced
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


def exported(placed: OrderPlaced) -> GalleryExported:
    return GalleryExported(
        gallery_id=placed.gallery_id,
        org_id=placed.org_id,
        version=1,
        asset_count=3,
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
    rows = await sent(runtime, placed.reference)
    assert [r["kind"] for r in rows] == ["gallery_ready", "order_confirmation"]
    assert all(r["status"] == "sent" and r["recipient"] == "erika@makler-example.de" for r in rows)
    assert rows[1]["subject"] == confirmation.format(ref=placed.reference)
    assert rows[0]["subject"] == ready.format(ref=placed.reference)
    assert "captions.json" in rows[0]["text_body"]
    assert "sig=abc" in rows[0]["html_body"]
    assert "<html" in rows[0]["html_body"]
    files = [p for p in folder.glob("*.eml") if placed.reference in p.read_text()]
    assert len(files) == 2
