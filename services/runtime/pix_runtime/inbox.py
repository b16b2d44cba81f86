"""The idempotent-consumer inbox: an event's effect is applied once, however often it arrives.

A handler calls `first_delivery` inside the transaction of its effect. The row and the effect
commit together, so a redelivered event (after a crash before the offset commit, or a replay)
finds its row and is skipped.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


async def first_delivery(
    session: AsyncSession, table: Table, *, consumer: str, event_id: uuid.UUID
) -> bool:
    """True the first time (consumer, event_id) is seen in a committed transaction."""
    result = await session.execute(
        insert(table)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(table.c.event_id)
    )
    return result.first() is not None
