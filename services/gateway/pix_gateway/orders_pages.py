"""Order pages: the order form (with address autocomplete), history, detail, and the admin's
day-to-day view of all orders."""

import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_contracts.events import ORDER_STATUSES
from pix_runtime.identity import Identity

from pix_gateway.clients.auth import AuthClient
from pix_gateway.clients.base import NotFound, ServiceError, or_default
from pix_gateway.clients.orders import OrdersClient
from pix_gateway.clients.orders_models import OrderRequest, SuggestionView
from pix_gateway.i18n import translate
from pix_gateway.pages import UI, PageError, PageUI

SERVICES = ("photos", "drone", "tour360", "floorplan", "video")
PROPERTY_TYPES = ("apartment", "house", "commercial", "land")
MARKETING = ("sale", "rent")
WINDOWS = ("morning", "afternoon", "all_day")

TEXT_FIELDS = (
    "contact_name",
    "contact_email",
    "contact_phone",
    "street",
    "house_number",
    "postcode",
    "city",
    "country",
    "property_type",
    "marketing",
    "living_area_m2",
    "rooms",
    "access_notes",
)


def number_or_none(value: str) -> str | None:
    """The number as typed ("94,5"): the orders service reads it, and reports text that is no
    number as one field error among the others."""
    return value.strip() or None


def order_body(form: dict[str, str], multi: dict[str, list[str]], locale: str) -> OrderRequest:
    slots = []
    for n in range(3):
        date = form.get(f"slot_{n}_date", "").strip()
        if date:
            slots.append({"date": date, "window": form.get(f"slot_{n}_window", "all_day")})
    return OrderRequest.model_validate(
        {
            **{k: form.get(k, "").strip() for k in TEXT_FIELDS},
            "living_area_m2": number_or_none(form.get("living_area_m2", "")),
            "rooms": number_or_none(form.get("rooms", "")),
            "services": multi.get("services", []),
            "preferred_slots": slots,
            "locale": locale,
        }
    )


router = APIRouter()


def translated_errors(
    ui: UI, request: Request, me: Identity, error: ServiceError
) -> dict[str, str]:
    locale = ui.locale(request, me)
    fields = error.fields
    if not fields and error.field:
        fields = {error.field: error.code or "invalid"}
    errors = {}
    for field, code in fields.items():
        text = translate(f"field.{code}", locale)
        errors[field.replace("preferred_slots.", "slot_").replace(".", "_")] = (
            text if text != f"field.{code}" else translate("field.invalid", locale)
        )
    return errors


async def order_form(
    ui: UI,
    request: Request,
    me: Identity,
    *,
    status: int = 200,
    form: dict[str, Any] | None = None,
    **ctx: Any,
) -> Response:
    prices = await or_default(OrdersClient(ui.backend, me).price_list(), [])
    defaults = {
        "contact_name": me.name,
        "contact_email": me.email,
        "country": "DE",
        "property_type": "apartment",
        "services": ["photos"],
    }
    return ui.render(
        request,
        "orders/new.html",
        me,
        status=status,
        page="orders",
        prices=prices,
        form=form or defaults,
        idempotency_key=ctx.pop("idempotency_key", uuid.uuid4().hex),
        places_session=uuid.uuid4().hex,
        property_types=PROPERTY_TYPES,
        marketings=MARKETING,
        windows=WINDOWS,
        **ctx,
    )


