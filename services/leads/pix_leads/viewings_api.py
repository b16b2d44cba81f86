"""HTTP routes of viewings and the agent's calendar.

`router`: for signed-in members (the gateway proxies /api/leads/*): connect, set the working
hours of and disconnect one's CalDAV calendar, book, move and cancel a lead's viewings, read
free slots. `public_router`: under /public/viewings/ (no session; the gateway passes
/api/leads/public/* through), the lead's page of offered slots behind a signed, expiring token.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pix_runtime.http import CurrentIdentity

from pix_leads.viewings import (
    CalendarConnect,
    CalendarStatus,
    CalendarView,
    PublicOffer,
    PublicPick,
    PublicViewing,
    Slot,
    Viewing,
    ViewingChange,
    ViewingForm,
    Viewings,
    WorkingHours,
)


def _viewings(request: Request) -> Viewings:
    viewings: Viewings = request.app.state.viewings
    return viewings


ViewingsDep = Annotated[Viewings, Depends(_viewings)]

router = APIRouter()
public_router = APIRouter(prefix="/public/viewings")


@router.get("/calendar")
async def get_calendar(identity: CurrentIdentity, viewings: ViewingsDep) -> CalendarStatus:
    return await viewings.calendar(identity)


@router.put("/calendar")
async def connect_calendar(
    identity: CurrentIdentity, viewings: ViewingsDep, form: CalendarConnect
) -> CalendarView:
    """Connect (or replace) the caller's CalDAV calendar; the password is checked by signing
    in and stored sealed."""
    return await viewings.connect(identity, form)


@router.put("/calendar/hours")
async def set_working_hours(
    identity: CurrentIdentity, viewings: ViewingsDep, hours: WorkingHours
) -> CalendarView:
    return await viewings.set_hours(identity, hours)


@router.delete("/calendar", status_code=204)
async def disconnect_calendar(identity: CurrentIdentity, viewings: ViewingsDep) -> Response:
    await viewings.disconnect(identity)
    return Response(status_code=204)


@router.get("/calendar/slots")
async def own_free_slots(identity: CurrentIdentity, viewings: ViewingsDep) -> list[Slot]:
    return await viewings.free_slots(identity)


@router.get("/leads/{lead_id}/viewings")
async def lead_viewings(
    identity: CurrentIdentity, viewings: ViewingsDep, lead_id: uuid.UUID
) -> list[Viewing]:
    return await viewings.of_lead(lead_id, identity)


@router.post("/leads/{lead_id}/viewings", status_code=201)
async def book_viewing(
    identity: CurrentIdentity, viewings: ViewingsDep, lead_id: uuid.UUID, form: ViewingForm
) -> Viewing:
    """Book a viewing: stored, into the agent's calendar, the invitation to the lead, and the
    lead BOOKED."""
    return await viewings.book(lead_id, form, identity)


@router.get("/leads/{lead_id}/viewing-slots")
async def lead_free_slots(
    identity: CurrentIdentity, viewings: ViewingsDep, lead_id: uuid.UUID
) -> list[Slot]:
    return await viewings.free_slots(identity, lead_id)


@router.get("/viewings/{viewing_id}")
async def get_viewing(
    identity: CurrentIdentity, viewings: ViewingsDep, viewing_id: uuid.UUID
) -> Viewing:
    return await viewings.get(viewing_id, identity)


@router.patch("/viewings/{viewing_id}")
async def move_viewing(
    identity: CurrentIdentity, viewings: ViewingsDep, viewing_id: uuid.UUID, change: ViewingChange
) -> Viewing:
    """Another time or place: SEQUENCE+1 and a new invitation."""
    return await viewings.reschedule(viewing_id, change, identity)


@router.post("/viewings/{viewing_id}/cancel")
async def cancel_viewing(
    identity: CurrentIdentity, viewings: ViewingsDep, viewing_id: uuid.UUID
) -> Viewing:
    return await viewings.cancel(viewing_id, identity)


@public_router.get("/{token}")
async def viewing_offer(viewings: ViewingsDep, token: str) -> PublicOffer:
    return await viewings.offer(token)


@public_router.post("/{token}", status_code=201)
async def pick_viewing(viewings: ViewingsDep, token: str, pick: PublicPick) -> PublicViewing:
    return await viewings.pick(token, pick)
