"""An order's appointment: administrators schedule, reschedule and cancel the shoot.

Each change is announced through the outbox in its own transaction: notify mails the client a
calendar entry and tells the photographer; media lets the photographer upload into the gallery.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, time

from pix_contracts.appointments import (
    Appointment,
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentScheduled,
)
from pix_runtime.db import Database
from pix_runtime.errors import Conflict, Forbidden, Invalid, NotFound
from pix_runtime.identity import Identity
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_orders.models import appointments, orders, outbox
from pix_orders.records import Order

log = get_logger(__name__)

SOURCE = "/pix/orders"
# Orders that still lie ahead of the shoot may get (or change) an appointment.
SCHEDULABLE = frozenset({"received", "confirmed", "scheduled"})
# A calendar asks for a day or a week; a month's grid is the most anyone reads at once.
MAX_RANGE_DAYS = 42


@dataclass(frozen=True)
class AppointmentForm:
    day: date
    starts_at: time
    ends_at: time
    photographer_id: uuid.UUID
    photographer_email: str | None = None
    photographer_name: str | None = None


@dataclass(frozen=True)
class ScheduledAppointment:
    order_id: uuid.UUID
    appointment: Appointment
    sequence: int
    cancelled: bool


@dataclass(frozen=True)
class Shoot:
    order: Order
    scheduled: ScheduledAppointment


class AppointmentBook:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def of_order(self, order_id: uuid.UUID, viewer: Identity) -> ScheduledAppointment:
        """The order's appointment for anyone who may see the order (the caller checked)."""
        async with self._db.sessions() as session:
            query = select(appointments).where(appointments.c.order_id == order_id)
            row = (await session.execute(query)).mappings().first()
        if row is None or not _may_see(viewer, row["org_id"], row["photographer_id"]):
            raise NotFound("appointment")
        return _scheduled(row)

    async def day(self, day: date, viewer: Identity) -> list[Shoot]:
        """The day's live appointments with their orders, by start: a photographer's own,
        an administrator's all."""
        return await self.between(day, day, viewer)

    async def between(self, first: date, last: date, viewer: Identity) -> list[Shoot]:
        """Live appointments from `first` to `last` (both included) with their orders, by day
        and start: a photographer's own, an administrator's all (the calendar's weeks)."""
        if viewer.role not in ("photographer", "admin"):
            raise Forbidden()
        if last < first:
            raise Invalid("invalid_range", "the range must not end before it starts", "end")
        if (last - first).days >= MAX_RANGE_DAYS:
            raise Invalid("range_too_long", f"at most {MAX_RANGE_DAYS} days at a time", "end")
        a = appointments
        query = (
            select(orders, *(c for c in a.c if c.name not in ("org_id", "updated_at")))
            .join(orders, orders.c.id == a.c.order_id)
            .where(a.c.day >= first, a.c.day <= last, a.c.cancelled_at.is_(None))
            .order_by(a.c.day, a.c.starts_at, orders.c.number)
        )
        if viewer.role == "photographer":
            query = query.where(a.c.photographer_id == viewer.user_id)
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return [Shoot(order=Order.from_row(row), scheduled=_scheduled(row)) for row in rows]

    async def schedule(
        self, order_id: uuid.UUID, form: AppointmentForm, by: Identity
    ) -> ScheduledAppointment:
        """Set or change the appointment; the first (or one after a cancellation) is
        `scheduled`, any later one `changed`."""
        if not by.is_admin:
            raise Forbidden()
        if form.ends_at <= form.starts_at:
            raise Invalid("invalid_window", "the window must end after it starts", "ends_at")
        async with self._db.transaction() as session:
            order = await _order_for_update(session, order_id)
            if order.status not in SCHEDULABLE:
                raise Conflict(
                    "not_schedulable",
                    f"an order in status {order.status!r} gets no appointment",
                    "status",
                )
            current = (
                (
                    await session.execute(
                        select(appointments)
                        .where(appointments.c.order_id == order_id)
                        .with_for_update()
                    )
                )
                .mappings()
                .first()
            )
            sequence = 0 if current is None else current["sequence"] + 1
            values = {
                "day": form.day,
                "starts_at": form.starts_at,
                "ends_at": form.ends_at,
                "photographer_id": form.photographer_id,
                "photographer_email": form.photographer_email,
                "photographer_name": (form.photographer_name or "")[:200] or None,
                "sequence": sequence,
                "cancelled_at": None,
                "updated_at": func.now(),
            }
            row = (
                (
                    await session.execute(
                        insert(appointments)
                        .values(order_id=order_id, org_id=order.org_id, **values)
                        .on_conflict_do_update(index_elements=["order_id"], set_=values)
                        .returning(*appointments.c)
                    )
                )
                .mappings()
                .one()
            )
            scheduled = _scheduled(row)
            fields = _event_fields(order, scheduled)
            if current is None or current["cancelled_at"] is not None:
                await enqueue(
                    session, outbox, AppointmentScheduled.model_validate(fields), source=SOURCE
                )
            else:
                previous = _scheduled(current).appointment
                await enqueue(
                    session,
                    outbox,
                    AppointmentChanged.model_validate({**fields, "previous": previous}),
                    source=SOURCE,
                )
        log.info("order.appointment_set", reference=order.reference, sequence=sequence)
        return scheduled

    async def cancel(self, order_id: uuid.UUID, by: Identity) -> ScheduledAppointment:
        if not by.is_admin:
            raise Forbidden()
        async with self._db.transaction() as session:
            order = await _order_for_update(session, order_id)
            row = (
                (
                    await session.execute(
                        appointments.update()
                        .where(
                            appointments.c.order_id == order_id,
                            appointments.c.cancelled_at.is_(None),
                        )
                        .values(
                            cancelled_at=func.now(),
                            sequence=appointments.c.sequence + 1,
                            updated_at=func.now(),
                        )
                        .returning(*appointments.c)
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound("appointment")
            cancelled = _scheduled(row)
            await enqueue(
                session,
                outbox,
                AppointmentCancelled.model_validate(_event_fields(order, cancelled)),
                source=SOURCE,
            )
        log.info("order.appointment_cancelled", reference=order.reference)
        return cancelled


def _may_see(viewer: Identity, org_id: uuid.UUID, photographer_id: uuid.UUID) -> bool:
    if viewer.role == "photographer":
        return viewer.user_id == photographer_id
    return viewer.may_access(org_id)


async def _order_for_update(session: AsyncSession, order_id: uuid.UUID) -> Order:
    row = (
        (await session.execute(select(orders).where(orders.c.id == order_id).with_for_update()))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("order")
    return Order.from_row(row)


def _scheduled(row: object) -> ScheduledAppointment:
    r = dict(row)  # type: ignore[call-overload]
    return ScheduledAppointment(
        order_id=r["order_id"],
        appointment=Appointment(
            date=r["day"],
            starts_at=r["starts_at"],
            ends_at=r["ends_at"],
            photographer_id=r["photographer_id"],
            photographer_email=r["photographer_email"],
            photographer_name=r["photographer_name"],
        ),
        sequence=r["sequence"],
        cancelled=r["cancelled_at"] is not None,
    )


def _event_fields(order: Order, scheduled: ScheduledAppointment) -> dict[str, object]:
    return {
        "order_id": order.id,
        "org_id": order.org_id,
        "gallery_id": order.gallery_id,
        "reference": order.reference,
        "appointment": scheduled.appointment,
        "sequence": scheduled.sequence,
        "contact_name": order.contact_name,
        "contact_email": None if order.contact_deleted else order.contact_email,
        "locale": "en" if order.locale == "en" else "de",
        "property_address": order.property_address,
        "access_notes": order.access_notes,
    }
