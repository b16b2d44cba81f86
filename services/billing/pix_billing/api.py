"""HTTP routes of the billing service (the gateway proxies /api/billing/*).

Thin: take the caller from the signed identity, call the domain, shape the answer. A member
sees and changes its own organisation's billing; admins any organisation's (`?org_id=`) and
the platform's figures. Stripe's webhook is under /public/ (no session: Stripe's signature is
the credential).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pix_runtime.errors import Forbidden, NotFound
from pix_runtime.http import CurrentIdentity, read_limited_body
from pix_runtime.identity import Identity
from pix_runtime.logging import get_logger
from pydantic import BaseModel, Field

from pix_billing.invoicing import Invoicing
from pix_billing.records import (
    AdminSummary,
    BillingProfile,
    InvoiceView,
    Licence,
    MonthRevenue,
    OrderPayment,
    Settlement,
)
from pix_billing.reports import Reports
from pix_billing.service import Billing
from pix_billing.stripe_api import WebhookRefused

log = get_logger(__name__)

WEBHOOK_LIMIT = 512 * 1024


def _billing(request: Request) -> Billing:
    billing: Billing = request.app.state.billing
    return billing


def _invoicing(request: Request) -> Invoicing:
    invoicing: Invoicing = request.app.state.invoicing
    return invoicing


def _reports(request: Request) -> Reports:
    reports: Reports = request.app.state.reports
    return reports


BillingDep = Annotated[Billing, Depends(_billing)]
InvoicingDep = Annotated[Invoicing, Depends(_invoicing)]
ReportsDep = Annotated[Reports, Depends(_reports)]

router = APIRouter()


def _org(me: Identity, org_id: uuid.UUID | None) -> uuid.UUID:
    """Whose billing: the caller's organisation; an admin may name another one."""
    if org_id is None or org_id == me.org_id:
        return me.org_id
    if not me.is_admin:
        raise NotFound("organisation")
    return org_id


def _manager(me: Identity) -> None:
    """Billing is the owner's (and the platform admins') business, not every agent's."""
    if not me.manages_organisation:
        raise Forbidden("only the organisation's owner manages billing")


def _admin(me: Identity) -> None:
    if not me.is_admin:
        raise Forbidden("only platform administrators may do this")


class CheckoutRequest(BaseModel):
    plan: str | None = Field(default=None, max_length=40)
    seats: int = Field(default=1, ge=1, le=500)


class Link(BaseModel):
    url: str


@router.get("/account")
async def account(
    me: CurrentIdentity, billing: BillingDep, org_id: uuid.UUID | None = None
) -> Licence:
    return await billing.licence(_org(me, org_id))


@router.put("/account/profile")
async def update_profile(
    profile: BillingProfile,
    me: CurrentIdentity,
    billing: BillingDep,
    org_id: uuid.UUID | None = None,
) -> Licence:
    _manager(me)
    return await billing.update_profile(_org(me, org_id), profile)


@router.post("/account/checkout")
async def checkout(body: CheckoutRequest, me: CurrentIdentity, billing: BillingDep) -> Link:
    _manager(me)
    url = await billing.checkout_url(
        me.org_id, plan_key=body.plan, seats=body.seats, locale=me.locale
    )
    return Link(url=url)


@router.post("/account/portal")
async def portal(me: CurrentIdentity, billing: BillingDep) -> Link:
    _manager(me)
    return Link(url=await billing.portal_url(me.org_id, locale=me.locale))


@router.get("/invoices")
async def invoices(
    me: CurrentIdentity, invoicing: InvoicingDep, org_id: uuid.UUID | None = None
) -> list[InvoiceView]:
    _manager(me)
    return await invoicing.invoices(me, org_id)


@router.get("/invoices/{invoice_id}")
async def invoice(
    invoice_id: uuid.UUID, me: CurrentIdentity, invoicing: InvoicingDep
) -> InvoiceView:
    _manager(me)
    return await invoicing.invoice(me, invoice_id)


@router.get("/invoices/{invoice_id}/pdf", response_class=RedirectResponse)
async def invoice_pdf(
    invoice_id: uuid.UUID, me: CurrentIdentity, invoicing: InvoicingDep
) -> RedirectResponse:
    """Stripe's PDF of the invoice (with our number, both addresses and VAT ids)."""
    _manager(me)
    found = await invoicing.invoice(me, invoice_id)
    if not found.pdf_url:
        raise NotFound("invoice PDF")
    return RedirectResponse(found.pdf_url, status_code=303)


@router.get("/orders/{order_id}/payment")
async def order_payment(
    order_id: uuid.UUID, me: CurrentIdentity, invoicing: InvoicingDep
) -> OrderPayment:
    return await invoicing.order_payment(order_id, me)


@router.post("/admin/orders/{order_id}/settle")
async def settle(
    order_id: uuid.UUID, body: Settlement, me: CurrentIdentity, invoicing: InvoicingDep
) -> OrderPayment:
    _admin(me)
    return await invoicing.settle(order_id, body.via)


@router.get("/reports/revenue")
async def revenue_report(
    me: CurrentIdentity,
    reports: ReportsDep,
    since: datetime,
    org_id: uuid.UUID | None = None,
) -> list[MonthRevenue]:
    """Paid invoices per month (admins: all or `org_id`; owners: their own organisation)."""
    return await reports.revenue_per_month(me, org_id, since)


@router.get("/admin/summary")
async def summary(
    me: CurrentIdentity,
    reports: ReportsDep,
    months: Annotated[int, Query(ge=1, le=36)] = 12,
) -> AdminSummary:
    _admin(me)
    return await reports.summary(months=months)


class WebhookAnswer(BaseModel):
    received: Literal[True] = True
    duplicate: bool


@router.post("/public/stripe/webhook", response_model=WebhookAnswer)
async def stripe_webhook(request: Request, billing: BillingDep) -> JSONResponse:
    payload = await read_limited_body(request, WEBHOOK_LIMIT)
    try:
        fresh = await billing.receive_webhook(payload, request.headers.get("stripe-signature"))
    except WebhookRefused as exc:
        log.warning("stripe.webhook_refused", reason=str(exc))
        return JSONResponse(
            {"error": {"code": "signature_invalid", "message": "webhook signature refused"}},
            status_code=400,
        )
    return JSONResponse(WebhookAnswer(duplicate=not fresh).model_dump())
