"""The billing service's answers as the gateway reads them.

Generated from the service's OpenAPI by `make clients` (pix_stack.clients): do not edit.
"""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    # Fields a newer service adds are ignored until the next `make clients`.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, protected_namespaces=())


class FailedAccount(_Model):
    org_id: str
    company: str | None
    status: str


class InvoiceView(_Model):
    id: str
    org_id: str
    order_id: str | None
    kind: Literal["order", "subscription"]
    number: str | None
    status: str
    currency: str
    net_cents: int
    vat_cents: int
    gross_cents: int
    vat_percent: str
    vat_treatment: str
    seller: dict[str, Any]
    buyer: dict[str, Any]
    lines: list[dict[str, Any]]
    hosted_url: str | None
    pdf_url: str | None
    issued_at: dt.datetime
    due_at: dt.datetime | None
    paid_at: dt.datetime | None
    paid_via: str | None
    payment_failed_at: dt.datetime | None


class MonthRevenue(_Model):
    month: str
    gross_cents: int
    net_cents: int
    invoices: int


class TrialEnding(_Model):
    org_id: str
    company: str | None
    trial_ends_at: dt.datetime


class AdminSummary(_Model):
    billing_enabled: bool
    revenue: list[MonthRevenue]
    open_invoices: list[InvoiceView]
    failed_payments: list[InvoiceView]
    accounts_past_due: list[FailedAccount]
    trials_ending: list[TrialEnding]


class BillingProfile(_Model):
    company: str | None = None
    email: str | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str = "DE"
    vat_id: str | None = None


class CheckoutRequest(_Model):
    plan: str | None = None
    seats: int = 1


class DeadLetterView(_Model):
    id: int
    consumer_group: str
    topic: str
    event_id: str | None
    partition: int | None
    offset: int | None
    key: str | None
    payload: str
    headers: dict[str, str]
    error: str
    traceback: str | None
    attempts: int
    status: str
    first_failed_at: dt.datetime
    last_failed_at: dt.datetime
    replayed_at: dt.datetime | None


class ErrorBody(_Model):
    error: dict[str, Any]


class GroupLag(_Model):
    group: str
    topic: str
    lag: int


class JobCounts(_Model):
    kind: str
    status: str
    count: int
    oldest_run_at: dt.datetime | None


class JobView(_Model):
    id: int
    kind: str
    key: str | None
    status: str
    attempts: int
    run_at: dt.datetime
    last_error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    payload: dict[str, Any]


class Licence(_Model):
    org_id: str
    billing_enabled: bool
    status: str
    licensed: bool
    plan: str
    plan_name: str
    seat_cents: int
    seats: int
    trial_ends_at: dt.datetime | None
    current_period_end: dt.datetime | None
    subscribed: bool
    profile: BillingProfile
    vat_status: str | None = None
    vat_checked_at: dt.datetime | None = None
    vat_name: str | None = None
    vat_address: str | None = None


class Link(_Model):
    url: str


class OperationsLine(_Model):
    key: str
    value: float | None = None
    detail: str | None = None
    at: dt.datetime | None = None


class OrderPayment(_Model):
    order_id: str
    org_id: str
    payment: Literal["free", "required", "invoiced", "paid", "waived"]
    gross_cents: int
    invoice: InvoiceView | None


class OutboxFigures(_Model):
    unpublished: int
    oldest_seconds: float
    parked: int


class Processor(_Model):
    name: str
    receives: str
    location: str
    condition: str = ""


class PersonalData(_Model):
    category: str
    subjects: str
    purpose: str
    legal_basis: str
    retention: str
    processors: list[Processor] = Field(default_factory=lambda: [])


class ProcessingRecord(_Model):
    service: str
    declarations: list[PersonalData]


class ReplayOutcome(_Model):
    id: int
    replayed: bool
    error: str | None = None


class ReplayReport(_Model):
    replayed: int
    failed: int
    outcomes: list[ReplayOutcome]


class ServiceOperations(_Model):
    service: str
    outbox: OutboxFigures | None
    lag: list[GroupLag]
    lag_known: bool
    lines: list[OperationsLine]


class Settlement(_Model):
    via: Literal["bank_transfer", "waived"]


class WebhookAnswer(_Model):
    received: Literal[True] = True
    duplicate: bool
