"""Viewing pages: on a lead's page the viewings with their state and the "Besichtigung planen"
form (an HTMX fragment), the agent's CalDAV calendar under the leads settings (connect,
working hours, disconnect), and the lead's own public page (no account; the signed link from
the acknowledgement) where they pick one of the agent's free slots, German or English, made
for a phone."""

from __future__ import annotations

import uuid
from datetime import date
from itertools import groupby
from typing import Any
from urllib.parse import parse_qsl

from babel.dates import format_date
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pix_gateway.clients.base import NotFound, ServiceError
from pix_gateway.clients.leads_models import CalendarStatus, Slot, Viewing
from pix_gateway.clients.viewings import ViewingsClient
from pix_gateway.i18n import LOCALES, Locale, translate
from pix_gateway.pages import PageError, PageUI, served

router = APIRouter()
WEEKDAYS = (1, 2, 3, 4, 5, 6, 7)
# Refusals the pages explain in words of their own; anything else is "invalid".
KNOWN_ERRORS = (
    "calendar_auth",
    "calendar_missing",
    "calendar_unreachable",
    "in_past",
    "lead_lost",
    "slot_taken",
    "already_booked",
    "not_offered",
    "expired",
    "closed",
    "no_calendar",
    "cancelled",
)


def _error_key(refusal: ServiceError) -> str:
    return f"viewings.error.{refusal.code if refusal.code in KNOWN_ERRORS else 'invalid'}"


def _hhmm(value: str) -> str:
    return value[:5]


# --- on the lead's page -----------------------------------------------------------------------


@router.get("/leads/{lead_id}/viewings", response_class=HTMLResponse)
async def lead_viewings(ui: PageUI, request: Request, lead_id: uuid.UUID) -> Response:
    """The fragment the lead page loads: its viewings and the booking form."""
    me = await ui.signed_in(request)
    client = ViewingsClient(ui.backend, me)
    try:
        viewings: list[Viewing] = await served(client.of_lead(str(lead_id)))
    except NotFound as exc:
        raise PageError(404, "error.404") from exc
    try:
        calendar: CalendarStatus | None = await served(client.calendar())
    except ServiceError:
        calendar = None
    error = request.query_params.get("viewing_error", "")
    done = request.query_params.get("viewing", "")
    return ui.render(
        request,
        "viewings/lead_viewings.html",
        me,
        lead_id=str(lead_id),
        viewings=viewings,
        calendar=calendar.calendar if calendar is not None else None,
        hhmm=_hhmm,
        viewing_error=f"viewings.error.{error}" if error in (*KNOWN_ERRORS, "invalid") else None,
        viewing_done=f"viewings.done.{done}" if done in ("booked", "move", "cancel") else None,
        today=date.today().isoformat(),
    )


def _back(lead_id: str, *, error: str | None = None, done: str | None = None) -> Response:
    query = f"?viewing_error={error}" if error else (f"?viewing={done}" if done else "")
    return RedirectResponse(f"/leads/{lead_id}{query}#viewings", status_code=303)


@router.post("/leads/{lead_id}/viewings", response_class=HTMLResponse)
async def book_viewing(ui: PageUI, request: Request, lead_id: uuid.UUID) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    body: dict[str, Any] = {"date": form.get("date", ""), "start": form.get("start", "")}
    if form.get("end", "").strip():
        body["end"] = form["end"].strip()
    if form.get("place", "").strip():
        body["place"] = form["place"].strip()[:500]
    try:
        await served(ViewingsClient(ui.backend, me).book(str(lead_id), body))
    except NotFound as exc:
        raise PageError(404, "error.404") from exc
    except ServiceError as refusal:
        return _back(str(lead_id), error=_error_key(refusal).rsplit(".", 1)[-1])
    return _back(str(lead_id), done="booked")


@router.post("/viewings/{viewing_id}/{action}", response_class=HTMLResponse)
async def change_viewing(
    ui: PageUI, request: Request, viewing_id: uuid.UUID, action: str
) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    client = ViewingsClient(ui.backend, me)
    lead_id = form.get("lead_id", "")
    try:
        uuid.UUID(lead_id)
    except ValueError as exc:
        raise PageError(404, "error.404") from exc
    try:
        if action == "cancel":
            await served(client.cancel(str(viewing_id)))
        elif action == "move":
            body = {k: form[k].strip() for k in ("date", "start", "end") if form.get(k, "").strip()}
            await served(client.move(str(viewing_id), body))
        else:
            raise PageError(404, "error.404")
    except NotFound as exc:
        raise PageError(404, "error.404") from exc
    except ServiceError as refusal:
        return _back(lead_id, error=_error_key(refusal).rsplit(".", 1)[-1])
    return _back(lead_id, done=action)


# --- the agent's calendar (leads settings) ----------------------------------------------------


@router.get("/leads/settings/calendar", response_class=HTMLResponse)
async def calendar_panel(ui: PageUI, request: Request) -> Response:
    """The fragment on the leads settings page."""
    me = await ui.signed_in(request)
    try:
        status: CalendarStatus | None = await served(ViewingsClient(ui.backend, me).calendar())
    except ServiceError:
        status = None
    error = request.query_params.get("calendar_error", "")
    done = request.query_params.get("calendar", "")
    return ui.render(
        request,
        "viewings/calendar_panel.html",
        me,
        calendar=status.calendar if status is not None else None,
        unavailable=status is None,
        weekdays=WEEKDAYS,
        hhmm=_hhmm,
        calendar_error=f"viewings.error.{error}" if error in (*KNOWN_ERRORS, "invalid") else None,
        calendar_done=f"viewings.calendar_done.{done}"
        if done in ("connected", "saved", "disconnected")
        else None,
    )