@router.get("/orders/new", response_class=HTMLResponse)
async def new_order(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    if me.email_verified or me.is_admin:
        return await order_form(ui, request, me)
    return await order_form(
        ui,
        request,
        me,
        message=translate("error.email_unverified", ui.locale(request, me)),
        message_kind="error",
    )


@router.post("/orders/new", response_class=HTMLResponse)
async def place_order(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    multi = await multi_values(request)
    me = await ui.signed_in(request)
    try:
        order = await OrdersClient(ui.backend, me).place_order(
            order_body(form, multi, ui.locale(request, me)),
            idempotency_key=form.get("idempotency_key", "")[:100],
        )
    except ServiceError as refusal:
        return await refused_order(ui, request, me, form, multi, refusal)
    return RedirectResponse(f"/orders/{order.id}?placed=1", status_code=303)


async def refused_order(
    ui: UI,
    request: Request,
    me: Identity,
    form: dict[str, str],
    multi: dict[str, list[str]],
    refusal: ServiceError,
) -> Response:
    errors = translated_errors(ui, request, me, refusal)
    code = refusal.code
    message = None
    if not errors:
        known = translate(f"error.{code}", ui.locale(request, me))
        message = (
            known if known != f"error.{code}" else translate("error.503", ui.locale(request, me))
        )
    return await order_form(
        ui,
        request,
        me,
        status=refusal.status if refusal.status < 500 else 503,
        form={**form, "services": multi.get("services", [])},
        errors=errors,
        message=message,
        message_kind="error",
        idempotency_key=form.get("idempotency_key") or uuid.uuid4().hex,
    )


@router.get("/orders/address-suggestions", response_class=HTMLResponse)
async def address_suggestions(
    ui: PageUI, request: Request, street: str = "", session: str = ""
) -> Response:
    me = await ui.signed_in(request)
    suggestions: list[SuggestionView] = []
    if len(street.strip()) >= 3:
        suggestions = await or_default(
            OrdersClient(ui.backend, me).suggest_addresses(street, session), []
        )
    return ui.render(
        request,
        "partials/address_suggestions.html",
        me,
        suggestions=suggestions,
        session=session,
    )


@router.get("/orders/address-fill", response_class=HTMLResponse)
async def address_fill(
    ui: PageUI, request: Request, place_id: str = "", session: str = ""
) -> Response:
    me = await ui.signed_in(request)
    address = await or_default(OrdersClient(ui.backend, me).address(place_id, session), None)
    return ui.render(
        request,
        "partials/address_fields.html",
        me,
        # The form's fields, filled from the address (empty when Places had none).
        form=address.model_dump() if address else {},
        places_session=uuid.uuid4().hex,
    )


@router.get("/orders", response_class=HTMLResponse)
async def order_history(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    orders = await or_default(OrdersClient(ui.backend, me).list_orders(), [])
    return ui.render(request, "orders/list.html", me, page="orders", orders=orders)


async def order_detail(
    ui: UI, request: Request, me: Identity, order_id: str, **ctx: Any
) -> Response:
    try:
        order = await OrdersClient(ui.backend, me).get_order(order_id)
    except NotFound as exc:
        raise PageError(404, "error.404") from exc
    except ServiceError as exc:
        raise PageError(503, "error.503") from exc
    message = None
    if request.query_params.get("placed"):
        message = translate("orders.placed", ui.locale(request, me), reference=order.reference)
    return ui.render(
        request,
        "orders/detail.html",
        me,
        page="orders",
        order=order,
        message=message,
        message_kind="ok",
        statuses=ORDER_STATUSES,
        **ctx,
    )


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def show_order(ui: PageUI, order_id: str, request: Request) -> Response:
    return await order_detail(ui, request, await ui.signed_in(request), order_id)


@router.post("/orders/{order_id}/status")
async def change_status(ui: PageUI, order_id: str, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    back = form.get("back", "")
    target = back if back.startswith("/admin/orders") else f"/orders/{order_id}"
    try:
        await OrdersClient(ui.backend, me).change_status(
            order_id, form.get("status", ""), form.get("note") or None
        )
    except ServiceError as refusal:
        message = translate(f"error.{refusal.code or 'invalid'}", ui.locale(request, me))
        return await order_detail(ui, request, me, order_id, error_message=message)
    return RedirectResponse(target, status_code=303)


@router.post("/orders/{order_id}/notes")
async def add_note(ui: PageUI, order_id: str, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    # A refused note (empty, too long) leaves the page as it was, as it always did.
    await or_default(OrdersClient(ui.backend, me).add_note(order_id, form.get("text", "")), None)
    return RedirectResponse(f"/orders/{order_id}", status_code=303)


@router.get("/admin/orders", response_class=HTMLResponse)
async def admin_orders(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    if not me.is_admin:
        raise PageError(404, "error.404")
    filters = {
        k: request.query_params.get(k, "")
        for k in ("status", "q", "org_id", "placed_from", "placed_to")
    }
    query = urlencode({k: v for k, v in filters.items() if v})
    orders = await or_default(OrdersClient(ui.backend, me).list_orders(filters), [])
    orgs = await or_default(AuthClient(ui.backend, me).organisations(), [])
    return ui.render(
        request,
        "admin/orders.html",
        me,
        page="admin",
        orders=orders,
        filters=filters,
        query=query,
        statuses=ORDER_STATUSES,
        organisations=orgs,
    )


@router.get("/admin/orders.csv")
async def admin_orders_csv(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    if not me.is_admin:
        raise PageError(404, "error.404")
    response = await ui.backend.call(
        "GET", "orders", f"/orders.csv?{request.url.query}", identity=me
    )
    return Response(
        response.content,
        status_code=response.status_code,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="orders.csv"'},
    )


async def multi_values(request: Request) -> dict[str, list[str]]:
    """Repeated form fields (checkboxes) as lists; the body is already read and cached."""
    return parse_qs((await request.body()).decode("utf-8", errors="replace"))
