"""Billing pages: the organisation's billing page (`/billing`: licence, trial, subscribe through
Stripe Checkout, the customer portal, invoices with their PDFs, billing address and VAT id),
the banner every signed-in page loads while the CRM licence is inactive (`/billing/banner`, an
HTMX fragment) and the admin's figures (`/admin/billing`). With billing off the pages say what
to set. Stripe's pages are reached by a link (the CSP's `form-action 'self'` would stop a form's
redirect to Stripe)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.clients.base import NotFound, ServiceError, Unavailable, or_default
from pix_gateway.clients.billing import BillingClient
from pix_gateway.clients.billing_models import Licence
from pix_gateway.formats import money_cents
from pix_gateway.i18n import translate
from pix_gateway.pages import UI, PageError, PageUI

# The page's texts: `billing.<key>` in the gateway's catalogues.
TEXT_KEYS = (
    "title",
    "licence",
    "plan",
    "status",
    "seats",
    "per_seat",
    "trial_ends",
    "period_ends",
    "status.trialing",
    "status.active",
    "status.past_due",
    "status.unpaid",
    "status.canceled",
    "status.incomplete",
    "status.expired",
    "subscribe",
    "portal",
    "continue",
    "continue_text",
    "checkout_done",
    "checkout_cancelled",
    "invoices",
    "no_invoices",
    "number",
    "date",
    "net",
    "vat",
    "gross",
    "pdf",
    "pay",
    "invoice.open",
    "invoice.paid",
    "invoice.void",
    "invoice.waived",
    "invoice.uncollectible",
    "address",
    "company",
    "email",
    "street",
    "postcode",
    "city",
    "country",
    "vat_id",
    "vat_hint",
    "save",
    "saved",
    "invalid",
    "vat_id_invalid",
    "banner",
    "banner_link",
    "off_title",
    "off_text",
    "unavailable",
    "admin_title",
    "revenue",
    "month",
    "count",
    "open_invoices",
    "failed",
    "past_due",
    "trials",
    "organisation",
    "due",
    "none",
    "mark_paid",
    "waive",
)
OFF_SETTINGS = {
    "STRIPE_API_KEY": "sk_live_… / sk_test_…",
    "STRIPE_WEBHOOK_SECRET": (
        "whsec_… (endpoint: <PIX_PUBLIC_URL>/api/billing/public/stripe/webhook)"
    ),
    "PIX_BILLING_PLANS": '{"crm": {"name": "CRM", "seat_cents": 4900}}',
}

router = APIRouter()
Answer = TypeVar("Answer")


def _texts(ui: UI, request: Request, me: Identity | None) -> dict[str, str]:
    locale = ui.locale(request, me)
    return {key: translate(f"billing.{key}", locale) for key in TEXT_KEYS}


async def _served(answer: Awaitable[Answer]) -> Answer:
    """Billing's answer; its refusals are the page's to show, billing down or failing is 503."""
    try:
        return await answer
    except (httpx.HTTPError, Unavailable) as exc:
        raise PageError(503, "error.503") from exc


async def _billing_page(request: Request, ui: UI, me: Identity, **extra: Any) -> HTMLResponse:
    x = _texts(ui, request, me)
    billing = BillingClient(ui.backend, me)
    licence: Licence | None = await or_default(_served(billing.account()), None)
    invoices = await or_default(_served(billing.invoices()), [])
    checkout = request.query_params.get("checkout")
    message = {"done": x["checkout_done"], "cancelled": x["checkout_cancelled"]}.get(checkout or "")
    context: dict[str, Any] = {
        "page": "billing",
        "x": x,
        "licence": licence,
        "invoices": invoices,
        "profile": licence.profile if licence else {},
        "euros": lambda cents: money_cents(cents, ui.locale(request, me)),
        "off_settings": OFF_SETTINGS,
        "message": message,
        "message_kind": "ok" if checkout == "done" else "info",
        **extra,
    }
    return ui.render(request, "billing/account.html", me, **context)


@router.get("/billing", response_class=HTMLResponse)
async def billing_page(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    return await _billing_page(request, ui, me)


@router.post("/billing/profile", response_class=HTMLResponse)
async def save_profile(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    x = _texts(ui, request, me)
    fields = ("company", "email", "street", "postcode", "city", "country", "vat_id")
    body = {k: (form.get(k) or "").strip() or None for k in fields}
    body["country"] = body["country"] or "DE"
    try:
        await _served(BillingClient(ui.backend, me).save_profile(body))
    except ServiceError as refusal:
        return await _refused_profile(request, ui, me, body, refusal)
    return await _billing_page(request, ui, me, message=x["saved"], message_kind="ok")


async def _refused_profile(
    request: Request, ui: UI, me: Identity, body: dict[str, str | None], refusal: ServiceError
) -> HTMLResponse:
    x = _texts(ui, request, me)
    field = refusal.field or "vat_id"
    return await _billing_page(
        request,
        ui,
        me,
        message=x["invalid"],
        message_kind="error",
        errors={
            field: translate("billing.vat_not_registered", ui.locale(request, me))
            if refusal.code == "vat_id_not_registered"
            else (x["vat_id_invalid"] if field == "vat_id" else x["invalid"])
        },
        form=body,
    )


async def _to_stripe(ui: UI, request: Request, path: str, json: object) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    if path.endswith("checkout"):
        try:
            seats = max(1, min(500, int(form.get("seats") or 1)))
        except ValueError:
            seats = 1
        json = {"seats": seats}
    try:
        link = await _served(BillingClient(ui.backend, me).to_stripe(path, json))
    except ServiceError as refusal:
        return await _billing_page(request, ui, me, message=refusal.message, message_kind="error")
    return ui.render(
        request,
        "billing/redirect.html",
        me,
        page="billing",
        x=_texts(ui, request, me),
        url=link.url,
    )


@router.post("/billing/checkout", response_class=HTMLResponse)
async def checkout(ui: PageUI, request: Request) -> Response:
    return await _to_stripe(ui, request, "/account/checkout", {})


@router.post("/billing/portal", response_class=HTMLResponse)
async def portal(ui: PageUI, request: Request) -> Response:
    return await _to_stripe(ui, request, "/account/portal", None)


@router.get("/billing/banner", response_class=HTMLResponse)
async def banner(ui: PageUI, request: Request) -> Response:
    """Empty unless the organisation's CRM licence is inactive (and billing answers)."""
    me = await ui.me(request)
    if me is None or me.is_admin:
        return HTMLResponse("", headers={"cache-control": "no-store"})
    try:
        licence = await BillingClient(ui.backend, me).account()
    except (httpx.HTTPError, ServiceError):
        return HTMLResponse("", headers={"cache-control": "no-store"})
    if licence.licensed:
        return HTMLResponse("", headers={"cache-control": "no-store"})
    return ui.render(request, "billing/banner.html", me, x=_texts(ui, request, me), licence=licence)


@router.get("/admin/billing", response_class=HTMLResponse)
async def admin_billing(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    if not me.is_admin:
        raise PageError(404, "error.404")
    summary = await or_default(_served(BillingClient(ui.backend, me).admin_summary()), None)
    return ui.render(
        request,
        "billing/admin.html",
        me,
        page="admin",
        x=_texts(ui, request, me),
        summary=summary,
        euros=lambda cents: money_cents(cents, ui.locale(request, me)),
        off_settings=OFF_SETTINGS,
    )


@router.post("/admin/billing/orders/{order_id}/{via}", response_class=HTMLResponse)
async def settle(ui: PageUI, request: Request, order_id: str, via: str) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    if not me.is_admin or via not in ("bank_transfer", "waived"):
        raise PageError(404, "error.404")
    try:
        await _served(BillingClient(ui.backend, me).settle(order_id, via))
    except NotFound as exc:
        raise PageError(404, "error.404") from exc
    except ServiceError:
        pass  # refused (already settled): the summary shows the order as it is
    return await admin_billing(ui, request)
