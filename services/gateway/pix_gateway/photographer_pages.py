"""The photographer's day ("Mein Tag", /photographer): today's shoots assigned to them, by
start, with address, access notes, the client's contact, a map link and the gallery to upload
into. Administrators see every photographer's shoots of the day."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pix_gateway.clients.appointments import AppointmentsClient
from pix_gateway.pages import PageError, PageUI, served

BERLIN = ZoneInfo("Europe/Berlin")

router = APIRouter()


@router.get("/photographer", response_class=HTMLResponse)
async def my_day(ui: PageUI, request: Request, day: date | None = None) -> Response:
    me = await ui.signed_in(request)
    if me.role not in ("photographer", "admin"):
        raise PageError(404, "error.404")
    wanted = day or datetime.now(BERLIN).date()
    shoots = await served(AppointmentsClient(ui.backend, me).day(wanted))
    return ui.render(
        request, "photographer/day.html", me, page="photographer", shoot_day=wanted, shoots=shoots
    )
