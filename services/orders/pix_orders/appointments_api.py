"""HTTP routes of an order's appointment: administrators set and cancel it; whoever may see
the order (its organisation, the assigned photographer) reads it."""

import uuid
from datetime import date, time
from typing import Annotated
from urllib.parse import quote_plus

from fastapi import APIRouter, Depends, Request
from pix_contracts.appointments import Appointment
from pix_runtime.http import CurrentIdentity
from pydantic import BaseModel, EmailStr, Field

from pix_orders.appointments import AppointmentBook, AppointmentForm, ScheduledAppointment
from pix_orders.records import Order
from pix_orders.service import OrderBook

MAP_SEARCH = "https://www.openstreetmap.org/search?query="


class AppointmentRequest(BaseModel):
    date: date
    starts_at: time
    ends_at: time
    photographer_id: uuid.UUID
    photographer_email: EmailStr | None = None
    photographer_name: Annotated[str | None, Field(max_length=200)] = None

    def form(self) -> AppointmentForm:
        return AppointmentForm(
            day=self.date,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            photographer_id=self.photographer_id,
            photographer_email=self.photographer_email,
            photographer_name=self.photographer_name,
        )


class AppointmentView(BaseModel):
    order_id: uuid.UUID
    appointment: Appointment
    sequence: int
    cancelled: bool
    map_url: str = Field(description="The property on OpenStreetMap, for the photographer")

    @classmethod
    def of(cls, scheduled: ScheduledAppointment, address: str) -> "AppointmentView":
        return cls(
            order_id=scheduled.order_id,
            appointment=scheduled.appointment,
            sequence=scheduled.sequence,
            cancelled=scheduled.cancelled,
            map_url=map_url(address),
        )


class ShootView(BaseModel):
    """One shoot of a day: what the photographer needs on site."""

    order_id: uuid.UUID
    gallery_id: uuid.UUID
    reference: str
    status: str
    property_address: str
    access_notes: str
    contact_name: str
    contact_email: str
    contact_phone: str | None
    appointment: Appointment
    map_url: str

    @classmethod
    def of(cls, order: Order, scheduled: ScheduledAppointment) -> "ShootView":
        return cls(
            order_id=order.id,
            gallery_id=order.gallery_id,
            reference=order.reference,
            status=order.status,
            property_address=order.property_address,
            access_notes=order.access_notes,
            contact_name=order.contact_name,
            contact_email=order.contact_email,
            contact_phone=order.contact_phone,
            appointment=scheduled.appointment,
            map_url=map_url(order.property_address),
        )


def map_url(address: str) -> str:
    return MAP_SEARCH + quote_plus(address)


def appointments_of(request: Request) -> AppointmentBook:
    book: AppointmentBook = request.app.state.appointments
    return book


def orders_of(request: Request) -> OrderBook:
    book: OrderBook = request.app.state.book
    return book


Appointments = Annotated[AppointmentBook, Depends(appointments_of)]
Orders = Annotated[OrderBook, Depends(orders_of)]
router = APIRouter()


@router.get("/orders/{order_id}/appointment")
async def get_appointment(
    orders: Orders, appointments: Appointments, order_id: uuid.UUID, caller: CurrentIdentity
) -> AppointmentView:
    detail = await orders.detail(order_id, caller)
    scheduled = await appointments.of_order(order_id, caller)
    return AppointmentView.of(scheduled, detail.order.property_address)


@router.put("/orders/{order_id}/appointment")
async def set_appointment(
    orders: Orders,
    appointments: Appointments,
    order_id: uuid.UUID,
    body: AppointmentRequest,
    caller: CurrentIdentity,
) -> AppointmentView:
    scheduled = await appointments.schedule(order_id, body.form(), caller)
    detail = await orders.detail(order_id, caller)
    return AppointmentView.of(scheduled, detail.order.property_address)


@router.delete("/orders/{order_id}/appointment")
async def cancel_appointment(
    orders: Orders, appointments: Appointments, order_id: uuid.UUID, caller: CurrentIdentity
) -> AppointmentView:
    scheduled = await appointments.cancel(order_id, caller)
    detail = await orders.detail(order_id, caller)
    return AppointmentView.of(scheduled, detail.order.property_address)


@router.get("/appointments")
async def day_of_shoots(
    appointments: Appointments, caller: CurrentIdentity, day: date
) -> list[ShootView]:
    """The day's shoots: a photographer's own, an administrator's all."""
    return [ShootView.of(s.order, s.scheduled) for s in await appointments.day(day, caller)]


@router.get("/appointments/range")
async def shoots_between(
    appointments: Appointments, caller: CurrentIdentity, start: date, end: date
) -> list[ShootView]:
    """The shoots from `start` to `end` (both included, at most 42 days), by day and start:
    a photographer's own, an administrator's all (the admin's calendar)."""
    return [
        ShootView.of(s.order, s.scheduled) for s in await appointments.between(start, end, caller)
    ]
