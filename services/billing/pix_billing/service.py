"""Subscriptions: each organisation's CRM licence, its trial, Checkout and the customer portal,
and Stripe's webhooks.

A webhook is verified, its event id recorded once (a replay finds the row) and a job enqueued in
the same transaction; the job fetches the object's current state from Stripe, so events that
arrive late or out of order change nothing they should not. A licence that changed is announced
as `billing.subscription.changed.v1` through the outbox in the transaction that stored it.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from pix_contracts import UserRegistered
from pix_contracts.billing import LICENSED_STATUSES, SubscriptionChanged
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import Conflict, Invalid
from pix_runtime.inbox import first_delivery
from pix_runtime.jobs import JobContext, enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue
from pydantic import BaseModel
from sqlalchemy import RowMapping, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_billing import models as m
from pix_billing.records import BillingProfile, Licence
from pix_billing.settings import BillingSettings
from pix_billing.stripe_api import Customer, StripeApi, Subscription, WebhookRefused
from pix_billing.vat import (
    Vies,
    ViesAnswer,
    ViesUnavailable,
    treatment_for,
    vat_id_country,
    vat_id_for_tax,
)

log = get_logger(__name__)

SOURCE = "pix.immo/billing"
STRIPE_EVENT = "billing.stripe-event"
END_TRIALS = "billing.end-trials"
RECHECK_VAT_ID = "billing.recheck-vat-id"
RECHECK_UNVERIFIED = "billing.recheck-unverified-vat-ids"
# A subscription's status from Stripe that grants the licence; the rest keep the data read-only.
LIVE = LICENSED_STATUSES


class VatRecheck(BaseModel):
    org_id: uuid.UUID
    vat_id: str


class StripeEventRef(BaseModel):
    event_id: str
    type: str
    object_id: str | None
    object_kind: str | None


@dataclass(frozen=True)
class Account:
    """An organisation's row in billing: its licence, Stripe ids, billing address, VAT check."""

    org_id: uuid.UUID
    status: str
    plan: str
    seats: int
    trial_ends_at: datetime | None
    current_period_end: datetime | None
    stripe_customer_id: str | None
    stripe_subscription_id: str | None
    company: str | None
    email: str | None
    street: str | None
    postcode: str | None
    city: str | None
    country: str | None
    vat_id: str | None
    vat_status: str | None
    vat_checked_at: datetime | None
    vat_name: str | None
    vat_address: str | None
    # The licence as last announced: `announced_state`'s JSON, None before the first.
    announced: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: RowMapping) -> Account:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def announced_state(self) -> dict[str, Any]:
        """What an announcement says, as the JSON kept in `announced` to compare with."""
        end = self.current_period_end
        return {
            "status": self.status,
            "plan": self.plan,
            "seats": self.seats,
            "current_period_end": end.isoformat() if end else None,
        }


def customer_of(account: Account) -> Customer:
    country = account.country or "DE"
    return Customer(
        name=account.company,
        email=account.email,
        street=account.street,
        postcode=account.postcode,
        city=account.city,
        country=country,
        vat_id=account.vat_id,
        reverse_charge=treatment_for(country, vat_id_for_tax(account.vat_id, account.vat_status))
        != "de_vat",
    )