def _settings(*, error: str | None = None, done: str | None = None) -> Response:
    query = f"?calendar_error={error}" if error else (f"?calendar={done}" if done else "")
    return RedirectResponse(f"/leads/settings{query}#calendar", status_code=303)


def _hours(form: dict[str, str], days: list[int]) -> dict[str, Any]:
    hours: dict[str, Any] = {"days": days}
    for key in ("start", "end"):
        if form.get(key, "").strip():
            hours[key] = form[key].strip()
    if form.get("slot_minutes", "").strip().isdigit():
        hours["slot_minutes"] = int(form["slot_minutes"])
    return hours


async def _days_of(request: Request) -> list[int]:
    """The ticked weekdays (a form posts each box as its own `day` field)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return sorted({int(v) for k, v in parse_qsl(body) if k == "day" and v in "1234567" and v})


@router.post("/leads/settings/calendar", response_class=HTMLResponse)
async def connect_calendar(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    body: dict[str, Any] = {
        "url": form.get("url", "").strip(),
        "username": form.get("username", "").strip(),
        "password": form.get("password", ""),
        "hours": _hours(form, await _days_of(request) or [1, 2, 3, 4, 5]),
    }
    try:
        await served(ViewingsClient(ui.backend, me).connect(body))
    except ServiceError as refusal:
        return _settings(error=_error_key(refusal).rsplit(".", 1)[-1])
    return _settings(done="connected")


@router.post("/leads/settings/calendar/hours", response_class=HTMLResponse)
async def save_hours(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    try:
        await served(
            ViewingsClient(ui.backend, me).set_hours(_hours(form, await _days_of(request)))
        )
    except ServiceError as refusal:
        return _settings(error=_error_key(refusal).rsplit(".", 1)[-1])
    return _settings(done="saved")


@router.post("/leads/settings/calendar/disconnect", response_class=HTMLResponse)
async def disconnect_calendar(ui: PageUI, request: Request) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    try:
        await served(ViewingsClient(ui.backend, me).disconnect())
    except ServiceError as refusal:
        return _settings(error=_error_key(refusal).rsplit(".", 1)[-1])
    return _settings(done="disconnected")


# --- the lead's own page ----------------------------------------------------------------------


def _page_locale(request: Request, offered: Locale) -> Locale:
    chosen = request.cookies.get("lang")
    return chosen if chosen in LOCALES else offered


def _days(slots: list[Slot], locale: Locale) -> list[tuple[str, list[Slot]]]:
    pattern = "EEEE, d. MMMM" if locale == "de" else "EEEE, d MMMM"
    return [
        (format_date(day, pattern, locale=locale), list(group))
        for day, group in groupby(slots, key=lambda s: s.day)
    ]


async def _offer_page(
    ui: PageUI, request: Request, token: str, *, status: int = 200, **ctx: Any
) -> Response:
    client = ViewingsClient(ui.backend, None)
    try:
        offer = await served(client.offer(token))
    except NotFound as exc:
        raise PageError(404, "viewings.public.unknown") from exc
    except ServiceError as refusal:
        locale = _page_locale(request, "de")
        return _render_public(
            ui, request, locale, status=refusal.status, offer=None, error=_error_key(refusal)
        )
    locale = _page_locale(request, offer.locale)
    return _render_public(
        ui,
        request,
        locale,
        status=status,
        offer=offer,
        days=_days(offer.slots, locale),
        token=token,
        **ctx,
    )


def _render_public(
    ui: PageUI, request: Request, locale: Locale, *, status: int = 200, **ctx: Any
) -> Response:
    def t(key: str, **values: object) -> str:
        return translate(key, locale, **values)

    def long_day(value: date) -> str:
        pattern = "EEEE, d. MMMM yyyy" if locale == "de" else "EEEE, d MMMM yyyy"
        return format_date(value, pattern, locale=locale)

    response = ui.render(
        request,
        "viewings/public.html",
        None,
        status=status,
        locale=locale,
        t=t,
        long_day=long_day,
        hhmm=_hhmm,
        **ctx,
    )
    # The lead's own offer: no shared cache keeps it.
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/viewing/{token}", response_class=HTMLResponse)
async def viewing_offer(ui: PageUI, request: Request, token: str) -> Response:
    return await _offer_page(ui, request, token[:300])


@router.post("/viewing/{token}", response_class=HTMLResponse)
async def pick_viewing(ui: PageUI, request: Request, token: str) -> Response:
    form = await ui.form_of(request)
    token = token[:300]
    client = ViewingsClient(ui.backend, None)
    try:
        booked = await served(client.pick(token, form.get("starts_at", "")[:40]))
    except NotFound as exc:
        raise PageError(404, "viewings.public.unknown") from exc
    except ServiceError as refusal:
        # Shown above the slots that are still free (a 409: the slot was taken meanwhile).
        return await _offer_page(
            ui, request, token, status=refusal.status, error=_error_key(refusal)
        )
    offer = await served(client.offer(token))
    locale = _page_locale(request, offer.locale)
    return _render_public(ui, request, locale, offer=offer, booked_now=booked, token=token)
