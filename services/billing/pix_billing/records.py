"""What billing's API takes and gives: licences, billing addresses, invoices, admin figures."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pix_billing.vat import EU_COUNTRIES, normalise_vat_id, vat_id_country


class BillingProfile(BaseModel):
    """The organisation's billing address and VAT id, printed on its invoices."""

    model_config = ConfigDict(str_strip_whitespace=True)

    company: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    street: str | None = Field(default=None, max_length=200)
    postcode: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    country: str = Field(default="DE", min_length=2, max_length=2)
    vat_id: str | None = Field(default=None, max_length=20)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        value = value.upper()
        if not value.isalpha():
            raise ValueError("a two-letter country code (ISO 3166), e.g. DE")
        return value

    @field_validator("vat_id")
    @classmethod
    def _vat_id(cls, value: str | None) -> str | None:
        if not value:
            return None
        value = normalise_vat_id(value)
        if value[:2].isalpha() and value[:2] in {*EU_COUNTRIES, "EL"} and not vat_id_country(value):
            raise ValueError("not a valid EU VAT id (e.g. DE123456789, FRXX123456789)")
        return value

    def check_vat_country(self) -> str | None:
        """The field at fault when an EU VAT id belongs to another country than the address."""
        if (
            self.vat_id
            and self.country in EU_COUNTRIES
            and vat_id_country(self.vat_id) != self.country
        ):
            return "vat_id"
        return None


class Licence(BaseModel):
    org_id: uuid.UUID
    billing_enabled: bool
    status: str
    licensed: bool
    plan: str
    plan_name: str
    seat_cents: int
    seats: int
    trial_ends_at: datetime | None
    current_period_end: datetime | None
    subscribed: bool
    profile: BillingProfile
    # What VIES said of the VAT id (pix_billing.vat.VatStatus); reverse charge needs verified.
    vat_status: str | None = None
    vat_checked_at: datetime | None = None
    vat_name: str | None = None
    vat_address: str | None = None


class InvoiceView(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    order_id: uuid.UUID | None
    kind: Literal["order", "subscription"]
    number: str | None
    status: str
    currency: str
    net_cents: int
    vat_cents: int
    gross_cents: int
    vat_percent: Decimal
    vat_treatment: str
    # The parties and lines as the invoice printed them: JSON kept with it, shown as it is.
    seller: dict[str, Any]
    buyer: dict[str, Any]
    lines: list[dict[str, Any]]
    hosted_url: str | None
    pdf_url: str | None
    issued_at: datetime
    due_at: datetime | None
    paid_at: datetime | None
    paid_via: str | None
    payment_failed_at: datetime | None


class OrderPayment(BaseModel):
    order_id: uuid.UUID
    org_id: uuid.UUID
    payment: Literal["free", "required", "invoiced", "paid", "waived"]
    gross_cents: int
    invoice: InvoiceView | None


class Settlement(BaseModel):
    via: Literal["bank_transfer", "waived"]


class MonthRevenue(BaseModel):
    month: str
    gross_cents: int
    net_cents: int
    invoices: int


class TrialEnding(BaseModel):
    org_id: uuid.UUID
    company: str | None
    trial_ends_at: datetime


class FailedAccount(BaseModel):
    org_id: uuid.UUID
    company: str | None
    status: str


class AdminSummary(BaseModel):
    billing_enabled: bool
    revenue: list[MonthRevenue]
    open_invoices: list[InvoiceView]
    failed_payments: list[InvoiceView]
    accounts_past_due: list[FailedAccount]
    trials_ending: list[TrialEnding]
