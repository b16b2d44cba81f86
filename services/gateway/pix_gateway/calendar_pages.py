"""The admin's calendar of appointments (/admin/calendar) and the form that schedules an order's
shoot (/admin/orders/{id}/appointment).

The calendar is a server-rendered grid, no script: the day view has a column per photographer,
the week view a column per day (Monday to Sunday); each shoot sits in its column at its time
window, in half hours, and links to its order. On a phone the columns stack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway import formats
from pix_gateway.clients.appointments import AppointmentsClient
from pix_gateway.clients.auth import AuthClient
from pix_gateway.clients.auth_models import UserSummary
from pix_gateway.clients.base import ServiceError, or_default
from pix_gateway.clients.orders import OrdersClient
from pix_gateway.clients.orders_models import AppointmentView, OrderDetailView, ShootView
from pix_gateway.i18n import Locale, translate
from pix_gateway.pages import UI, PageError, PageUI, served

BERLIN = ZoneInfo("Europe/Berlin")
# The grid shows at least these hours; a shoot outside them widens it.
FIRST_HOUR, LAST_HOUR = 7, 20
SLOT_MINUTES = 30
View = Literal["day", "week"]

router = APIRouter()


@dataclass(frozen=True)
class Placed:
    """A shoot in its column: from half hour `at` (0 = the grid's first hour) for `span`."""

    shoot: ShootView
    at: int
    span: int
    starts: str
    ends: str


@dataclass
class Column:
    key: str
    title: str
    subtitle: str = ""
    today: bool = False
    shoots: list[Placed] = field(default_factory=list)


@dataclass(frozen=True)
class Grid:
    first_hour: int
    hours: list[str]
    slots: int
    columns: list[Column]


def berlin_today() -> date:
    return datetime.now(BERLIN).date()


def minutes(moment: str) -> int:
    hours, mins = moment.split(":")[:2]
    return int(hours) * 60 + int(mins)


def grid_of(columns: list[Column], shoots: list[tuple[str, ShootView]]) -> Grid:
    """Place each (column key, shoot) in its column by its time window."""
    earliest = min([FIRST_HOUR * 60, *(minutes(s.appointment.starts_at) for _, s in shoots)])
    latest = max([LAST_HOUR * 60, *(minutes(s.appointment.ends_at) for _, s in shoots)])
    first_hour, last_hour = earliest // 60, min(24, math.ceil(latest / 60))
    by_key = {c.key: c for c in columns}
    for key, shoot in shoots:
        start = minutes(shoot.appointment.starts_at) - first_hour * 60
        end = minutes(shoot.appointment.ends_at) - first_hour * 60
        at = start // SLOT_MINUTES
        span = max(1, math.ceil(end / SLOT_MINUTES) - at)
        by_key[key].shoots.append(
            Placed(
                shoot=shoot,
                at=at,
                span=span,
                starts=shoot.appointment.starts_at[:5],
                ends=shoot.appointment.ends_at[:5],
            )
        )
    return Grid(
        first_hour=first_hour,
        hours=[f"{h:02d}:00" for h in range(first_hour, last_hour)],
        slots=(last_hour - first_hour) * 60 // SLOT_MINUTES,
        columns=columns,
    )


def photographer_columns(
    photographers: list[UserSummary], shoots: list[ShootView], unknown: str
) -> list[Column]:
    """One column per photographer, and one for each photographer a shoot names whom the user
    list does not know (gone since, or auth did not answer)."""
    columns = [Column(key=p.id, title=p.name, subtitle=p.email) for p in photographers]
    known = {p.id for p in photographers}
    for s in shoots:
        if s.appointment.photographer_id not in known:
            known.add(s.appointment.photographer_id)
            title = s.appointment.photographer_name or unknown
            columns.append(Column(key=s.appointment.photographer_id, title=title))
    return columns


async def admin(ui: UI, request: Request) -> Identity:
    me = await ui.signed_in(request)
    if not me.is_admin:
        raise PageError(404, "error.404")
    return me


async def photographers_of(ui: UI, me: Identity) -> list[UserSummary]:
    users = await or_default(AuthClient(ui.backend, me).users(), [])
    return sorted((u for u in users if u.role == "photographer"), key=lambda u: u.name.lower())


@router.get("/admin/calendar", response_class=HTMLResponse)
async def calendar(
    ui: PageUI, request: Request, view: View = "day", day: date | None = None
) -> Response:
    me = await admin(ui, request)
    locale = ui.locale(request, me)
    today = berlin_today()
    shown = day or today
    first = shown if view == "day" else shown - timedelta(days=shown.weekday())
    last = first if view == "day" else first + timedelta(days=6)
    shoots = await served(AppointmentsClient(ui.backend, me).between(first, last))
    if view == "day":
        photographers = await photographers_of(ui, me)
        columns = photographer_columns(
            photographers, shoots, translate("calendar.unknown_photographer", locale)
        )
        grid = grid_of(columns, [(s.appointment.photographer_id, s) for s in shoots])
        step = timedelta(days=1)
    else:
        days = [first + timedelta(days=n) for n in range(7)]
        columns = [
            Column(
                key=d.isoformat(),
                title=translate(f"calendar.weekday.{d.weekday()}", locale),
                subtitle=formats.day(d, locale),
                today=d == today,
            )
            for d in days
        ]
        grid = grid_of(columns, [(s.appointment.date.isoformat(), s) for s in shoots])
        step = timedelta(days=7)
    return ui.render(
        request,
        "admin/calendar.html",
        me,
        page="admin",
        view=view,
        shown=shown,
        first=first,
        last=last,
        week_number=first.isocalendar().week,
        previous=(shown - step).isoformat(),
        following=(shown + step).isoformat(),
        today=today.isoformat(),
        grid=grid,
        shoot_count=len(shoots),
    )


async def order_or_404(ui: UI, me: Identity, order_id: str) -> OrderDetailView:
    try:
        return await OrdersClient(ui.backend, me).get_order(order_id)
    except ServiceError as exc:
        if exc.status in (403, 404, 422):
            raise PageError(404, "error.404") from exc
        raise PageError(503, "error.503") from exc


async def schedule_page(
    ui: UI,
    request: Request,
    me: Identity,
    order_id: str,
    *,
    values: dict[str, str] | None = None,
    status: int = 200,
    **ctx: Any,
) -> Response:
    order = await order_or_404(ui, me, order_id)
    current: AppointmentView | None = await or_default(
        AppointmentsClient(ui.backend, me).of_order(order_id), None
    )
    photographers = await photographers_of(ui, me)
    if values is None:
        live = current if current and not current.cancelled else None
        first_slot = order.preferred_slots[0].date.isoformat() if order.preferred_slots else ""
        values = {
            "date": live.appointment.date.isoformat() if live else first_slot,
            "starts_at": live.appointment.starts_at[:5] if live else "09:00",
            "ends_at": live.appointment.ends_at[:5] if live else "11:00",
            "photographer_id": live.appointment.photographer_id if live else "",
        }
    return ui.render(
        request,
        "admin/appointment.html",
        me,
        status=status,
        page="admin",
        order=order,
        current=current,
        photographers=photographers,
        values=values,
        **ctx,
    )


@router.get("/admin/orders/{order_id}/appointment", response_class=HTMLResponse)
async def schedule_form(ui: PageUI, request: Request, order_id: str) -> Response:
    me = await admin(ui, request)
    message = None
    if request.query_params.get("cancelled"):
        message = translate("appointment.cancelled_notice", ui.locale(request, me))
    return await schedule_page(ui, request, me, order_id, message=message, message_kind="ok")


def form_errors(form: dict[str, str], locale: Locale) -> dict[str, str]:
    errors = {}
    for name in ("date", "starts_at", "ends_at", "photographer_id"):
        if not form.get(name, "").strip():
            errors[name] = translate("appointment.required", locale)
    return errors


@router.post("/admin/orders/{order_id}/appointment")
async def schedule(ui: PageUI, request: Request, order_id: str) -> Response:
    form = await ui.form_of(request)
    me = await admin(ui, request)
    locale = ui.locale(request, me)
    errors = form_errors(form, locale)
    parsed: tuple[date, time, time] | None = None
    if not errors:
        try:
            parsed = (
                date.fromisoformat(form["date"]),
                time.fromisoformat(form["starts_at"]),
                time.fromisoformat(form["ends_at"]),
            )
        except ValueError:
            errors["date"] = translate("error.invalid", locale)
    if errors or parsed is None:
        return await schedule_page(
            ui, request, me, order_id, values=form, status=422, errors=errors
        )
    chosen = {p.id: p for p in await photographers_of(ui, me)}.get(form["photographer_id"])
    if chosen is None:
        errors["photographer_id"] = translate("appointment.unknown_photographer", locale)
        return await schedule_page(
            ui, request, me, order_id, values=form, status=422, errors=errors
        )
    day, starts_at, ends_at = parsed
    try:
        await AppointmentsClient(ui.backend, me).schedule(
            order_id,
            day=day,
            starts_at=starts_at,
            ends_at=ends_at,
            photographer_id=chosen.id,
            photographer_email=chosen.email,
            photographer_name=chosen.name,
        )
    except ServiceError as refusal:
        if refusal.status == 404:
            raise PageError(404, "error.404") from refusal
        return await schedule_page(
            ui, request, me, order_id, values=form, **ui.refusal(request, me, refusal, "date")
        )
    return RedirectResponse(f"/admin/calendar?view=day&day={day.isoformat()}", status_code=303)


@router.post("/admin/orders/{order_id}/appointment/cancel")
async def cancel(ui: PageUI, request: Request, order_id: str) -> Response:
    await ui.form_of(request)
    me = await admin(ui, request)
    order = await order_or_404(ui, me, order_id)
    await or_default(AppointmentsClient(ui.backend, me).cancel(order.id), None)
    return RedirectResponse(f"/admin/orders/{order.id}/appointment?cancelled=1", status_code=303)
