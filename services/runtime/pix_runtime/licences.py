"""The organisation's CRM licence, from billing's `billing.subscription.changed.v1`, for the CRM
services (leads, listings): each keeps the newest announcement per organisation in its own
schema and refuses a member's new work with 403 `licence_inactive` (and a link to the billing
page) while the licence is not active or in its trial. Reading and taking something away
(DELETE, and what a service names as always allowed) go on, and nothing is deleted. An
organisation billing never announced is in its trial (with billing off billing announces
nothing): it is licensed.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from faststream.kafka import KafkaBroker
from pix_contracts.billing import LICENSED_STATUSES, SubscriptionChanged
from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid, select
from sqlalchemy.dialects.postgresql import insert

from pix_runtime.broker import subscribe
from pix_runtime.db import Database
from pix_runtime.errors import DomainError
from pix_runtime.identity import IDENTITY_HEADER, InvalidIdentity, verify_identity
from pix_runtime.inbox import first_delivery

ALWAYS_ALLOWED_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def licences_table(metadata: MetaData) -> Table:
    """The CRM licence per organisation, as billing last announced it."""
    return Table(
        "licences",
        metadata,
        Column("org_id", Uuid, primary_key=True),
        Column("status", String(20), nullable=False),
        Column("plan", String(40), nullable=False),
        Column("changed_at", DateTime(timezone=True), nullable=False),
    )


class LicenceInactive(DomainError):
    status = 403


class Licences:
    def __init__(
        self,
        db: Database,
        *,
        table: Table,
        inbox: Table,
        consumer: str,
        billing_url: str,
        always_allowed: Callable[[Request], bool] = lambda request: False,
    ) -> None:
        self._db = db
        self._table = table
        self._inbox = inbox
        self.consumer = consumer
        self._billing_url = billing_url
        self._always_allowed = always_allowed

    async def licence_changed(self, event: SubscriptionChanged) -> None:
        values = {"status": event.status, "plan": event.plan, "changed_at": event.occurred_at}
        t = self._table
        async with self._db.transaction() as session:
            if not await first_delivery(
                session, self._inbox, consumer=self.consumer, event_id=event.event_id
            ):
                return
            # The newest announcement wins, whatever order they arrive in.
            await session.execute(
                insert(t)
                .values(org_id=event.org_id, **values)
                .on_conflict_do_update(
                    index_elements=[t.c.org_id],
                    set_=values,
                    where=t.c.changed_at < event.occurred_at,
                )
            )

    async def refusal(self, org_id: object) -> LicenceInactive | None:
        async with self._db.sessions() as session:
            status = await session.scalar(
                select(self._table.c.status).where(self._table.c.org_id == org_id)
            )
        if status is None or status in LICENSED_STATUSES:
            return None
        return LicenceInactive(
            "licence_inactive",
            f"The CRM licence of your organisation is not active ({status}): everything stays "
            f"readable, new work needs an active licence. Billing: {self._billing_url}",
        )

    def always_allowed(self, request: Request) -> bool:
        return request.method in ALWAYS_ALLOWED_METHODS or self._always_allowed(request)


def register_licence_handler(broker: KafkaBroker, licences: Licences) -> None:
    @subscribe(broker, SubscriptionChanged, group=licences.consumer)
    async def licence_changed(event: SubscriptionChanged) -> None:
        await licences.licence_changed(event)


async def _licensed(request: Request) -> None:
    """Router dependency: a member's write needs the organisation's licence."""
    licences: Licences = request.app.state.licences
    if licences.always_allowed(request):
        return
    header = request.headers.get(IDENTITY_HEADER)
    if not header:
        return  # the route itself answers 401
    try:
        identity = verify_identity(header, request.app.state.internal_key)
    except InvalidIdentity:
        return
    if identity.is_admin:
        return
    refusal = await licences.refusal(identity.org_id)
    if refusal is not None:
        raise refusal


LicenceRequired = Depends(_licensed)
