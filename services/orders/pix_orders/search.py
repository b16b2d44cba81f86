"""Which orders a list or an export shows: tenancy first, then the caller's filters."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from pix_contracts.events import ORDER_STATUSES
from pix_runtime.errors import Forbidden, Invalid
from pix_runtime.identity import Identity
from sqlalchemy import ColumnElement, Select, String, cast, func, literal, or_, select

from pix_orders.models import appointments, orders
from pix_orders.validation import BERLIN

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


@dataclass(frozen=True)
class OrderFilter:
    status: str | None = None
    q: str | None = None
    org_id: uuid.UUID | None = None
    placed_from: date | None = None
    placed_to: date | None = None
    limit: int = DEFAULT_LIMIT


def filtered_query(viewer: Identity, wanted: OrderFilter) -> Select[Any]:
    conditions: list[ColumnElement[bool]] = []
    if viewer.role == "photographer":
        # Platform staff with no organisation of their own: only the shoots assigned to them.
        if wanted.org_id is not None:
            raise Forbidden("only administrators may filter by organisation")
        conditions.append(assigned_to(viewer.user_id))
    elif not viewer.is_admin:
        # A client never sees another organisation's orders, whatever it asks for.
        if wanted.org_id is not None and wanted.org_id != viewer.org_id:
            raise Forbidden("only administrators may filter by organisation")
        conditions.append(orders.c.org_id == viewer.org_id)
    elif wanted.org_id is not None:
        conditions.append(orders.c.org_id == wanted.org_id)
    if wanted.status:
        if wanted.status not in ORDER_STATUSES:
            raise Invalid("invalid_choice", f"unknown status {wanted.status!r}", "status")
        conditions.append(orders.c.status == wanted.status)
    if wanted.placed_from:
        conditions.append(orders.c.created_at >= _berlin_midnight(wanted.placed_from))
    if wanted.placed_to:
        end = _berlin_midnight(wanted.placed_to + timedelta(days=1))
        conditions.append(orders.c.created_at < end)
    term = (wanted.q or "").strip()
    if term:
        pattern = "%" + _escape_like(term[:200]) + "%"
        reference = literal("PIX-") + func.lpad(cast(orders.c.number, String), 6, "0")
        conditions.append(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (
                        reference,
                        orders.c.contact_name,
                        orders.c.contact_email,
                        orders.c.property_address,
                        orders.c.city,
                        orders.c.postcode,
                    )
                )
            )
        )
    return (
        select(orders)
        .where(*conditions)
        .order_by(orders.c.created_at.desc(), orders.c.number.desc())
    )


def assigned_to(photographer_id: uuid.UUID) -> ColumnElement[bool]:
    """The order has a live (not cancelled) appointment with this photographer."""
    a = appointments
    return (
        select(a.c.order_id)
        .where(
            a.c.order_id == orders.c.id,
            a.c.photographer_id == photographer_id,
            a.c.cancelled_at.is_(None),
        )
        .exists()
    )


def _berlin_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BERLIN)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
