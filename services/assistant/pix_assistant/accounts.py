"""Every model call on the books (seed: AiUsageLog), tool calls and decisions as an audit trail
(seed: AiAuditLog), and each organisation's monthly budget."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import Forbidden
from pix_runtime.identity import Identity
from pydantic import BaseModel
from sqlalchemy import Date, cast, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from pix_assistant import models as m
from pix_assistant.settings import Price

Outcome = Literal["ok", "error", "budget_exhausted"]


@dataclass(frozen=True)
class ModelCall:
    org_id: uuid.UUID
    user_id: uuid.UUID | None
    conversation_id: uuid.UUID | None
    feature: str
    model: str
    tokens_in: int
    tokens_out: int
    latency_ms: int
    outcome: Outcome
    error: str | None = None
    # Image models are priced per picture.
    images: int = 0


class CostRow(BaseModel):
    org_id: uuid.UUID
    feature: str
    day: date
    calls: int
    tokens_in: int
    tokens_out: int
    cost_eur: float
    errors: int


class UsageEntry(BaseModel):
    id: int
    org_id: uuid.UUID
    user_id: uuid.UUID | None
    conversation_id: uuid.UUID | None
    feature: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_eur: float
    latency_ms: int
    outcome: str
    at: datetime


class Budget(BaseModel):
    org_id: uuid.UUID
    monthly_eur: float
    spent_eur: float
    month: str

    @property
    def exhausted(self) -> bool:
        return self.spent_eur >= self.monthly_eur


class AuditEntry(BaseModel):
    id: int
    kind: str
    name: str
    detail: dict[str, Any]
    at: datetime


def _admin(viewer: Identity) -> None:
    if not viewer.is_admin:
        raise Forbidden("only platform admins see the accounts of all organisations")


class Accounts:
    def __init__(
        self, db: Database, *, clock: Clock, prices: dict[str, Price], default_budget: float
    ) -> None:
        self._db = db
        self._clock = clock
        self._prices = prices
        self._default_budget = default_budget

    def cost(self, model: str, tokens_in: int, tokens_out: int, images: int = 0) -> Decimal:
        price = self._prices.get(model)
        if price is None:
            return Decimal(0)
        tokens = tokens_in * price.input_eur + tokens_out * price.output_eur
        total = Decimal(str(tokens)) / Decimal(1_000_000) + Decimal(str(images * price.image_eur))
        return total.quantize(Decimal("0.000001"))

    async def record(self, call: ModelCall) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                insert(m.usage).values(
                    org_id=call.org_id,
                    user_id=call.user_id,
                    conversation_id=call.conversation_id,
                    feature=call.feature,
                    model=call.model,
                    tokens_in=call.tokens_in,
                    tokens_out=call.tokens_out,
                    cost_eur=self.cost(call.model, call.tokens_in, call.tokens_out, call.images),
                    latency_ms=call.latency_ms,
                    outcome=call.outcome,
                    error=call.error[:500] if call.error else None,
                    at=self._clock.now(),
                )
            )

    async def audit(
        self,
        who: Identity,
        conversation_id: uuid.UUID | None,
        kind: str,
        name: str,
        detail: dict[str, Any],
    ) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                insert(m.audit).values(
                    org_id=who.org_id,
                    user_id=who.user_id,
                    conversation_id=conversation_id,
                    kind=kind,
                    name=name,
                    detail=detail,
                    at=self._clock.now(),
                )
            )

    async def trail(self, conversation_id: uuid.UUID) -> list[AuditEntry]:
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(m.audit)
                .where(m.audit.c.conversation_id == conversation_id)
                .order_by(m.audit.c.id)
            )
            return [AuditEntry.model_validate(dict(r)) for r in rows.mappings()]

    async def budget(self, org_id: uuid.UUID) -> Budget:
        now = self._clock.now()
        month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        async with self._db.sessions() as session:
            spent = await session.scalar(
                select(func.coalesce(func.sum(m.usage.c.cost_eur), 0)).where(
                    m.usage.c.org_id == org_id, m.usage.c.at >= month_start
                )
            )
            own = await session.scalar(
                select(m.budgets.c.monthly_eur).where(m.budgets.c.org_id == org_id)
            )
        return Budget(
            org_id=org_id,
            monthly_eur=float(own) if own is not None else self._default_budget,
            spent_eur=float(spent or 0),
            month=month_start.strftime("%Y-%m"),
        )

    async def set_budget(self, viewer: Identity, org_id: uuid.UUID, monthly_eur: float) -> Budget:
        _admin(viewer)
        async with self._db.transaction() as session:
            statement = pg_insert(m.budgets).values(
                org_id=org_id, monthly_eur=monthly_eur, updated_at=self._clock.now()
            )
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=[m.budgets.c.org_id],
                    set_={"monthly_eur": monthly_eur, "updated_at": self._clock.now()},
                )
            )
        return await self.budget(org_id)

    async def costs(
        self, viewer: Identity, *, since: date | None = None, org_id: uuid.UUID | None = None
    ) -> list[CostRow]:
        """Cost per organisation, feature and day (admins: every organisation)."""
        _admin(viewer)
        day = cast(func.timezone("UTC", m.usage.c.at), Date).label("day")
        query = (
            select(
                m.usage.c.org_id,
                m.usage.c.feature,
                day,
                func.count().label("calls"),
                func.sum(m.usage.c.tokens_in).label("tokens_in"),
                func.sum(m.usage.c.tokens_out).label("tokens_out"),
                func.sum(m.usage.c.cost_eur).label("cost_eur"),
                func.count().filter(m.usage.c.outcome == "error").label("errors"),
            )
            .group_by(m.usage.c.org_id, m.usage.c.feature, day)
            .order_by(day.desc(), m.usage.c.org_id, m.usage.c.feature)
        )
        if since is not None:
            query = query.where(m.usage.c.at >= since)
        if org_id is not None:
            query = query.where(m.usage.c.org_id == org_id)
        async with self._db.sessions() as session:
            rows = await session.execute(query.limit(5000))
            return [CostRow.model_validate(dict(r)) for r in rows.mappings()]

    async def calls(
        self, viewer: Identity, *, org_id: uuid.UUID | None = None, limit: int = 200
    ) -> list[UsageEntry]:
        _admin(viewer)
        query = select(m.usage).order_by(m.usage.c.id.desc()).limit(limit)
        if org_id is not None:
            query = query.where(m.usage.c.org_id == org_id)
        async with self._db.sessions() as session:
            rows = await session.execute(query)
            return [UsageEntry.model_validate(dict(r)) for r in rows.mappings()]