class Billing:
    def __init__(
        self,
        db: Database,
        stripe: StripeApi | None,
        settings: BillingSettings,
        clock: Clock,
        vies: Vies | None = None,
    ) -> None:
        self.vies = vies or Vies(settings.vies_base_url, timeout=settings.vies_timeout_seconds)
        self._db = db
        self.stripe = stripe
        self._settings = settings
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self.stripe is not None

    def _stripe(self) -> StripeApi:
        if self.stripe is None:
            raise Conflict("billing_off", "billing is off: set STRIPE_API_KEY")
        return self.stripe

    # --- accounts ---------------------------------------------------------------------------

    async def _account(self, session: AsyncSession, org_id: uuid.UUID) -> Account:
        """The organisation's row, made on first sight with a trial from now."""
        now = self._clock.now()
        result = await session.execute(
            insert(m.accounts)
            .values(
                org_id=org_id,
                status="trialing",
                plan=self._settings.default_plan,
                trial_ends_at=now + timedelta(days=self._settings.trial_days),
                current_period_end=now + timedelta(days=self._settings.trial_days),
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing()
            .returning(m.accounts)
        )
        created = result.mappings().first()
        if created is not None:
            account = Account.from_row(created)
            await self._announce(session, account)
            return account
        found = await session.execute(
            select(m.accounts).where(m.accounts.c.org_id == org_id).with_for_update()
        )
        row: RowMapping = found.mappings().one()
        if self.enabled and row["announced"] is None and row["stripe_subscription_id"] is None:
            # Seen while billing was off: its trial starts now that billing is on.
            trial_end = now + timedelta(days=self._settings.trial_days)
            result = await session.execute(
                update(m.accounts)
                .where(m.accounts.c.org_id == org_id)
                .values(
                    status="trialing",
                    trial_ends_at=trial_end,
                    current_period_end=trial_end,
                    updated_at=now,
                )
                .returning(m.accounts)
            )
            row = result.mappings().one()
        # Announced while billing was off (or not at all): say how things stand now.
        account = Account.from_row(row)
        await self._announce(session, account)
        return account

    def _licence(self, account: Account) -> Licence:
        plan = (
            self._settings.plans.get(account.plan)
            or self._settings.plans[self._settings.default_plan]
        )
        return Licence(
            org_id=account.org_id,
            billing_enabled=self.enabled,
            status=account.status if self.enabled else "active",
            licensed=not self.enabled or account.status in LIVE,
            plan=account.plan,
            plan_name=plan.name,
            seat_cents=plan.seat_cents,
            seats=account.seats,
            trial_ends_at=account.trial_ends_at,
            current_period_end=account.current_period_end,
            subscribed=account.stripe_subscription_id is not None,
            profile=BillingProfile(
                company=account.company,
                email=account.email,
                street=account.street,
                postcode=account.postcode,
                city=account.city,
                country=account.country,
                vat_id=account.vat_id,
            ),
            vat_status=account.vat_status,
            vat_checked_at=account.vat_checked_at,
            vat_name=account.vat_name,
            vat_address=account.vat_address,
        )

    async def licence(self, org_id: uuid.UUID) -> Licence:
        async with self._db.transaction() as session:
            return self._licence(await self._account(session, org_id))

    async def update_profile(self, org_id: uuid.UUID, profile: BillingProfile) -> Licence:
        field = profile.check_vat_country()
        if field:
            raise Invalid("vat_id_country", "the VAT id belongs to another country", field)
        async with self._db.sessions() as session:
            before = (
                (await session.execute(select(m.accounts).where(m.accounts.c.org_id == org_id)))
                .mappings()
                .first()
            )
        unchanged = (
            before is not None
            and before["vat_id"] == profile.vat_id
            and before["vat_status"] in ("verified", "foreign")
        )
        vat = {} if unchanged else await self._vat_check(profile.vat_id)
        async with self._db.transaction() as session:
            await self._account(session, org_id)
            result = await session.execute(
                update(m.accounts)
                .where(m.accounts.c.org_id == org_id)
                .values(**profile.model_dump(), **vat, updated_at=self._clock.now())
                .returning(m.accounts)
            )
            account = Account.from_row(result.mappings().one())
            if account.vat_status == "unverified" and profile.vat_id:
                await enqueue_job(
                    session,
                    m.jobs,
                    RECHECK_VAT_ID,
                    VatRecheck(org_id=org_id, vat_id=profile.vat_id),
                    key=f"{org_id}:{profile.vat_id}",
                )
        if self.stripe is not None and account.stripe_customer_id:
            await self.stripe.update_customer(account.stripe_customer_id, customer_of(account))
        return self._licence(account)

    # --- VAT ids and VIES (the decisions are in pix_billing.vat) ----------------------------

    # The accounts columns that record a VAT id's check, for an update.
    def _vat_columns(self, status: str, answer: ViesAnswer | None = None) -> dict[str, Any]:
        return {
            "vat_status": status,
            "vat_checked_at": self._clock.now() if answer is not None else None,
            "vat_name": answer.name if answer else None,
            "vat_address": answer.address if answer else None,
            "vat_consultation": answer.consultation if answer else None,
        }

    async def _vat_check(self, vat_id: str | None) -> dict[str, Any]:
        """The columns for a newly entered VAT id; an id VIES calls invalid is refused."""
        if not vat_id:
            return {**self._vat_columns("foreign"), "vat_status": None}
        if vat_id_country(vat_id) is None:
            return self._vat_columns("foreign")
        try:
            answer = await self.vies.check(vat_id)
        except ViesUnavailable as exc:
            log.warning("billing.vies_unavailable", vat_id=vat_id, error=str(exc))
            return self._vat_columns("unverified")
        if not answer.valid:
            raise Invalid(
                "vat_id_not_registered",
                "VIES, the EU register, does not know this VAT id as valid",
                "vat_id",
            )
        return self._vat_columns("verified", answer)

    async def recheck_vat_id(self, job: VatRecheck, ctx: JobContext) -> None:
        """Ask VIES again about a provisionally accepted id (the job retries while it is down;
        after the last attempt the id stays unverified and the periodic sweep tries again)."""
        async with self._db.sessions() as session:
            row = (
                (await session.execute(select(m.accounts).where(m.accounts.c.org_id == job.org_id)))
                .mappings()
                .first()
            )
        if row is None or row["vat_id"] != job.vat_id or row["vat_status"] != "unverified":
            return
        answer = await self.vies.check(job.vat_id)  # ViesUnavailable: the job tries again
        status = "verified" if answer.valid else "invalid"
        async with self._db.transaction() as session:
            result = await session.execute(
                update(m.accounts)
                .where(
                    m.accounts.c.org_id == job.org_id,
                    m.accounts.c.vat_id == job.vat_id,
                    m.accounts.c.vat_status == "unverified",
                )
                .values(**self._vat_columns(status, answer), updated_at=self._clock.now())
                .returning(m.accounts)
            )
            changed = result.mappings().first()
            await ctx.finish(session)
        log.info("billing.vat_rechecked", org_id=str(job.org_id), status=status)
        account = None if changed is None else Account.from_row(changed)
        if account is not None and self.stripe is not None and account.stripe_customer_id:
            # Reverse charge from now on (or still German VAT): Stripe's customer follows.
            await self.stripe.update_customer(account.stripe_customer_id, customer_of(account))

    async def recheck_unverified(self, ctx: JobContext) -> None:
        """Periodically: every id still unverified gets a recheck job (ids whose rechecks all
        failed while VIES was down, and ids saved before VIES was asked)."""
        async with self._db.transaction() as session:
            rows = (
                await session.execute(
                    select(m.accounts.c.org_id, m.accounts.c.vat_id)
                    .where(
                        m.accounts.c.vat_status == "unverified",
                        m.accounts.c.vat_id.is_not(None),
                    )
                    .limit(500)
                )
            ).all()
            for org_id, vat_id in rows:
                await enqueue_job(
                    session,
                    m.jobs,
                    RECHECK_VAT_ID,
                    VatRecheck(org_id=org_id, vat_id=vat_id),
                    key=f"{org_id}:{vat_id}",
                )

    async def organisation_registered(self, event: UserRegistered) -> None:
        """A new organisation's trial starts with its first user (a colleague's changes nothing)."""
        if not self.enabled:
            return
        async with self._db.transaction() as session:
            if not await first_delivery(
                session, m.inbox, consumer="billing.registrations", event_id=event.event_id
            ):
                return
            account = await self._account(session, event.org_id)
            if account.email is None:
                await session.execute(
                    update(m.accounts)
                    .where(m.accounts.c.org_id == event.org_id)
                    .values(email=str(event.email))
                )

    async def customer_id(self, org_id: uuid.UUID) -> str:
        """The organisation's Stripe customer, created on first need."""
        stripe = self._stripe()
        async with self._db.transaction() as session:
            account = await self._account(session, org_id)
        if account.stripe_customer_id:
            return account.stripe_customer_id
        customer_id = await stripe.create_customer(org_id, customer_of(account))
        async with self._db.transaction() as session:
            await session.execute(
                update(m.accounts)
                .where(m.accounts.c.org_id == org_id, m.accounts.c.stripe_customer_id.is_(None))
                .values(stripe_customer_id=customer_id)
            )
        return customer_id

    # --- Checkout and the portal -------------------------------------------------------------

    async def checkout_url(
        self, org_id: uuid.UUID, *, plan_key: str | None, seats: int, locale: str
    ) -> str:
        stripe = self._stripe()
        key = plan_key or self._settings.default_plan
        plan = self._settings.plans.get(key)
        if plan is None:
            raise Invalid("unknown_plan", f"no plan {key!r}", "plan")
        licence = await self.licence(org_id)
        if licence.subscribed and licence.status not in ("canceled", "incomplete_expired"):
            raise Conflict("already_subscribed", "change the plan in the customer portal")
        customer_id = await self.customer_id(org_id)
        # What is left of the trial carries over to the subscription (at least a day, as Stripe
        # wants); an expired trial subscribes at once.
        left = (licence.trial_ends_at or self._clock.now()) - self._clock.now()
        trial_days = math.ceil(left.total_seconds() / 86400) if left.total_seconds() > 0 else 0
        if licence.subscribed:
            trial_days = 0
        german_vat = (
            treatment_for(
                licence.profile.country,
                vat_id_for_tax(licence.profile.vat_id, licence.vat_status),
            )
            == "de_vat"
        )
        tax_rate = (
            await stripe.tax_rate(self._settings.vat_percent, inclusive=False)
            if german_vat
            else None
        )
        base = self._settings.platform.public_url.rstrip("/")
        return await stripe.checkout(
            org_id=org_id,
            customer_id=customer_id,
            plan_key=key,
            plan_name=plan.name,
            seat_cents=plan.seat_cents,
            currency=plan.currency,
            seats=seats,
            trial_days=min(trial_days, self._settings.trial_days),
            tax_rate=tax_rate,
            success_url=f"{base}/billing?checkout=done",
            cancel_url=f"{base}/billing?checkout=cancelled",
            locale=locale,
        )

    async def portal_url(self, org_id: uuid.UUID, *, locale: str) -> str:
        stripe = self._stripe()
        customer_id = await self.customer_id(org_id)
        base = self._settings.platform.public_url.rstrip("/")
        return await stripe.portal(customer_id, return_url=f"{base}/billing", locale=locale)

    # --- webhooks ---------------------------------------------------------------------------

    async def receive_webhook(self, payload: bytes, signature: str | None) -> bool:
        """Record a verified event once and queue its handling; False for a replay."""
        if self.stripe is None:
            raise WebhookRefused("billing is off")
        event = self.stripe.verified_event(payload, signature)
        async with self._db.transaction() as session:
            result = await session.execute(
                insert(m.stripe_events)
                .values(event_id=event.id, type=event.type, object_id=event.object_id)
                .on_conflict_do_nothing()
                .returning(m.stripe_events.c.event_id)
            )
            if result.first() is None:
                return False
            await enqueue_job(
                session,
                m.jobs,
                STRIPE_EVENT,
                StripeEventRef(
                    event_id=event.id,
                    type=event.type,
                    object_id=event.object_id,
                    object_kind=event.object_kind,
                ),
                key=event.id,
            )
        log.info("stripe.event_received", event_id=event.id, type=event.type)
        return True

    async def checkout_completed(self, session_id: str) -> None:
        stripe = self._stripe()
        checkout = await stripe.checkout_session(session_id)
        if checkout.mode != "subscription" or not checkout.subscription or not checkout.org_id:
            return
        async with self._db.transaction() as session:
            await self._account(session, checkout.org_id)
            await session.execute(
                update(m.accounts)
                .where(m.accounts.c.org_id == checkout.org_id)
                .values(stripe_customer_id=checkout.customer)
            )
        await self.subscription_changed(checkout.subscription)

    async def subscription_changed(self, subscription_id: str) -> None:
        current = await self._stripe().subscription(subscription_id)
        async with self._db.transaction() as session:
            await self._store_subscription(session, current)

    async def _store_subscription(self, session: AsyncSession, sub: Subscription) -> None:
        found = await session.execute(
            select(m.accounts)
            .where(
                (m.accounts.c.stripe_subscription_id == sub.id)
                | (m.accounts.c.stripe_customer_id == sub.customer)
            )
            .with_for_update()
        )
        row = found.mappings().first()
        account = None if row is None else Account.from_row(row)
        if account is None and sub.org_id is not None:
            account = await self._account(session, sub.org_id)
        if account is None:
            log.warning("stripe.subscription_unknown", subscription=sub.id)
            return
        current_id = account.stripe_subscription_id
        if current_id and current_id != sub.id and sub.status not in LIVE:
            # An old subscription's news; the organisation has moved on to another one.
            return
        plan = sub.plan if sub.plan in self._settings.plans else account.plan
        period_end = sub.current_period_end
        if sub.status == "trialing" and sub.trial_end:
            period_end = sub.trial_end
        result = await session.execute(
            update(m.accounts)
            .where(m.accounts.c.org_id == account.org_id)
            .values(
                stripe_subscription_id=sub.id,
                stripe_customer_id=sub.customer,
                status=sub.status,
                plan=plan,
                seats=sub.seats,
                current_period_end=period_end,
                trial_ends_at=sub.trial_end or account.trial_ends_at,
                updated_at=self._clock.now(),
            )
            .returning(m.accounts)
        )
        await self._announce(session, Account.from_row(result.mappings().one()))

    async def _announce(self, session: AsyncSession, account: Account) -> None:
        """Announce the licence when it differs from what was announced last."""
        if not self.enabled:
            return
        state = account.announced_state()
        if account.announced == state:
            return
        await session.execute(
            update(m.accounts).where(m.accounts.c.org_id == account.org_id).values(announced=state)
        )
        await enqueue(
            session,
            m.outbox,
            SubscriptionChanged(
                org_id=account.org_id,
                status=account.status,
                plan=account.plan,
                seats=account.seats,
                current_period_end=account.current_period_end,
                trial_end=account.trial_ends_at,
                occurred_at=self._clock.now(),
            ),
            source=SOURCE,
        )

    async def release_when_off(self) -> None:
        """Billing switched off: organisations it had announced without a licence are told
        they have one again (everything is free and unlocked while billing is off)."""
        if self.enabled:
            return
        async with self._db.transaction() as session:
            rows = await session.execute(
                select(m.accounts)
                .where(
                    m.accounts.c.announced.is_not(None),
                    m.accounts.c.announced["status"].astext.not_in(sorted(LIVE)),
                )
                .with_for_update()
            )
            for account in [Account.from_row(row) for row in rows.mappings()]:
                state = {**account.announced_state(), "status": "active"}
                await session.execute(
                    update(m.accounts)
                    .where(m.accounts.c.org_id == account.org_id)
                    .values(announced=state)
                )
                await enqueue(
                    session,
                    m.outbox,
                    SubscriptionChanged(
                        org_id=account.org_id,
                        status="active",
                        plan=account.plan,
                        seats=account.seats,
                        current_period_end=account.current_period_end,
                        occurred_at=self._clock.now(),
                    ),
                    source=SOURCE,
                )

    async def end_trials(self, ctx: JobContext) -> None:
        """Trials that ran out without a subscription make the CRM read-only."""
        now: datetime = ctx.now
        async with self._db.transaction() as session:
            result = await session.execute(
                update(m.accounts)
                .where(
                    m.accounts.c.status == "trialing",
                    m.accounts.c.stripe_subscription_id.is_(None),
                    m.accounts.c.announced.is_not(None),
                    m.accounts.c.trial_ends_at <= now,
                )
                .values(status="expired", updated_at=now)
                .returning(m.accounts)
            )
            for row in result.mappings().all():
                await self._announce(session, Account.from_row(row))
