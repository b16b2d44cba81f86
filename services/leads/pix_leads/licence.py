"""The organisation's CRM licence, from billing's `billing.subscription.changed.v1`.

While it is not active (or in its trial) the leads API refuses new work with 403
`licence_inactive` and a link to the billing page; reading, erasing (GDPR) and the intake of
inquiries go on, and nothing is deleted. An organisation billing never announced is in its
trial (and with billing off billing announces nothing): it is licensed.
"""

from __future__ import annotations

from fastapi import Depends, Request
from faststream.kafka import KafkaBroker
from pix_contracts.billing import LICENSED_STATUSES, SubscriptionChanged
from pix_runtime.broker import subscribe
from pix_runtime.db import Database
from pix_runtime.errors import DomainError
from pix_runtime.identity import IDENTITY_HEADER, InvalidIdentity, verify_identity
from pix_runtime.inbox import first_delivery
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from pix_leads import models as m

CONSUMER = "leads.licences"
# Writes that take something away stay possible without a licence.
ALWAYS_ALLOWED_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class LicenceInactive(DomainError):
    status = 403


class Licences:
    def __init__(self, db: Database, *, billing_url: str) -> None:
        self._db = db
        self._billing_url = billing_url

    async def licence_changed(self, event: SubscriptionChanged) -> None:
        values = {"status": event.status, "plan": event.plan, "changed_at": event.occurred_at}
        async with self._db.transaction() as session:
            if not await first_delivery(
                session, m.inbox, consumer=CONSUMER, event_id=event.event_id
            ):
                return
            # The newest announcement wins, whatever order they arrive in.
            await session.execute(
                insert(m.licences)
                .values(org_id=event.org_id, **values)
                .on_conflict_do_update(
                    index_elements=[m.licences.c.org_id],
                    set_=values,
                    where=m.licences.c.changed_at < event.occurred_at,
                )
            )

    async def refusal(self, org_id: object) -> LicenceInactive | None:
        async with self._db.sessions() as session:
            status = await session.scalar(
                select(m.licences.c.status).where(m.licences.c.org_id == org_id)
            )
        if status is None or status in LICENSED_STATUSES:
            return None
        return LicenceInactive(
            "licence_inactive",
            f"The CRM licence of your organisation is not active ({status}): everything stays "
            f"readable, new work needs an active licence. Billing: {self._billing_url}",
        )


def register_licence_handler(broker: KafkaBroker, licences: Licences) -> None:
    @subscribe(broker, SubscriptionChanged, group=CONSUMER)
    async def licence_changed(event: SubscriptionChanged) -> None:
        await licences.licence_changed(event)


async def _licensed(request: Request) -> None:
    """Router dependency: a member's write needs the organisation's licence."""
    if request.method in ALWAYS_ALLOWED_METHODS:
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
    licences: Licences = request.app.state.licences
    refusal = await licences.refusal(identity.org_id)
    if refusal is not None:
        raise refusal


LicenceRequired = Depends(_licensed)
