"""The admin's figures: revenue per month, open invoices, failed payments, trials ending."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.identity import Identity, report_scope
from sqlalchemy import func, select

from pix_billing import models as m
from pix_billing.invoicing import invoice_view
from pix_billing.records import AdminSummary, FailedAccount, MonthRevenue, TrialEnding


class Reports:
    def __init__(self, db: Database, clock: Clock, *, enabled: bool) -> None:
        self._db = db
        self._clock = clock
        self._enabled = enabled

    async def revenue_per_month(
        self, caller: Identity, org_id: uuid.UUID | None, since: datetime
    ) -> list[MonthRevenue]:
        """Paid invoices per month (Berlin) since `since`, for one organisation or all."""
        scope = report_scope(caller, org_id)
        inv = m.invoices.c
        month = func.to_char(func.timezone("Europe/Berlin", inv.paid_at), "YYYY-MM")
        query = (
            select(
                month.label("month"),
                func.sum(inv.gross_cents).label("gross"),
                func.sum(inv.net_cents).label("net"),
                func.count().label("n"),
            )
            .where(inv.status == "paid", inv.paid_at >= since)
            .group_by(month)
            .order_by(month)
        )
        if scope is not None:
            query = query.where(inv.org_id == scope)
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            MonthRevenue(
                month=r.month, gross_cents=int(r.gross), net_cents=int(r.net), invoices=r.n
            )
            for r in rows
        ]

    async def summary(self, *, months: int = 12, trial_window_days: int = 7) -> AdminSummary:
        now = self._clock.now()
        inv = m.invoices.c
        month = func.to_char(func.timezone("Europe/Berlin", inv.paid_at), "YYYY-MM")
        async with self._db.sessions() as session:
            revenue = await session.execute(
                select(
                    month.label("month"),
                    func.sum(inv.gross_cents).label("gross"),
                    func.sum(inv.net_cents).label("net"),
                    func.count().label("n"),
                )
                .where(inv.status == "paid", inv.paid_at >= now - timedelta(days=31 * months))
                .group_by(month)
                .order_by(month.desc())
            )
            open_rows = await session.execute(
                select(m.invoices).where(inv.status == "open").order_by(inv.due_at).limit(200)
            )
            failed_rows = await session.execute(
                select(m.invoices)
                .where(inv.status == "open", inv.payment_failed_at.is_not(None))
                .order_by(inv.payment_failed_at.desc())
                .limit(200)
            )
            acc = m.accounts.c
            past_due = await session.execute(
                select(acc.org_id, acc.company, acc.status)
                .where(acc.status.in_(("past_due", "unpaid", "incomplete")))
                .order_by(acc.updated_at.desc())
            )
            trials = await session.execute(
                select(acc.org_id, acc.company, acc.trial_ends_at)
                .where(
                    acc.status == "trialing",
                    acc.trial_ends_at <= now + timedelta(days=trial_window_days),
                )
                .order_by(acc.trial_ends_at)
            )
            return AdminSummary(
                billing_enabled=self._enabled,
                revenue=[
                    MonthRevenue(
                        month=r.month, gross_cents=r.gross or 0, net_cents=r.net or 0, invoices=r.n
                    )
                    for r in revenue
                ],
                open_invoices=[invoice_view(r) for r in open_rows.mappings()],
                failed_payments=[invoice_view(r) for r in failed_rows.mappings()],
                accounts_past_due=[
                    FailedAccount(org_id=r.org_id, company=r.company, status=r.status)
                    for r in past_due
                ],
                trials_ending=[
                    TrialEnding(org_id=r.org_id, company=r.company, trial_ends_at=r.trial_ends_at)
                    for r in trials
                ],
            )
