"""A local server that speaks the parts of Stripe's HTTP API billing uses, for the official
`stripe` client: customers, tax rates, Checkout sessions (with a hosted page that pays),
subscriptions (trialing, active, past_due, canceled), invoices with invoice items (finalize,
pay, paid out of band, void), payment intents, billing portal sessions (a page that cancels),
and webhook events signed as Stripe signs them (`Stripe-Signature: t=…,v1=HMAC-SHA256(secret,
f"{t}.{payload}")`).

Bodies are form-encoded with bracketed keys (`metadata[org_id]=…`, `line_items[0][quantity]=2`),
as the client sends them; `Idempotency-Key` replays the first answer. Tests move Stripe's world
with plain methods (`renew`, `pay_invoice`, `fail_invoice`); events are delivered to
`webhook_url` through `webhook_client` unless `hold_webhooks` keeps them back (`send` delivers
one by hand: a replay, another order, a wrong secret).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

MONTH = 30 * 24 * 3600


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`a[b][0][c]=x` pairs as nested dicts; dicts whose keys are all digits become lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def listify(value: Any) -> Any:
        if isinstance(value, dict):
            items = {k: listify(v) for k, v in value.items()}
            if items and all(k.isdigit() for k in items):
                return [items[k] for k in sorted(items, key=int)]
            return items
        return value

    result: dict[str, Any] = listify(root)
    return result


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


def _list(items: list[dict[str, Any]], url: str) -> dict[str, Any]:
    return {"object": "list", "data": items, "has_more": False, "url": url}


@dataclass
class Delivery:
    event_id: str
    type: str
    status: int


@dataclass
class FakeStripe:
    api_key: str
    webhook_secret: str
    port: int
    webhook_url: str | None = None
    webhook_client: httpx.AsyncClient | None = None
    hold_webhooks: bool = False
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    _idempotent: dict[str, tuple[int, Any]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    now: int = field(default_factory=lambda: int(time.time()))
    # Stripe numbers an account's invoices <prefix>-<sequence>, the prefix unique per account.
    number_prefix: str = field(default_factory=lambda: secrets.token_hex(4).upper())
    _numbered: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- webhooks --------------------------------------------------------------------------

    def emit(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        event = {
            "id": _id("evt"),
            "object": "event",
            "type": kind,
            "created": self.now,
            "livemode": False,
            "api_version": "2026-10-28.endive",
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": json.loads(json.dumps(obj))},
        }
        self.events.append(event)
        if not self.hold_webhooks and self.webhook_url:
            task = asyncio.get_running_loop().create_task(self.send(event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return event

    async def send(
        self, event: dict[str, Any], *, secret: str | None = None, timestamp: int | None = None
    ) -> int:
        """Deliver `event` once, signed with `secret` (the endpoint's secret by default)."""
        assert self.webhook_url
        payload = json.dumps(event)
        headers = {
            "Stripe-Signature": sign(payload, secret or self.webhook_secret, timestamp),
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        client = self.webhook_client or httpx.AsyncClient()
        response = await client.post(self.webhook_url, content=payload, headers=headers)
        self.deliveries.append(Delivery(event["id"], event["type"], response.status_code))
        return response.status_code

    async def settle(self) -> None:
        """Wait until every delivery started so far has been answered."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def events_of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    # --- objects ---------------------------------------------------------------------------

    def _store(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects[obj["id"]] = obj
        return obj

    def _customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = {
            "id": _id("cus"),
            "object": "customer",
            "created": self.now,
            "name": params.get("name"),
            "email": params.get("email"),
            "address": params.get("address"),
            "metadata": params.get("metadata", {}),
            "tax_exempt": params.get("tax_exempt", "none"),
            "tax_ids": {
                "object": "list",
                "data": [
                    {"object": "tax_id", "type": t.get("type"), "value": t.get("value")}
                    for t in params.get("tax_id_data", [])
                ],
            },
            "preferred_locales": params.get("preferred_locales", []),
        }
        return self._store(customer)

    def _invoice(self, params: dict[str, Any]) -> dict[str, Any]:
        invoice_id = _id("in")
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "created": self.now,
            "customer": params["customer"],
            "status": "draft",
            "number": params.get("number"),
            "currency": params.get("currency", "eur"),
            "collection_method": params.get("collection_method", "charge_automatically"),
            "days_until_due": int(params["days_until_due"])
            if params.get("days_until_due")
            else None,
            "due_date": None,
            "metadata": params.get("metadata", {}),
            "description": params.get("description"),
            "footer": params.get("footer"),
            "custom_fields": params.get("custom_fields") or None,
            "default_tax_rates": params.get("default_tax_rates", []),
            "parent": None,
            "lines": _list([], f"/v1/invoices/{invoice_id}/lines"),
            "subtotal": 0,
            "total": 0,
            "total_excluding_tax": 0,
            "total_taxes": [],
            "amount_due": 0,
            "amount_paid": 0,
            "amount_remaining": 0,
            "attempt_count": 0,
            "attempted": False,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "payment_intent": None,
            "status_transitions": {"finalized_at": None, "paid_at": None, "voided_at": None},
            "period_start": self.now,
            "period_end": self.now,
            "payment_settings": params.get("payment_settings", {}),
        }
        customer = self.objects.get(params["customer"], {})
        invoice["customer_name"] = customer.get("name")
        invoice["customer_email"] = customer.get("email")
        invoice["customer_address"] = customer.get("address")
        invoice["customer_tax_exempt"] = customer.get("tax_exempt")
        invoice["customer_tax_ids"] = [
            {"type": t["type"], "value": t["value"]}
            for t in customer.get("tax_ids", {}).get("data", [])
        ]
        return self._store(invoice)

    def _line(self, invoice: dict[str, Any], amount: int, description: str, rates: list[str]):
        invoice["lines"]["data"].append(
            {
                "id": _id("il"),
                "object": "line_item",
                "amount": amount,
                "currency": invoice["currency"],
                "description": description,
                "quantity": 1,
                "tax_rates": rates,
            }
        )
        self._totals(invoice)

    def _totals(self, invoice: dict[str, Any]) -> None:
        subtotal = 0
        taxes: dict[str, int] = {}
        exclusive = 0
        for line in invoice["lines"]["data"]:
            subtotal += line["amount"]
            for rate_id in line["tax_rates"] or invoice["default_tax_rates"]:
                rate = self.objects[rate_id]
                pct = float(rate["percentage"])
                if rate["inclusive"]:
                    tax = line["amount"] - round(line["amount"] / (1 + pct / 100))
                else:
                    tax = round(line["amount"] * pct / 100)
                    exclusive += tax
                taxes[rate_id] = taxes.get(rate_id, 0) + tax
        tax_total = sum(taxes.values())
        invoice["subtotal"] = subtotal
        invoice["total"] = subtotal + exclusive
        invoice["total_excluding_tax"] = subtotal + exclusive - tax_total
        invoice["total_taxes"] = [
            {"amount": amount, "tax_rate_details": {"tax_rate": rate_id}, "taxability_reason": None}
            for rate_id, amount in taxes.items()
        ]
        invoice["amount_due"] = invoice["total"]
        invoice["amount_remaining"] = invoice["total"] - invoice["amount_paid"]

    def _finalize(self, invoice: dict[str, Any]) -> None:
        if invoice["status"] != "draft":
            return
        invoice["status"] = "open"
        if not invoice["number"]:
            self._numbered += 1
            invoice["number"] = f"{self.number_prefix}-{self._numbered:04d}"
        invoice["hosted_invoice_url"] = f"{self.base}/invoice/{invoice['id']}"
        invoice["invoice_pdf"] = f"{self.base}/invoice/{invoice['id']}/pdf"
        invoice["status_transitions"]["finalized_at"] = self.now
        if invoice["days_until_due"]:
            invoice["due_date"] = self.now + invoice["days_until_due"] * 86400
        intent = {
            "id": _id("pi"),
            "object": "payment_intent",
            "amount": invoice["amount_due"],
            "currency": invoice["currency"],
            "status": "requires_payment_method",
            "customer": invoice["customer"],
            "metadata": {"invoice": invoice["id"]},
            "payment_method_types": ["card", "sepa_debit"],
        }
        self._store(intent)
        invoice["payment_intent"] = intent["id"]
        self.emit("invoice.finalized", invoice)

    def _mark_paid(self, invoice: dict[str, Any], *, out_of_band: bool = False) -> None:
        self._finalize(invoice)
        invoice["status"] = "paid"
        invoice["paid_out_of_band"] = out_of_band
        invoice["amount_paid"] = invoice["amount_due"]
        invoice["amount_remaining"] = 0
        invoice["attempted"] = True
        invoice["status_transitions"]["paid_at"] = self.now
        intent = self.objects.get(invoice["payment_intent"] or "")
        if intent and not out_of_band:
            intent["status"] = "succeeded"
            self.emit("payment_intent.succeeded", intent)
        self.emit("invoice.paid", invoice)
        self.emit("invoice.payment_succeeded", invoice)

    # --- what tests do to Stripe's world ----------------------------------------------------

    def pay_invoice(self, invoice_id: str) -> dict[str, Any]:
        invoice = self.objects[invoice_id]
        self._mark_paid(invoice)
        subscription = self._subscription_of(invoice)
        if subscription and subscription["status"] in ("past_due", "unpaid", "incomplete"):
            subscription["status"] = "active"
            self.emit("customer.subscription.updated", subscription)
        return invoice

    def fail_invoice(self, invoice_id: str) -> dict[str, Any]:
        invoice = self.objects[invoice_id]
        self._finalize(invoice)
        invoice["attempt_count"] += 1
        invoice["attempted"] = True
        intent = self.objects.get(invoice["payment_intent"] or "")
        if intent:
            intent["status"] = "requires_payment_method"
            self.emit("payment_intent.payment_failed", intent)
        self.emit("invoice.payment_failed", invoice)
        subscription = self._subscription_of(invoice)
        if subscription and subscription["status"] in ("active", "trialing"):
            subscription["status"] = "past_due"
            self.emit("customer.subscription.updated", subscription)
        return invoice

    def renew(self, subscription_id: str, *, pay: bool) -> dict[str, Any]:
        """The next billing period (or the trial's end): an invoice, paid or failed."""
        subscription = self.objects[subscription_id]
        item = subscription["items"]["data"][0]
        start = item["current_period_end"]
        item["current_period_start"] = start
        item["current_period_end"] = start + MONTH
        subscription["trial_end"] = subscription["trial_end"] if start else None
        if subscription["status"] == "trialing":
            subscription["status"] = "active"
        invoice = self._subscription_invoice(subscription)
        if pay:
            self.pay_invoice(invoice["id"])
            self.emit("customer.subscription.updated", subscription)
        else:
            self.fail_invoice(invoice["id"])
        return invoice

    def _subscription_of(self, invoice: dict[str, Any]) -> dict[str, Any] | None:
        parent = invoice.get("parent") or {}
        details = parent.get("subscription_details") or {}
        return self.objects.get(details.get("subscription") or "")

    def _subscription_invoice(self, subscription: dict[str, Any]) -> dict[str, Any]:
        item = subscription["items"]["data"][0]
        invoice = self._invoice(
            {"customer": subscription["customer"], "currency": item["price"]["currency"]}
        )
        invoice["parent"] = {
            "type": "subscription_details",
            "subscription_details": {
                "subscription": subscription["id"],
                "metadata": subscription["metadata"],
            },
        }
        invoice["billing_reason"] = "subscription_cycle"
        invoice["period_start"] = item["current_period_start"]
        invoice["period_end"] = item["current_period_end"]
        name = item["price"].get("nickname") or "Subscription"
        amount = item["price"]["unit_amount"] * item["quantity"]
        self._line(invoice, amount, f"{item['quantity']} × {name}", item.get("tax_rates", []))
        subscription["latest_invoice"] = invoice["id"]
        return invoice

    def _subscribe(self, session: dict[str, Any]) -> dict[str, Any]:
        line = session["line_items"][0]
        data = line.get("price_data", {})
        sub_data = session.get("subscription_data", {})
        trial_days = int(sub_data.get("trial_period_days") or 0)
        price = {
            "id": _id("price"),
            "object": "price",
            "currency": data.get("currency", "eur"),
            "unit_amount": int(data.get("unit_amount", 0)),
            "recurring": {"interval": data.get("recurring", {}).get("interval", "month")},
            "nickname": data.get("product_data", {}).get("name"),
            "metadata": data.get("product_data", {}).get("metadata", {}),
            "product": _id("prod"),
        }
        period_end = self.now + (trial_days * 86400 if trial_days else MONTH)
        subscription = {
            "id": _id("sub"),
            "object": "subscription",
            "created": self.now,
            "customer": session["customer"],
            "status": "trialing" if trial_days else "active",
            "metadata": sub_data.get("metadata", {}),
            "trial_start": self.now if trial_days else None,
            "trial_end": period_end if trial_days else None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "ended_at": None,
            "latest_invoice": None,
            "items": _list(
                [
                    {
                        "id": _id("si"),
                        "object": "subscription_item",
                        "price": price,
                        "quantity": int(line.get("quantity", 1)),
                        "tax_rates": line.get("tax_rates", []),
                        "current_period_start": self.now,
                        "current_period_end": period_end,
                    }
                ],
                "/v1/subscription_items",
            ),
        }
        self._store(subscription)
        self.emit("customer.subscription.created", subscription)
        if not trial_days:
            invoice = self._subscription_invoice(subscription)
            invoice["billing_reason"] = "subscription_create"
            self._mark_paid(invoice)
        return subscription

    def cancel(self, subscription_id: str) -> dict[str, Any]:
        subscription = self.objects[subscription_id]
        subscription["status"] = "canceled"
        subscription["canceled_at"] = subscription["ended_at"] = self.now
        self.emit("customer.subscription.deleted", subscription)
        return subscription

    # --- the HTTP API ----------------------------------------------------------------------

    async def _params(self, request: Request) -> dict[str, Any]:
        pairs = list(parse_qsl(request.url.query, keep_blank_values=True))
        if request.method in ("POST", "DELETE"):
            body = (await request.body()).decode()
            pairs += parse_qsl(body, keep_blank_values=True)
        return decode_form(pairs)

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return hmac.compare_digest(header, f"Bearer {self.api_key}")

    async def api(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "Invalid API Key provided", "invalid_request_error")
        key = request.headers.get("idempotency-key")
        if key and request.method == "POST" and key in self._idempotent:
            status, body = self._idempotent[key]
            return JSONResponse(body, status_code=status, headers={"Idempotent-Replayed": "true"})
        params = await self._params(request)
        self.requests.append((request.method, request.url.path))
        path = request.url.path.removeprefix("/v1/").strip("/").split("/")
        try:
            status, body = self._route(request.method, path, params)
        except KeyError as exc:
            status, body = 404, {"error": {"type": "invalid_request_error", "message": str(exc)}}
        if key and request.method == "POST":
            self._idempotent[key] = (status, body)
        return JSONResponse(body, status_code=status)

    def _route(self, method: str, path: list[str], p: dict[str, Any]) -> tuple[int, Any]:
        match (method, path):
            case ("POST", ["customers"]):
                return 200, self._customer(p)
            case ("GET", ["customers", cid]):
                return 200, self._get(cid, "customer")
            case ("POST", ["customers", cid]):
                customer = self._get(cid, "customer")
                for key in ("name", "email", "address", "tax_exempt"):
                    if key in p:
                        customer[key] = p[key]
                customer["metadata"].update(p.get("metadata", {}))
                return 200, customer
            case ("POST", ["tax_rates"]):
                rate = {
                    "id": _id("txr"),
                    "object": "tax_rate",
                    "display_name": p.get("display_name"),
                    "percentage": float(p["percentage"]),
                    "inclusive": p.get("inclusive") == "true",
                    "country": p.get("country"),
                    "jurisdiction": p.get("jurisdiction"),
                    "active": True,
                    "metadata": p.get("metadata", {}),
                }
                return 200, self._store(rate)
            case ("POST", ["checkout", "sessions"]):
                session = {
                    "id": _id("cs"),
                    "object": "checkout.session",
                    "mode": p.get("mode", "payment"),
                    "status": "open",
                    "payment_status": "unpaid",
                    "customer": p.get("customer"),
                    "client_reference_id": p.get("client_reference_id"),
                    "metadata": p.get("metadata", {}),
                    "success_url": p.get("success_url"),
                    "cancel_url": p.get("cancel_url"),
                    "line_items": p.get("line_items", []),
                    "subscription_data": p.get("subscription_data", {}),
                    "subscription": None,
                    "locale": p.get("locale"),
                }
                self._store(session)
                session["url"] = f"{self.base}/checkout/{session['id']}"
                return 200, self._public_session(session)
            case ("GET", ["checkout", "sessions", sid]):
                return 200, self._public_session(self._get(sid, "checkout.session"))
            case ("GET", ["subscriptions", sid]):
                return 200, self._get(sid, "subscription")
            case ("POST", ["subscriptions", sid]):
                subscription = self._get(sid, "subscription")
                subscription["metadata"].update(p.get("metadata", {}))
                if "cancel_at_period_end" in p:
                    subscription["cancel_at_period_end"] = p["cancel_at_period_end"] == "true"
                self.emit("customer.subscription.updated", subscription)
                return 200, subscription
            case ("DELETE", ["subscriptions", sid]):
                self._get(sid, "subscription")
                return 200, self.cancel(sid)
            case ("POST", ["billing_portal", "sessions"]):
                portal = {
                    "id": _id("bps"),
                    "object": "billing_portal.session",
                    "customer": p["customer"],
                    "return_url": p.get("return_url"),
                    "locale": p.get("locale"),
                }
                portal["url"] = f"{self.base}/portal/{portal['id']}"
                return 200, self._store(portal)
            case ("POST", ["invoices"]):
                self._get(p["customer"], "customer")
                return 200, self._invoice(p)
            case ("GET", ["invoices"]):
                found = [
                    o
                    for o in self.objects.values()
                    if o["object"] == "invoice"
                    and (not p.get("customer") or o["customer"] == p["customer"])
                ]
                return 200, _list(found, "/v1/invoices")
            case ("GET", ["invoices", iid]):
                return 200, self._get(iid, "invoice")
            case ("POST", ["invoices", iid]):
                invoice = self._get(iid, "invoice")
                invoice["metadata"].update(p.get("metadata", {}))
                for key in ("footer", "description", "custom_fields"):
                    if key in p and invoice["status"] == "draft":
                        invoice[key] = p[key]
                return 200, invoice
            case ("POST", ["invoices", iid, "finalize"]):
                invoice = self._get(iid, "invoice")
                self._finalize(invoice)
                return 200, invoice
            case ("POST", ["invoices", iid, "send"]):
                invoice = self._get(iid, "invoice")
                self._finalize(invoice)
                invoice["sent_to"] = invoice["customer_email"]
                self.emit("invoice.sent", invoice)
                return 200, invoice
            case ("POST", ["invoices", iid, "pay"]):
                invoice = self._get(iid, "invoice")
                if invoice["status"] == "paid":
                    return 400, {
                        "error": {"type": "invalid_request_error", "message": "Invoice is paid"}
                    }
                self._mark_paid(invoice, out_of_band=p.get("paid_out_of_band") == "true")
                return 200, invoice
            case ("POST", ["invoices", iid, "void"]):
                invoice = self._get(iid, "invoice")
                invoice["status"] = "void"
                invoice["status_transitions"]["voided_at"] = self.now
                self.emit("invoice.voided", invoice)
                return 200, invoice
            case ("POST", ["invoiceitems"]):
                invoice = self._get(p["invoice"], "invoice")
                if invoice["status"] != "draft":
                    return 400, {"error": {"type": "invalid_request_error", "message": "final"}}
                amount = int(p.get("amount", 0))
                self._line(invoice, amount, p.get("description", ""), p.get("tax_rates", []))
                item = {
                    "id": _id("ii"),
                    "object": "invoiceitem",
                    "invoice": invoice["id"],
                    "amount": amount,
                    "customer": p.get("customer"),
                    "currency": p.get("currency", "eur"),
                    "description": p.get("description"),
                }
                return 200, self._store(item)
            case ("GET", ["payment_intents", pid]):
                return 200, self._get(pid, "payment_intent")
        return 404, {"error": {"type": "invalid_request_error", "message": "Unrecognized URL"}}

    def _get(self, object_id: str, kind: str) -> dict[str, Any]:
        obj = self.objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise KeyError(f"No such {kind}: '{object_id}'")
        return obj

    def _public_session(self, session: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in session.items() if k not in ("line_items",)}

    # --- hosted pages ----------------------------------------------------------------------

    async def checkout_page(self, request: Request) -> Response:
        session = self._get(request.path_params["sid"], "checkout.session")
        line = session["line_items"][0] if session["line_items"] else {}
        name = line.get("price_data", {}).get("product_data", {}).get("name", "")
        days = session["subscription_data"].get("trial_period_days")
        return HTMLResponse(
            f"<!doctype html><title>Checkout</title><h1>{name}</h1>"
            f"<p data-test='trial'>{days or 0} days trial</p>"
            f"<form method='post' action='/checkout/{session['id']}/pay'>"
            "<button type='submit' data-test='pay'>Pay</button></form>"
        )

    async def checkout_pay(self, request: Request) -> Response:
        session = self._get(request.path_params["sid"], "checkout.session")
        if session["status"] == "open":
            if not session["customer"]:
                session["customer"] = self._customer({"metadata": session["metadata"]})["id"]
            if session["mode"] == "subscription":
                session["subscription"] = self._subscribe(session)["id"]
            session["status"] = "complete"
            session["payment_status"] = "paid"
            self.emit("checkout.session.completed", self._public_session(session))
        return RedirectResponse(session["success_url"] or "/", status_code=303)

    async def portal_page(self, request: Request) -> Response:
        portal = self._get(request.path_params["pid"], "billing_portal.session")
        return HTMLResponse(
            "<!doctype html><title>Portal</title>"
            f"<form method='post' action='/portal/{portal['id']}/cancel'>"
            "<button type='submit' data-test='cancel'>Cancel plan</button></form>"
            f"<a href='{portal['return_url']}'>Back</a>"
        )

    async def portal_cancel(self, request: Request) -> Response:
        portal = self._get(request.path_params["pid"], "billing_portal.session")
        for obj in list(self.objects.values()):
            if (
                obj["object"] == "subscription"
                and obj["customer"] == portal["customer"]
                and obj["status"] != "canceled"
            ):
                self.cancel(obj["id"])
        return RedirectResponse(portal["return_url"] or "/", status_code=303)

    async def invoice_page(self, request: Request) -> Response:
        invoice = self._get(request.path_params["iid"], "invoice")
        return HTMLResponse(
            f"<!doctype html><title>Invoice {invoice['number']}</title>"
            f"<p data-test='amount'>{invoice['amount_due']}</p>"
            f"<p data-test='status'>{invoice['status']}</p>"
            f"<form method='post' action='/invoice/{invoice['id']}/pay'>"
            "<button type='submit' data-test='pay'>Pay</button></form>"
        )

    async def invoice_pay(self, request: Request) -> Response:
        invoice = self._get(request.path_params["iid"], "invoice")
        if invoice["status"] == "open":
            self.pay_invoice(invoice["id"])
        return HTMLResponse(f"<p data-test='paid'>{invoice['status']}</p>")

    async def invoice_pdf(self, request: Request) -> Response:
        invoice = self._get(request.path_params["iid"], "invoice")
        text = f"Invoice {invoice['number']} total {invoice['total']}"
        body = f"%PDF-1.4\n% {text}\n%%EOF\n".encode()
        return Response(body, media_type="application/pdf")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/checkout/{sid}", self.checkout_page),
                Route("/checkout/{sid}/pay", self.checkout_pay, methods=["POST"]),
                Route("/portal/{pid}", self.portal_page),
                Route("/portal/{pid}/cancel", self.portal_cancel, methods=["POST"]),
                Route("/invoice/{iid}", self.invoice_page),
                Route("/invoice/{iid}/pay", self.invoice_pay, methods=["POST"]),
                Route("/invoice/{iid}/pdf", self.invoice_pdf),
                Route("/v1/{rest:path}", self.api, methods=["GET", "POST", "DELETE"]),
            ]
        )


class FakeStripeServer:
    """The fake on a loopback port, served by uvicorn in the running event loop."""

    def __init__(self, fake: FakeStripe) -> None:
        self.fake = fake
        self.server = uvicorn.Server(
            uvicorn.Config(
                fake.app(), host="127.0.0.1", port=fake.port, log_level="warning", lifespan="off"
            )
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        await self.fake.settle()
        self.server.should_exit = True
        if self._task:
            await self._task
