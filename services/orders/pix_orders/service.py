"""Photo-shoot orders: placing one (once per idempotency key), its workflow, notes and search.

Placing an order reserves its gallery id and announces the order; every status change is
recorded with who, when and why, and announced too. Both go through the outbox, in the
transaction of the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from pix_contracts import (
    GalleryDelivered,
    OrderPlaced,
    OrderStatusChanged,
    UserDeleted,
    UserDeletedV2,
)
from pix_contracts.events import OrderedService, PreferredSlot
from pix_runtime.db import Database
from pix_runtime.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from pix_runtime.identity import Identity
from pix_runtime.inbox import first_delivery
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue
from sqlalchemy import String, cast, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_orders.catalogue import CURRENCY, PriceListEntry, price_list
from pix_orders.models import inbox, notes, orders, outbox, status_history
from pix_orders.records import (
    HistoryEntry,
    Note,
    Order,
    OrderDetail,
    one_line_address,
)
from pix_orders.reports import (
    WeekDeliveryTime,
    WeekOrders,
    delivery_time_per_week,
    orders_per_week,
)
from pix_orders.search import MAX_LIMIT, OrderFilter, assigned_to, filtered_query
from pix_orders.validation import OrderForm, ValidOrder, validate_order
from pix_orders.workflow import allowed_transitions

log = get_logger(__name__)

SOURCE = "/pix/orders"
GDPR_CONSUMER = "orders.user-deleted"
DELIVERY_CONSUMER = "orders.gallery-delivered"
DELETED_NAME = "gelöscht"
MAX_NOTE = 2000
# Roles of an organisation's own people ("client" in history rows from before the roles split);
# platform staff (admin, photographer) and the system are not named to clients.
MEMBER_ROLES = frozenset({"owner", "agent", "client"})


class EmailUnverified(DomainError):
    status = 403

    def __init__(self) -> None:
        super().__init__("email_unverified", "confirm your email address before ordering")


class OrderBook:
    def __init__(
        self,
        db: Database,
        prices_cents: dict[str, int],
        *,
        today: Callable[[], date] | None = None,
    ) -> None:
        self._db = db
        self._prices = dict(prices_cents)
        # Tests pin "today" to check the date rules; production asks the clock.
        self._today = today

    def price_list(self) -> list[PriceListEntry]:
        return price_list(self._prices)

    # --- placing ------------------------------------------------------------------------------

    async def place(
        self, form: OrderForm, by: Identity, *, idempotency_key: str | None = None
    ) -> tuple[Order, bool]:
        """The order and True, or the order placed earlier with the same key and False.

        A double submit races two inserts; the unique (org, key) constraint lets exactly one of
        them through (`ON CONFLICT DO NOTHING` waits for the other transaction), and the loser
        reads the winner's order.
        """
        if not (by.email_verified or by.is_admin):
            # Orders send mail to the contact typed into the form: only a confirmed account
            # may make the platform write to an address.
            raise EmailUnverified()
        valid = validate_order(
            form, known_services=set(self._prices), today=self._today() if self._today else None
        )
        async with self._db.transaction() as session:
            inserted = (
                (
                    await session.execute(
                        insert(orders)
                        .values(**self._columns(valid, by, idempotency_key))
                        .on_conflict_do_nothing(constraint="orders_idempotency")
                        .returning(*orders.c)
                    )
                )
                .mappings()
                .first()
            )
            if inserted is None:
                existing = (
                    (
                        await session.execute(
                            select(orders).where(
                                orders.c.org_id == by.org_id,
                                orders.c.idempotency_key == idempotency_key,
                            )
                        )
                    )
                    .mappings()
                    .one()
                )
                return Order.from_row(existing), False
            order = Order.from_row(inserted)
            await self._record(session, order.id, None, "received", by, note=None)
            await enqueue(session, outbox, self._placed_event(order, by), source=SOURCE)
        log.info("order.placed", reference=order.reference, order_id=str(order.id))
        return order, True

    def _columns(
        self, valid: ValidOrder, by: Identity, idempotency_key: str | None
    ) -> dict[str, Any]:  # the new row's column values, for the insert
        lines = [{"key": key, "price_cents": self._prices[key]} for key in valid.services]
        return {
            "id": uuid.uuid4(),
            "org_id": by.org_id,
            "gallery_id": uuid.uuid4(),
            "placed_by": by.user_id,
            "contact_name": valid.contact_name,
            "contact_email": valid.contact_email,
            "contact_phone": valid.contact_phone,
            "locale": valid.locale,
            "street": valid.street,
            "house_number": valid.house_number,
            "postcode": valid.postcode,
            "city": valid.city,
            "country": valid.country,
            "property_address": one_line_address(
                valid.street, valid.house_number, valid.postcode, valid.city, valid.country
            ),
            "property_type": valid.property_type,
            "marketing": valid.marketing,
            "living_area_m2": valid.living_area_m2,
            "rooms": valid.rooms,
            "services": lines,
            "total_cents": sum(line["price_cents"] for line in lines),
            "currency": CURRENCY,
            "preferred_slots": [slot.as_json() for slot in valid.preferred_slots],
            "access_notes": valid.access_notes,
            "idempotency_key": idempotency_key,
        }

    @staticmethod
    def _placed_event(order: Order, by: Identity) -> OrderPlaced:
        return OrderPlaced(
            order_id=order.id,
            org_id=order.org_id,
            gallery_id=order.gallery_id,
            reference=order.reference,
            placed_by=by.user_id,
            contact_name=order.contact_name,
            contact_email=order.contact_email,
            locale="en" if order.locale == "en" else "de",
            property_address=order.property_address,
            contact_phone=order.contact_phone,
            property_type=order.property_type,
            street=order.street,
            house_number=order.house_number,
            postcode=order.postcode,
            city=order.city,
            country=order.country,
            marketing="rent" if order.marketing == "rent" else "sale",
            living_area_m2=order.living_area_m2,
            rooms=order.rooms,
            services=[OrderedService(key=s.key, price_cents=s.price_cents) for s in order.services],
            total_cents=order.total_cents,
            currency=order.currency,
            preferred_slots=[
                PreferredSlot(date=s.date, window=s.window) for s in order.preferred_slots
            ],
        )

    # --- reading ------------------------------------------------------------------------------

    async def weekly_report(
        self, caller: Identity, org_id: uuid.UUID | None, since: datetime
    ) -> list[WeekOrders]:
        return await orders_per_week(self._db, caller, org_id, since)

    async def delivery_report(
        self, caller: Identity, org_id: uuid.UUID | None, since: datetime
    ) -> list[WeekDeliveryTime]:
        return await delivery_time_per_week(self._db, caller, org_id, since)

    async def list_for(self, viewer: Identity, wanted: OrderFilter) -> list[Order]:
        query = filtered_query(viewer, wanted).limit(max(1, min(wanted.limit, MAX_LIMIT)))
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return [Order.from_row(row) for row in rows]

    async def all_for_export(self, viewer: Identity, wanted: OrderFilter) -> list[Order]:
        if not viewer.is_admin:
            raise Forbidden()
        async with self._db.sessions() as session:
            rows = (await session.execute(filtered_query(viewer, wanted))).mappings().all()
        return [Order.from_row(row) for row in rows]

    async def detail(self, order_id: uuid.UUID, viewer: Identity) -> OrderDetail:
        async with self._db.sessions() as session:
            return await self._detail(session, order_id, viewer)

    async def _detail(
        self, session: AsyncSession, order_id: uuid.UUID, viewer: Identity
    ) -> OrderDetail:
        order = await self._visible(session, order_id, viewer)
        h = status_history
        history_rows = (
            await session.execute(select(h).where(h.c.order_id == order_id).order_by(h.c.id))
        ).mappings()
        history = [
            HistoryEntry(
                from_status=row["from_status"],
                to_status=row["to_status"],
                by=row["changed_by"],
                # Clients see who at their agency acted; staff names stay internal.
                by_name=row["changed_by_name"]
                if viewer.is_admin or row["changed_by_role"] in MEMBER_ROLES
                else None,
                at=row["at"],
                note=row["note"],
            )
            for row in history_rows
        ]
        internal: list[Note] | None = None
        if viewer.is_admin:
            note_rows = (
                await session.execute(
                    select(notes).where(notes.c.order_id == order_id).order_by(notes.c.id)
                )
            ).mappings()
            internal = [
                Note(
                    text=row["text"],
                    by=row["written_by"],
                    by_name=row["written_by_name"],
                    at=row["at"],
                )
                for row in note_rows
            ]
        return OrderDetail(
            order=order,
            history=history,
            allowed_transitions=allowed_transitions(order.status, viewer),
            internal_notes=internal,
        )

    async def _visible(
        self,
        session: AsyncSession,
        order_id: uuid.UUID,
        viewer: Identity,
        *,
        for_update: bool = False,
    ) -> Order:
        """The order, or NotFound when it does not exist or belongs to another organisation."""
        query = select(orders).where(orders.c.id == order_id)
        if viewer.role == "photographer":
            # Every order but their own shoots is as absent for them as another org's.
            query = query.where(assigned_to(viewer.user_id))
        if for_update:
            query = query.with_for_update()
        row = (await session.execute(query)).mappings().first()
        if row is None or not (viewer.role == "photographer" or viewer.may_access(row["org_id"])):
            raise NotFound("order")
        return Order.from_row(row)

    # --- workflow -----------------------------------------------------------------------------

    async def change_status(
        self, order_id: uuid.UUID, to_status: str, by: Identity, *, note: str | None = None
    ) -> OrderDetail:
        note = (note or "").strip() or None
        if note and len(note) > MAX_NOTE:
            raise Invalid("too_long", f"at most {MAX_NOTE} characters", "note")
        async with self._db.transaction() as session:
            # The row lock serialises concurrent changes: the second sees the new status.
            order = await self._visible(session, order_id, by, for_update=True)
            if to_status not in allowed_transitions(order.status, by):
                raise Conflict(
                    "transition_not_allowed",
                    f"an order in status {order.status!r} cannot become {to_status!r}",
                    "status",
                )
            await session.execute(
                update(orders)
                .where(orders.c.id == order_id)
                .values(status=to_status, updated_at=func.now())
            )
            await self._record(session, order_id, order.status, to_status, by, note=note)
            if order.contact_deleted:
                # The contact erased their account: there is nobody left to tell, and the
                # event's contact_email cannot carry the placeholder address.
                log.info("order.status_changed_silently", reference=order.reference)
            else:
                await enqueue(
                    session,
                    outbox,
                    OrderStatusChanged(
                        order_id=order.id,
                        org_id=order.org_id,
                        gallery_id=order.gallery_id,
                        reference=order.reference,
                        old_status=order.status,
                        new_status=to_status,
                        changed_by=by.user_id,
                        contact_email=order.contact_email,
                        locale="en" if order.locale == "en" else "de",
                        contact_name=order.contact_name,
                        property_address=order.property_address,
                        note=note,
                    ),
                    source=SOURCE,
                )
            detail = await self._detail(session, order_id, by)
        log.info("order.status_changed", reference=order.reference, to=to_status)
        return detail

    async def _record(
        self,
        session: AsyncSession,
        order_id: uuid.UUID,
        from_status: str | None,
        to_status: str,
        by: Identity,
        *,
        note: str | None,
    ) -> None:
        await session.execute(
            status_history.insert().values(
                order_id=order_id,
                from_status=from_status,
                to_status=to_status,
                changed_by=by.user_id,
                changed_by_name=by.name[:200],
                changed_by_role=by.role,
                note=note,
            )
        )

    async def add_note(self, order_id: uuid.UUID, text: str, by: Identity) -> Note:
        if not by.is_admin:
            raise Forbidden()
        text = text.strip()
        if not text:
            raise Invalid("required", "the note is empty", "text")
        if len(text) > MAX_NOTE:
            raise Invalid("too_long", f"at most {MAX_NOTE} characters", "text")
        async with self._db.transaction() as session:
            await self._visible(session, order_id, by)
            row = (
                await session.execute(
                    notes.insert()
                    .values(
                        order_id=order_id,
                        text=text,
                        written_by=by.user_id,
                        written_by_name=by.name[:200],
                    )
                    .returning(notes.c.at)
                )
            ).one()
        return Note(text=text, by=by.user_id, by_name=by.name[:200], at=row.at)

    # --- delivery -----------------------------------------------------------------------------

    async def gallery_delivered(self, event: GalleryDelivered) -> bool:
        """The order's gallery was delivered: the order is `delivered` (once; a cancelled
        order stays cancelled). True if the status changed."""
        async with self._db.transaction() as session:
            if not await first_delivery(
                session, inbox, consumer=DELIVERY_CONSUMER, event_id=event.event_id
            ):
                return False
            row = (
                (
                    await session.execute(
                        select(orders).where(orders.c.id == event.order_id).with_for_update()
                    )
                )
                .mappings()
                .first()
            )
            if row is None or row["status"] in ("delivered", "cancelled"):
                log.info("order.delivery_ignored", order_id=str(event.order_id))
                return False
            order = Order.from_row(row)
            await session.execute(
                update(orders)
                .where(orders.c.id == order.id)
                .values(status="delivered", updated_at=func.now())
            )
            await session.execute(
                status_history.insert().values(
                    order_id=order.id,
                    from_status=order.status,
                    to_status="delivered",
                    # Who clicked "deliver"; the nil UUID when media delivered on its own.
                    changed_by=event.delivered_by or uuid.UUID(int=0),
                    changed_by_name=None,
                    changed_by_role="admin" if event.delivered_by else "system",
                    note=None,
                )
            )
            if not order.contact_deleted:
                await enqueue(
                    session,
                    outbox,
                    OrderStatusChanged(
                        order_id=order.id,
                        org_id=order.org_id,
                        gallery_id=order.gallery_id,
                        reference=order.reference,
                        old_status=order.status,
                        new_status="delivered",
                        changed_by=event.delivered_by or uuid.UUID(int=0),
                        contact_email=order.contact_email,
                        locale="en" if order.locale == "en" else "de",
                        contact_name=order.contact_name,
                        property_address=order.property_address,
                        via="gallery-delivery",
                    ),
                    source=SOURCE,
                )
        log.info("order.delivered", reference=order.reference, delivery=event.delivery)
        return True

    # --- GDPR ---------------------------------------------------------------------------------

    async def forget_user(self, event: UserDeleted | UserDeletedV2) -> int:
        """Anonymise the contact and access notes of every order the deleted user placed; the
        orders stay.

        The organisation keeps its orders (invoices, galleries), but no longer the person.
        Returns how many orders were anonymised (0 for a redelivered event).
        """
        async with self._db.transaction() as session:
            if not await first_delivery(
                session, inbox, consumer=GDPR_CONSUMER, event_id=event.event_id
            ):
                return 0
            result = await session.execute(
                update(orders)
                .where(orders.c.placed_by == event.user_id)
                .values(
                    contact_name=DELETED_NAME,
                    contact_email="deleted+" + cast(orders.c.id, String) + "@invalid",
                    contact_phone=None,
                    # Free text they wrote ("key with Mrs X, 0171 …") may name people too.
                    access_notes="",
                    updated_at=func.now(),
                )
                .returning(orders.c.id)
            )
            count = len(result.all())
            # Their name also appears where they changed a status or wrote a note.
            await session.execute(
                update(status_history)
                .where(status_history.c.changed_by == event.user_id)
                .values(changed_by_name=None)
            )
            await session.execute(
                update(notes)
                .where(notes.c.written_by == event.user_id)
                .values(written_by_name=None)
            )
        log.info("orders.user_forgotten", user_id=str(event.user_id), orders=count)
        return count
