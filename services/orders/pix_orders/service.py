"""Photo-shoot orders: placing one reserves its gallery and announces it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pix_contracts import OrderPlaced
from pix_runtime.db import Database
from pix_runtime.identity import Identity
from pix_runtime.outbox import enqueue
from sqlalchemy import RowMapping, select

from pix_orders.models import orders, outbox

SOURCE = "/pix/orders"


@dataclass(frozen=True)
class OrderDraft:
    contact_name: str
    contact_email: str
    property_address: str
    locale: Literal["de", "en"]
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Order:
    id: uuid.UUID
    reference: str
    org_id: uuid.UUID
    gallery_id: uuid.UUID
    status: str
    contact_name: str
    contact_email: str
    property_address: str
    locale: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Order:
        return cls(
            id=row["id"],
            reference=reference_of(row["number"]),
            org_id=row["org_id"],
            gallery_id=row["gallery_id"],
            status=row["status"],
            contact_name=row["contact_name"],
            contact_email=row["contact_email"],
            property_address=row["property_address"],
            locale=row["locale"],
            created_at=row["created_at"],
        )


def reference_of(number: int) -> str:
    return f"PIX-{number:06d}"


class OrderBook:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def place(self, draft: OrderDraft, by: Identity) -> Order:
        """Place an order once per idempotency key; a repeated submit returns the first order."""
        if draft.idempotency_key:
            existing = await self._by_idempotency_key(by.org_id, draft.idempotency_key)
            if existing:
                return existing
        async with self._db.transaction() as session:
            row = (
                (
                    await session.execute(
                        orders.insert()
                        .values(
                            id=uuid.uuid4(),
                            org_id=by.org_id,
                            gallery_id=uuid.uuid4(),
                            placed_by=by.user_id,
                            contact_name=draft.contact_name,
                            contact_email=draft.contact_email,
                            locale=draft.locale,
                            property_address=draft.property_address,
                            idempotency_key=draft.idempotency_key,
                        )
                        .returning(*orders.c)
                    )
                )
                .mappings()
                .one()
            )
            order = Order.from_row(row)
            await enqueue(
                session,
                outbox,
                OrderPlaced(
                    order_id=order.id,
                    org_id=order.org_id,
                    gallery_id=order.gallery_id,
                    reference=order.reference,
                    placed_by=by.user_id,
                    contact_name=order.contact_name,
                    contact_email=order.contact_email,
                    locale=draft.locale,
                    property_address=order.property_address,
                ),
                source=SOURCE,
            )
        return order

    async def _by_idempotency_key(self, org_id: uuid.UUID, key: str) -> Order | None:
        async with self._db.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(orders).where(
                            orders.c.org_id == org_id, orders.c.idempotency_key == key
                        )
                    )
                )
                .mappings()
                .first()
            )
        return Order.from_row(row) if row else None

    async def list_for(self, viewer: Identity) -> list[Order]:
        query = select(orders).order_by(orders.c.created_at.desc()).limit(200)
        if not viewer.is_admin:
            query = query.where(orders.c.org_id == viewer.org_id)
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return [Order.from_row(row) for row in rows]

    async def get_for(self, order_id: uuid.UUID, viewer: Identity) -> Order | None:
        """The order, or None when it does not exist or belongs to another organisation."""
        async with self._db.sessions() as session:
            row = (
                (await session.execute(select(orders).where(orders.c.id == order_id)))
                .mappings()
                .first()
            )
        if row is None or not viewer.may_access(row["org_id"]):
            return None
        return Order.from_row(row)
