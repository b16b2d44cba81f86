"""The photographer assigned to a gallery's order may upload into it and deliver it.

Orders announce appointments (orders.appointment.*.v1) with the gallery id and a sequence that
grows with every change; the newest state wins, whatever order the events arrive in.
"""

from __future__ import annotations

import uuid

from pix_contracts.appointments import (
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentScheduled,
)
from pix_runtime.db import Database
from pix_runtime.identity import Identity
from pix_runtime.inbox import first_delivery
from pix_runtime.logging import get_logger
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_media.models import assignments, inbox

log = get_logger(__name__)

CONSUMER = "media.appointments"
AppointmentEvent = AppointmentScheduled | AppointmentChanged | AppointmentCancelled


async def take_appointment(db: Database, event: AppointmentEvent) -> bool:
    """Record who shoots the gallery (nobody once cancelled). True if it changed."""
    photographer = (
        None if isinstance(event, AppointmentCancelled) else event.appointment.photographer_id
    )
    values = {"photographer_id": photographer, "sequence": event.sequence}
    async with db.transaction() as session:
        if not await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
            return False
        changed = await session.scalar(
            insert(assignments)
            .values(gallery_id=event.gallery_id, org_id=event.org_id, **values)
            .on_conflict_do_update(
                index_elements=[assignments.c.gallery_id],
                set_=values,
                where=assignments.c.sequence < event.sequence,
            )
            .returning(assignments.c.gallery_id)
        )
    log.info(
        "gallery.assignment",
        gallery_id=str(event.gallery_id),
        sequence=event.sequence,
        applied=changed is not None,
    )
    return changed is not None


async def assigned(session: AsyncSession, gallery_id: uuid.UUID, viewer: Identity) -> bool:
    """The viewer is a photographer and shoots this gallery's order."""
    if viewer.role != "photographer":
        return False
    found = await session.scalar(
        select(assignments.c.gallery_id).where(
            assignments.c.gallery_id == gallery_id,
            assignments.c.photographer_id == viewer.user_id,
        )
    )
    return found is not None
