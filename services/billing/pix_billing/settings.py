"""Billing's configuration (env prefix `PIX_BILLING_`); Stripe's secrets from the environment.

Without `STRIPE_API_KEY` billing is off: no trial ends, nothing is invoiced or locked, every
organisation counts as licensed.
"""

from __future__ import annotations

from typing import Literal

from pix_runtime.settings import ServiceSettings
from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from pix_billing.vat import VIES_API

STRIPE_API = "https://api.stripe.com"


class Plan(BaseModel):
    """A subscription plan: a net price per seat and month."""

    name: str
    seat_cents: int = Field(ge=0)
    currency: str = "eur"


class Seller(BaseModel):
    """Who issues the invoices (printed on every one)."""

    name: str = "pix.immo GmbH"
    street: str = "Musterstraße 1"
    postcode: str = "10115"
    city: str = "Berlin"
    country: str = "DE"
    vat_id: str = "DE000000000"
    email: str = "billing@pix.immo"


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PIX_BILLING_", extra="ignore", populate_by_name=True
    )

    service_name: str = "billing"
    port: int = 8021

    stripe_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("STRIPE_API_KEY", "PIX_BILLING_STRIPE_API_KEY")
    )
    # The signing secret of the webhook endpoint (`whsec_…`); without it every webhook is refused.
    stripe_webhook_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("STRIPE_WEBHOOK_SECRET", "PIX_BILLING_STRIPE_WEBHOOK_SECRET"),
    )
    # Where the Stripe client sends requests (a local server in tests).
    stripe_api_base: str = STRIPE_API
    stripe_timeout_seconds: float = 30.0
    # How far a webhook signature's timestamp may be from now.
    webhook_tolerance_seconds: int = 300

    # e.g. PIX_BILLING_PLANS='{"crm": {"name": "CRM", "seat_cents": 4900}}' (net, per month)
    plans: dict[str, Plan] = Field(
        default_factory=lambda: {"crm": Plan(name="pix.immo CRM", seat_cents=4900)}
    )
    default_plan: str = "crm"
    trial_days: int = 14

    # When an order's invoice is issued: when its gallery is first delivered, or at ordering.
    invoice_orders_at: Literal["delivery", "ordering"] = "delivery"
    invoice_prefix: str = "PIX"
    invoice_due_days: int = 14
    vat_percent: float = 19.0
    # VIES, the EU Commission's VAT id register (its REST API), asked when a customer enters an
    # EU VAT id; when it does not answer within the timeout the id is accepted provisionally
    # and checked again by a job (pix_billing.vat).
    vies_base_url: str = VIES_API
    vies_timeout_seconds: float = Field(default=10.0, gt=0)
    seller: Seller = Field(default_factory=Seller)

    @property
    def enabled(self) -> bool:
        return self.stripe_api_key is not None and bool(self.stripe_api_key.get_secret_value())
