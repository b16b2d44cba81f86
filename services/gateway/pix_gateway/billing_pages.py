"""Billing pages: the organisation's billing page (`/billing`: licence, trial, subscribe through
Stripe Checkout, the customer portal, invoices with their PDFs, billing address and VAT id),
the banner every signed-in page loads while the CRM licence is inactive (`/billing/banner`, an
HTMX fragment) and the admin's figures (`/admin/billing`). With billing off the pages say what
to set. Stripe's pages are reached by a link (the CSP's `form-action 'self'` would stop a form's
redirect to Stripe)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.formats import money_cents
from pix_gateway.i18n import translate
from pix_gateway.pages import UI, PageError, PageUI

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("Abrechnung", "Billing"),
    "licence": ("CRM-Lizenz", "CRM licence"),
    "plan": ("Tarif", "Plan"),
    "status": ("Status", "Status"),
    "seats": ("Plätze", "Seats"),
    "per_seat": ("pro Platz und Monat, zzgl. USt.", "per seat and month, plus VAT"),
    "trial_ends": ("Testphase endet", "Trial ends"),
    "period_ends": ("Bezahlt bis", "Paid until"),
    "status.trialing": ("Testphase", "Trial"),
    "status.active": ("Aktiv", "Active"),
    "status.past_due": ("Zahlung überfällig", "Payment overdue"),
    "status.unpaid": ("Unbezahlt", "Unpaid"),
    "status.canceled": ("Gekündigt", "Cancelled"),
    "status.incomplete": ("Unvollständig", "Incomplete"),
    "status.expired": ("Testphase abgelaufen", "Trial ended"),
    "subscribe": ("Jetzt abonnieren", "Subscribe now"),
    "portal": (
        "Tarif, Zahlungsmittel oder Kündigung verwalten",
        "Manage plan, payment method or cancellation",
    ),
    "continue": ("Weiter zu Stripe", "Continue to Stripe"),
    "continue_text": (
        "Die Zahlung läuft über Stripe. Sie werden weitergeleitet …",
        "Payment runs through Stripe. You are being redirected …",
    ),
    "checkout_done": (
        "Danke! Ihr Abonnement wird aktiviert, sobald Stripe die Zahlung bestätigt.",
        "Thank you! Your subscription becomes active as soon as Stripe confirms it.",
    ),
    "checkout_cancelled": ("Der Bezahlvorgang wurde abgebrochen.", "Checkout was cancelled."),
    "invoices": ("Rechnungen", "Invoices"),
    "no_invoices": ("Noch keine Rechnungen.", "No invoices yet."),
    "number": ("Nummer", "Number"),
    "date": ("Datum", "Date"),
    "net": ("Netto", "Net"),
    "vat": ("USt.", "VAT"),
    "gross": ("Brutto", "Gross"),
    "pdf": ("PDF", "PDF"),
    "pay": ("Bezahlen", "Pay"),
    "invoice.open": ("offen", "open"),
    "invoice.paid": ("bezahlt", "paid"),
    "invoice.void": ("storniert", "void"),
    "invoice.waived": ("erlassen", "waived"),
    "invoice.uncollectible": ("uneinbringlich", "uncollectible"),
    "address": ("Rechnungsadresse und USt-IdNr.", "Billing address and VAT id"),
    "company": ("Firma", "Company"),
    "email": ("E-Mail für Rechnungen", "Email for invoices"),
    "street": ("Straße und Hausnummer", "Street and number"),
    "postcode": ("PLZ", "Postcode"),
    "city": ("Ort", "City"),
    "country": ("Land (ISO, z. B. DE, FR)", "Country (ISO, e.g. DE, FR)"),
    "vat_id": ("USt-IdNr. (für Unternehmen)", "VAT id (businesses)"),
    "vat_hint": (
        "Unternehmen aus einem anderen EU-Land mit USt-IdNr. erhalten Rechnungen im "
        "Reverse-Charge-Verfahren.",
        "Businesses in another EU member state with a VAT id are invoiced under the reverse "
        "charge.",
    ),
    "save": ("Speichern", "Save"),
    "saved": ("Gespeichert.", "Saved."),
    "invalid": ("Bitte prüfen Sie die markierten Felder.", "Please check the marked fields."),
    "vat_invalid": (
        "Keine gültige USt-IdNr. dieses Landes.",
        "Not a valid VAT id of this country.",
    ),
    "banner": (
        "Ihre CRM-Lizenz ist nicht aktiv: Anfragen und Objekte bleiben lesbar, Neues ist erst "
        "nach der Zahlung wieder möglich. Es geht nichts verloren.",
        "Your CRM licence is not active: leads and listings stay readable, new work is "
        "possible again after payment. Nothing is lost.",
    ),
    "banner_link": ("Zur Abrechnung", "Go to billing"),
    "off_title": ("Abrechnung ist ausgeschaltet", "Billing is off"),
    "off_text": (
        "Ohne Stripe-Schlüssel ist alles kostenlos und freigeschaltet. Zum Einschalten setzen "
        "Sie für den Dienst billing:",
        "Without a Stripe key everything is free and unlocked. To turn it on, set for the "
        "billing service:",
    ),
    "unavailable": (
        "Die Abrechnung ist gerade nicht erreichbar.",
        "Billing is not reachable right now.",
    ),
    "admin_title": ("Abrechnung (Verwaltung)", "Billing (admin)"),
    "revenue": ("Umsatz pro Monat", "Revenue per month"),
    "month": ("Monat", "Month"),
    "count": ("Rechnungen", "Invoices"),
    "open_invoices": ("Offene Rechnungen", "Open invoices"),
    "failed": ("Fehlgeschlagene Zahlungen", "Failed payments"),
    "past_due": ("Lizenzen mit überfälliger Zahlung", "Licences with overdue payment"),
    "trials": ("Testphasen, die bald enden", "Trials ending soon"),
    "organisation": ("Organisation", "Organisation"),
    "due": ("Fällig", "Due"),
    "none": ("Keine.", "None."),
    "mark_paid": ("Überweisung erhalten", "Bank transfer received"),
    "waive": ("Erlassen", "Waive"),
}
OFF_SETTINGS = {
    "STRIPE_API_KEY": "sk_live_… / sk_test_…",
    "STRIPE_WEBHOOK_SECRET": (
        "whsec_… (endpoint: <PIX_PUBLIC_URL>/api/billing/public/stripe/webhook)"
    ),
    "PIX_BILLING_PLANS": '{"crm": {"name": "CRM", "seat_cents": 4900}}',
}

router = APIRouter()


def _texts(ui: UI, request: Request, me: Identity | None) -> dict[str, str]:
    index = 0 if ui.locale(request, me) == "de" else 1
    return {key: pair[index] for key, pair in TEXTS.items()}


async def _api(
    ui: UI, me: Identity, method: str, path: str, json: object = None
) -> tuple[int, Any]:
    try:
        response = await ui.backend.call(method, "billing", path, identity=me, json=json)
    except httpx.HTTPError:
        return 503, {}
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response.status_code, body


async def _billing_page(request: Request, ui: UI, me: Identity, **extra: Any) -> HTMLResponse:
    x = _texts(ui, request, me)
    code, licence = await _api(ui, me, "GET", "/account")
    if code >= 500:
        raise PageError(503, "error.503")
    _, invoices = await _api(ui, me, "GET", "/invoices")
    checkout = request.query_params.get("checkout")
    message = {"done": x["checkout_done"], "cancelled": x["checkout_cancelled"]}.get(checkout or "")
    context: dict[str, Any] = {
        "page": "billing",
        "x": x,
        "licence": licence,
        "invoices": invoices if isinstance(invoices, list) else [],
        "profile": licence.get("profile", {}),
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
    code, answer = await _api(ui, me, "PUT", "/account/profile", body)
    if code == 200:
        return await _billing_page(request, ui, me, message=x["saved"], message_kind="ok")
    if code >= 500:
        raise PageError(503, "error.503")
    error = answer.get("error", {}) if isinstance(answer, dict) else {}
    field = error.get("field") or "vat_id"
    return await _billing_page(
        request,
        ui,
        me,
        message=x["invalid"],
        message_kind="error",
        errors={
            field: translate("billing.vat_not_registered", ui.locale(request, me))
            if error.get("code") == "vat_id_not_registered"
            else (x["vat_invalid"] if field == "vat_id" else x["invalid"])
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
    code, answer = await _api(ui, me, "POST", path, json)
    if code != 200:
        if code >= 500:
            raise PageError(503, "error.503")
        message = (answer.get("error") or {}).get("message", "") if isinstance(answer, dict) else ""
        return await _billing_page(request, ui, me, message=message, message_kind="error")
    return ui.render(
        request,
        "billing/redirect.html",
        me,
        page="billing",
        x=_texts(ui, request, me),
        url=answer["url"],
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
    code, licence = await _api(ui, me, "GET", "/account")
    if code != 200 or licence.get("licensed", True):
        return HTMLResponse("", headers={"cache-control": "no-store"})
    return ui.render(request, "billing/banner.html", me, x=_texts(ui, request, me), licence=licence)


@router.get("/admin/billing", response_class=HTMLResponse)
async def admin_billing(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    if not me.is_admin:
        raise PageError(404, "error.404")
    code, summary = await _api(ui, me, "GET", "/admin/summary")
    if code >= 500:
        raise PageError(503, "error.503")
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
    code, _ = await _api(ui, me, "POST", f"/admin/orders/{order_id}/settle", {"via": via})
    if code >= 500:
        raise PageError(503, "error.503")
    if code == 404:
        raise PageError(404, "error.404")
    return await admin_billing(ui, request)
