"""Notify erases an organisation's recipients, mails, gallery mail state and mail jobs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from pix_contracts import GalleryExported, OrderPlaced, OrganisationErasureDue, UserDeletedV2
from pix_notify.app import create_app
from pix_notify.models import emails, gallery_mail, jobs, outbox, recipients
from pix_notify.settings import NotifySettings
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.outbox import decode_payload
from pix_runtime.personal_data import subject_digest, subject_key
from sqlalchemy import Text, func, select
from test_notify_handlers import exported, order


@pytest.fixture
async def notify(migrated: set[str], tmp_path: Path) -> AsyncIterator[tuple[ServiceRuntime, Any]]:
    _, runtime = create_app(NotifySettings(outbox_dir=tmp_path))
    async with TestKafkaBroker(runtime.broker) as broker:
        yield runtime, broker
    await runtime.db.dispose()


async def held(runtime: ServiceRuntime, placed: OrderPlaced) -> dict[str, int]:
    async with runtime.db.sessions() as session:

        async def count(where: Any) -> int:
            return int(await session.scalar(select(func.count()).where(where)) or 0)

        return {
            "recipients": await count(recipients.c.org_id == placed.org_id),
            "emails": await count(emails.c.org_id == placed.org_id),
            "gallery_mail": await count(gallery_mail.c.gallery_id == placed.gallery_id),
            "jobs": await count(
                func.coalesce(jobs.c.key, "").contains(str(placed.gallery_id))
                | jobs.c.payload.cast(Text).contains(str(placed.gallery_id))
            ),
        }


async def test_the_organisations_mail_goes_and_another_stays(
    notify: tuple[ServiceRuntime, Any],
) -> None:
    runtime, broker = notify
    erased, kept = order("de"), order("en")
    for placed in (erased, kept):
        await broker.publish(placed.model_dump_json().encode(), OrderPlaced.topic)
        await broker.publish(exported(placed).model_dump_json().encode(), GalleryExported.topic)
    await runtime.jobs.run_due()
    # A second version waits for its mail (the update interval): a queued job.
    await broker.publish(
        exported(erased, version=2, delivery=2).model_dump_json().encode(), GalleryExported.topic
    )
    before = await held(runtime, erased)
    assert before["recipients"] == 1
    assert before["emails"] >= 2
    assert before["gallery_mail"] == 1

    # Auth deletes each member's account with the organisation; that may be heard first.
    member_gone = UserDeletedV2(
        user_id=erased.placed_by,
        org_id=erased.org_id,
        email_digest=subject_digest(str(erased.contact_email), subject_key(runtime.internal_key)),
    )
    await broker.publish(member_gone.model_dump_json().encode(), UserDeletedV2.topic)
    due = OrganisationErasureDue(org_id=erased.org_id, erasure_id=uuid.uuid4())
    await broker.publish(due.model_dump_json().encode(), OrganisationErasureDue.topic)
    assert await held(runtime, erased) == {
        "recipients": 0,
        "emails": 0,
        "gallery_mail": 0,
        "jobs": 0,
    }
    assert (await held(runtime, kept))["gallery_mail"] == 1
    async with runtime.db.sessions() as session:
        reports = [
            decode_payload(p)
            for p in (
                await session.execute(
                    select(outbox.c.payload).where(
                        outbox.c.topic == "notify.organisation.erased.v1"
                    )
                )
            ).scalars()
        ]
    [report] = [r for r in reports if r["org_id"] == str(erased.org_id)]
    assert report["rows"] >= 2
