"""A/B tests of the mail templates (seed §5.4): experiments with weighted variants, a
deterministic MD5 assignment per lead, conversions (a reply, a booking) tracked, and results
with a two-proportion z-test.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from datetime import datetime
from typing import Literal

from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import Conflict, Invalid, NotFound
from pix_runtime.identity import Identity
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, RowMapping, bindparam, desc, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_leads import models as m
from pix_leads.organisation import TEMPLATE_KINDS
from pix_leads.tenancy import org_scope

SIGNIFICANCE = 0.05
# Asked by every acknowledgement and follow-up: built once.
RUNNING_EXPERIMENT = (
    select(m.experiments)
    .where(
        m.experiments.c.org_id == bindparam("org_id"),
        m.experiments.c.template_kind == bindparam("kind"),
        m.experiments.c.locale == bindparam("locale"),
        m.experiments.c.status == "running",
    )
    .limit(1)
)


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60)
    weight: int = Field(ge=1, le=1000)
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=20_000)


class ExperimentForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    template_kind: str = Field(max_length=30)
    locale: Literal["de", "en"] = "de"
    variants: list[Variant] = Field(min_length=2, max_length=10)


class Experiment(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    template_kind: str
    locale: str
    status: str
    variants: list[Variant]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def from_row(cls, row: RowMapping) -> Experiment:
        return cls.model_validate(dict(row))


class VariantResult(BaseModel):
    name: str
    assigned: int
    replied: int
    booked: int
    reply_rate: float
    booking_rate: float
    # Against the first variant (the control): the two-proportion z-test on replies.
    z: float | None
    p_value: float | None
    significant: bool


class ExperimentResults(BaseModel):
    experiment: Experiment
    variants: list[VariantResult]


def assign(experiment_id: uuid.UUID, lead_id: uuid.UUID, variants: list[Variant]) -> Variant:
    """The same lead always gets the same variant, in proportion to the weights."""
    digest = hashlib.md5(f"{experiment_id}:{lead_id}".encode(), usedforsecurity=False).hexdigest()
    point = int(digest, 16) % sum(v.weight for v in variants)
    for variant in variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    return variants[-1]


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float] | None:
    """z and the two-sided p-value of H0: both proportions are equal; None without data."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 0.0, 1.0
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x2 / n2 - x1 / n1) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


class Experiments:
    def __init__(self, db: Database, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def _scope(self, viewer: Identity) -> ColumnElement[bool]:
        return org_scope(m.experiments.c.org_id, viewer)

    async def create(self, form: ExperimentForm, viewer: Identity) -> Experiment:
        if form.template_kind not in TEMPLATE_KINDS:
            raise Invalid("invalid", f"one of {', '.join(TEMPLATE_KINDS)}", "template_kind")
        if len({v.name for v in form.variants}) != len(form.variants):
            raise Invalid("invalid", "variant names must differ", "variants")
        async with self._db.transaction() as session:
            row = (
                (
                    await session.execute(
                        m.experiments.insert()
                        .values(
                            id=uuid.uuid4(),
                            org_id=viewer.org_id,
                            name=form.name,
                            template_kind=form.template_kind,
                            locale=form.locale,
                            status="draft",
                            variants=[v.model_dump() for v in form.variants],
                            created_at=self._clock.now(),
                        )
                        .returning(*m.experiments.c)
                    )
                )
                .mappings()
                .one()
            )
        return Experiment.from_row(row)

    async def list(self, viewer: Identity) -> list[Experiment]:
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(m.experiments)
                .where(self._scope(viewer))
                .order_by(desc(m.experiments.c.created_at))
            )
            return [Experiment.from_row(r) for r in rows.mappings()]

    async def _row(
        self, session: AsyncSession, experiment_id: uuid.UUID, viewer: Identity
    ) -> RowMapping:
        row = (
            (
                await session.execute(
                    select(m.experiments)
                    .where(m.experiments.c.id == experiment_id, self._scope(viewer))
                    .with_for_update()
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("experiment")
        return row

    async def start(self, experiment_id: uuid.UUID, viewer: Identity) -> Experiment:
        async with self._db.transaction() as session:
            row = await self._row(session, experiment_id, viewer)
            if row["status"] != "draft":
                raise Conflict("invalid_transition", f"a {row['status']} experiment cannot start")
            running = await session.scalar(
                select(func.count()).where(
                    m.experiments.c.org_id == row["org_id"],
                    m.experiments.c.template_kind == row["template_kind"],
                    m.experiments.c.locale == row["locale"],
                    m.experiments.c.status == "running",
                )
            )
            if running:
                raise Conflict("already_running", "another experiment tests this template")
            result = await session.execute(
                update(m.experiments)
                .where(m.experiments.c.id == experiment_id)
                .values(status="running", started_at=self._clock.now())
                .returning(*m.experiments.c)
            )
            return Experiment.from_row(result.mappings().one())

    async def end(self, experiment_id: uuid.UUID, viewer: Identity) -> Experiment:
        async with self._db.transaction() as session:
            row = await self._row(session, experiment_id, viewer)
            if row["status"] != "running":
                raise Conflict("invalid_transition", f"a {row['status']} experiment cannot end")
            result = await session.execute(
                update(m.experiments)
                .where(m.experiments.c.id == experiment_id)
                .values(status="ended", ended_at=self._clock.now())
                .returning(*m.experiments.c)
            )
            return Experiment.from_row(result.mappings().one())

    async def results(self, experiment_id: uuid.UUID, viewer: Identity) -> ExperimentResults:
        a = m.experiment_assignments
        async with self._db.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(m.experiments).where(
                            m.experiments.c.id == experiment_id, self._scope(viewer)
                        )
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound("experiment")
            counts = await session.execute(
                select(
                    a.c.variant,
                    func.count(),
                    func.count(a.c.replied_at),
                    func.count(a.c.booked_at),
                )
                .where(a.c.experiment_id == experiment_id)
                .group_by(a.c.variant)
            )
            by_variant = {name: (n, r, b) for name, n, r, b in counts.all()}
        experiment = Experiment.from_row(row)
        control = by_variant.get(experiment.variants[0].name, (0, 0, 0))
        results = []
        for index, variant in enumerate(experiment.variants):
            n, replied, booked = by_variant.get(variant.name, (0, 0, 0))
            test = None if index == 0 else two_proportion_z(control[1], control[0], replied, n)
            results.append(
                VariantResult(
                    name=variant.name,
                    assigned=n,
                    replied=replied,
                    booked=booked,
                    reply_rate=replied / n if n else 0.0,
                    booking_rate=booked / n if n else 0.0,
                    z=test[0] if test else None,
                    p_value=test[1] if test else None,
                    significant=bool(test and test[1] < SIGNIFICANCE),
                )
            )
        return ExperimentResults(experiment=experiment, variants=results)

    async def variant_for(
        self, session: AsyncSession, lead: RowMapping, template_kind: str
    ) -> Variant | None:
        """The variant the lead gets of a running experiment on this template, if any."""
        row = (
            (
                await session.execute(
                    RUNNING_EXPERIMENT,
                    {"org_id": lead["org_id"], "kind": template_kind, "locale": lead["locale"]},
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        variants = [Variant.model_validate(v) for v in row["variants"]]
        chosen = assign(row["id"], lead["id"], variants)
        await session.execute(
            insert(m.experiment_assignments)
            .values(
                experiment_id=row["id"],
                lead_id=lead["id"],
                variant=chosen.name,
                assigned_at=self._clock.now(),
            )
            .on_conflict_do_nothing()
        )
        return chosen
