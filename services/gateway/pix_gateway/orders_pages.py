"""Order pages: the order form (with address autocomplete), history, detail, and the admin's
day-to-day view of all orders."""

import uuid
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_contracts.events import ORDER_STATUSES
from pix_runtime.identity import Identity

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


def order_body(form: dict[str, str], multi: dict[str, list[str]], locale: str) -> dict[str, Any]:
    slots = []
    for n in range(3):
        date = form.get(f"slot_{n}_date", "").strip()
        if date:
            slots.append({"date": date, "window": form.get(f"slot_{n}_window", "all_day")})
    return {
        **{k: form.get(k, "").strip() for k in TEXT_FIELDS},
        "living_area_m2": number_or_none(form.get("living_area_m2", "")),
        "rooms": number_or_none(form.get("rooms", "")),
        "services": multi.get("services", []),
        "preferred_slots": slots,
        "locale": locale,
    }


router = APIRouter()


def translated_errors(
    ui: UI, request: Request, me: Identity, body: dict[str, Any]
) -> dict[str, str]:
    locale = ui.locale(request, me)
    fields = body.get("error", {}).get("fields") or {}
    if not fields and body.get("error", {}).get("field"):
        fields = {body["error"]["field"]: body["error"].get("code", "invalid")}
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
    prices = await ui.json(await ui.backend.call("GET", "orders", "/price-list", identity=me), [])
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
    body = order_body(form, multi, ui.locale(request, me))
    response = await ui.backend.call(
        "POST",
        "orders",
        "/orders",
        identity=me,
        json=body,
        headers={"Idempotency-Key": form.get("idempotency_key", "")[:100]},
    )
    if response.status_code in (200, 201):
        order = response.json()
        return RedirectResponse(f"/orders/{order['id']}?placed=1", status_code=303)
    body = ui_json(response)
    errors = translated_errors(ui, request, me, body)
    code = body.get("error", {}).get("code", "")
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
        status=response.status_code if response.status_code < 500 else 503,
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
    suggestions: list[dict[str, Any]] = []
    if len(street.strip()) >= 3:
        query = urlencode({"input": street, "session_token": session})
        suggestions = await ui.json(
            await ui.backend.call("GET", "orders", f"/places/autocomplete?{query}", identity=me),
            [],
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
    query = urlencode({"session_token": session})
    address = await ui.json(
        await ui.backend.call(
            "GET", "orders", f"/places/{quote(place_id, safe='')}?{query}", identity=me
        ),
        {},
    )
    return ui.render(
        request,
        "partials/address_fields.html",
        me,
        form=address,
        places_session=uuid.uuid4().hex,
    )


@router.get("/orders", response_class=HTMLResponse)
async def order_history(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    orders = await ui.json(await ui.backend.call("GET", "orders", "/orders", identity=me), [])
    return ui.render(request, "orders/list.html", me, page="orders", orders=orders)


async def order_detail(
    ui: UI, request: Request, me: Identity, order_id: str, **ctx: Any
) -> Response:
    response = await ui.backend.call(
        "GET", "orders", f"/orders/{quote(order_id, safe='')}", identity=me
    )
    if response.status_code == 404:
        raise PageError(404, "error.404")
    if not response.is_success:
        raise PageError(503, "error.503")
    order = response.json()
    message = None
    if request.query_params.get("placed"):
        message = translate("orders.placed", ui.locale(request, me), reference=order["reference"])
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
    response = await ui.backend.call(
        "POST",
        "orders",
        f"/orders/{quote(order_id, safe='')}/status",
        identity=me,
        json={"status": form.get("status", ""), "note": form.get("note") or None},
    )
    back = form.get("back", "")
    target = back if back.startswith("/admin/orders") else f"/orders/{order_id}"
    if not response.is_success:
        code = ui_json(response).get("error", {}).get("code", "invalid")
        message = translate(f"error.{code}", ui.locale(request, me))
        return await order_detail(ui, request, me, order_id, error_message=message)
    return RedirectResponse(target, status_code=303)


@router.post("/orders/{order_id}/notes")
async def add_note(ui: PageUI, order_id: str, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    await ui.backend.call(
        "POST",
        "orders",
        f"/orders/{quote(order_id, safe='')}/notes",
        identity=me,
        json={"text": form.get("text", "")},
    )
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
    orders = await ui.json(
        await ui.backend.call("GET", "orders", f"/orders?{query}", identity=me), []
    )
    orgs = await ui.json(
        await ui.backend.call("GET", "auth", "/admin/organisations", identity=me), []
    )
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


def ui_json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def multi_values(request: Request) -> dict[str, list[str]]:
    """Repeated form fields (checkboxes) as lists; the body is already read and cached."""
    return parse_qs((await request.body()).decode("utf-8", errors="replace"))
