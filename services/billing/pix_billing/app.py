"""The billing service: HTTP API (port 8021), Stripe's webhook, jobs and subscribers.

STRIPE_API_KEY=sk_… STRIPE_WEBHOOK_SECRET=whsec_… PIX_DATABASE_URL=… pix-billing
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from pix_contracts.billing import BILLING_EVENTS
from pix_contracts.privacy import BillingOrganisationErased
from pix_runtime.broker import declare_publishers
from pix_runtime.erasure import subscribe_organisation_erasure
from pix_runtime.jobs import RetryPolicy
from pix_runtime.lifecycle import ServiceRuntime, serve
from pix_runtime.logging import get_logger
from pix_runtime.personal_data import declare

from pix_billing import api
from pix_billing.handlers import register_handlers
from pix_billing.invoicing import ISSUE_INVOICE, Invoicing, OrderRef
from pix_billing.models import ORGANISATION_DATA, jobs, outbox
from pix_billing.privacy import PERSONAL_DATA
from pix_billing.reports import Reports
from pix_billing.service import (
    END_TRIALS,
    RECHECK_UNVERIFIED,
    RECHECK_VAT_ID,
    STRIPE_EVENT,
    Billing,
    StripeEventRef,
    VatRecheck,
)
from pix_billing.settings import BillingSettings
from pix_billing.stripe_api import StripeApi
from pix_billing.webhooks import StripeEvents

log = get_logger(__name__)


def create_app(settings: BillingSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or BillingSettings()
    runtime = ServiceRuntime(settings, outbox=outbox, jobs=jobs)
    stripe = StripeApi(settings) if settings.enabled else None
    if stripe is None:
        log.warning("billing.off", hint="set STRIPE_API_KEY (and STRIPE_WEBHOOK_SECRET)")
    elif settings.stripe_webhook_secret is None:
        log.warning("billing.webhooks_refused", hint="set STRIPE_WEBHOOK_SECRET")
    billing = Billing(runtime.db, stripe, settings, runtime.clock)
    invoicing = Invoicing(runtime.db, billing, settings, runtime.clock)
    events = StripeEvents(billing, invoicing)

    stripe_calls = RetryPolicy(max_attempts=10, base_seconds=5, max_seconds=1800)
    runtime.jobs.register(STRIPE_EVENT, StripeEventRef, events.handle, policy=stripe_calls)
    runtime.jobs.register(
        ISSUE_INVOICE,
        OrderRef,
        invoicing.issue,
        policy=stripe_calls,
        timeout=timedelta(minutes=2),
    )
    # VIES is down now and then, for hours at a time: ask again over about a day.
    runtime.jobs.register(
        RECHECK_VAT_ID,
        VatRecheck,
        billing.recheck_vat_id,
        policy=RetryPolicy(max_attempts=12, base_seconds=60, max_seconds=4 * 3600),
    )
    runtime.jobs.every(RECHECK_UNVERIFIED, timedelta(hours=12), billing.recheck_unverified)
    if billing.enabled:
        runtime.jobs.every(END_TRIALS, timedelta(minutes=15), billing.end_trials)
    else:
        runtime.on_start(billing.release_when_off)
    register_handlers(runtime.broker, billing, invoicing)
    subscribe_organisation_erasure(runtime, ORGANISATION_DATA, BillingOrganisationErased)
    declare_publishers(runtime.broker, *BILLING_EVENTS)

    app = runtime.create_app(title="pix.immo billing")
    declare(app, "billing", PERSONAL_DATA)
    app.include_router(api.router)
    app.state.settings = settings
    app.state.billing = billing
    app.state.invoicing = invoicing
    app.state.reports = Reports(runtime.db, runtime.clock, enabled=billing.enabled)

    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with runtime_lifespan(app) as state:
            try:
                yield state
            finally:
                await billing.vies.aclose()

    app.router.lifespan_context = lifespan
    return app, runtime


def main() -> None:
    settings = BillingSettings()
    app, _ = create_app(settings)
    serve(app, settings, migrations_package="pix_billing")
