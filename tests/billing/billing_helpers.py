"""Shared by the billing tests: identities, waiting for Stripe's webhooks to be handled,
reading the outbox."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pix_billing.models import outbox
from pix_billing.settings import BillingSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from pydantic import SecretStr
from sqlalchemy import select
from stripe_fake import FakeStripe

T = TypeVar("T")
API_KEY = "sk_test_pix_billing"
WEBHOOK_SECRET = "whsec_pix_billing_test"


@dataclass
class BillingApp:
    client: httpx.AsyncClient
    runtime: ServiceRuntime
    settings: BillingSettings
    app: Any
    stripe: FakeStripe | None

    def headers(self, who: Identity) -> dict[str, str]:
        return {IDENTITY_HEADER: sign_identity(who, self.runtime.internal_key)}

    async def handled(self) -> int:
        """Deliver Stripe's pending webhooks and run every job they queued."""
        ran = 0
        while True:
            if self.stripe is not None:
                await self.stripe.settle()
            step = await self.runtime.jobs.run_due()
            ran += step
            if not step and (self.stripe is None or not self.stripe._tasks):
                return ran


def person(role: str = "client", org_id: uuid.UUID | None = None) -> Identity:
    return Identity(
        user_id=uuid.uuid4(),
        org_id=org_id or uuid.uuid4(),
        role=role,  # type: ignore[arg-type]
        email=f"{role}-{uuid.uuid4().hex[:8]}@makler.example.com",
        name="Max Makler",
        email_verified=True,
    )


async def until(
    check: Callable[[], Awaitable[T]], *, timeout: float = 15.0, what: str = "condition"
) -> T:
    """Poll `check` until it returns something truthy (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def outbox_events(runtime: ServiceRuntime, kind: type[T], **match: object) -> list[T]:
    async with runtime.db.sessions() as session:
        rows = await session.execute(
            select(outbox.c.payload)
            .where(outbox.c.topic == kind.topic)  # type: ignore[attr-defined]
            .order_by(outbox.c.id)
        )
        found = [kind.model_validate_json(p) for p in rows.scalars()]  # type: ignore[attr-defined]
    return [e for e in found if all(str(getattr(e, k)) == str(v) for k, v in match.items())]


def billing_settings(fake: FakeStripe | None, **overrides: object) -> BillingSettings:
    # A test never asks the EU Commission's VIES: without the local one (vies_fake.py, the
    # `vies` fixture) a closed local port stands in, and a VAT id stays unverified.
    overrides.setdefault("vies_base_url", "http://127.0.0.1:9/vies")
    if fake is None:
        return BillingSettings(stripe_api_key=None, **overrides)  # type: ignore[arg-type]
    return BillingSettings(
        stripe_api_key=SecretStr(API_KEY),
        stripe_webhook_secret=SecretStr(WEBHOOK_SECRET),
        stripe_api_base=fake.base,
        **overrides,  # type: ignore[arg-type]
    )
