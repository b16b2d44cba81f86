from pix_runtime.dead_letters import dead_letters_table
from pix_runtime.erasure import OrganisationData
from pix_runtime.inbox import inbox_table
from pix_runtime.jobs import jobs_table
from pix_runtime.outbox import outbox_table
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(schema="orders")

orders = Table(
    "orders",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", BigInteger, Identity(start=1001), nullable=False, unique=True),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("gallery_id", Uuid, nullable=False, unique=True),
    Column("placed_by", Uuid, nullable=False, index=True),
    Column("status", String(20), nullable=False, server_default="received", index=True),
    Column("contact_name", String(200), nullable=False),
    Column("contact_email", String(320), nullable=False),
    # Null once the person who placed the order deleted their account.
    Column("contact_phone", String(40), nullable=True),
    Column("locale", String(2), nullable=False, server_default="de"),
    Column("street", String(200), nullable=False),
    Column("house_number", String(20), nullable=False),
    Column("postcode", String(10), nullable=False),
    Column("city", String(100), nullable=False),
    Column("country", String(2), nullable=False),
    # One line built from the parts above: gallery titles, emails, search.
    Column("property_address", String(500), nullable=False),
    Column("property_type", String(20), nullable=False),
    # "sale" or "rent"; NULL for orders placed before the form asked.
    Column("marketing", String(10), nullable=True),
    Column("living_area_m2", Numeric(10, 2, asdecimal=False), nullable=True),
    Column("rooms", Numeric(4, 1, asdecimal=False), nullable=True),
    # [{key, price_cents}]: the prices at the time of ordering, whatever the list says later.
    Column("services", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("total_cents", Integer, nullable=False),
    Column("currency", String(3), nullable=False, server_default="EUR"),
    Column("preferred_slots", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("access_notes", Text, nullable=False, server_default=""),
    Column("idempotency_key", String(100), nullable=True),
    Column(
        "created_at", DateTime(timezone=True), nullable=False, server_default=func.now(), index=True
    ),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("org_id", "idempotency_key", name="orders_idempotency"),
)

status_history = Table(
    "status_history",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "order_id",
        Uuid,
        ForeignKey("orders.orders.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # Null for the entry that records the placing of the order.
    Column("from_status", String(20), nullable=True),
    Column("to_status", String(20), nullable=False),
    Column("changed_by", Uuid, nullable=False, index=True),
    Column("changed_by_name", String(200), nullable=True),
    Column("changed_by_role", String(10), nullable=False),
    Column("note", Text, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
# The analytics' time to delivery: deliveries in a period, without reading every history row.
Index(
    "status_history_delivered",
    status_history.c.at,
    postgresql_include=["order_id"],
    postgresql_where=status_history.c.to_status == "delivered",
)

notes = Table(
    "notes",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "order_id",
        Uuid,
        ForeignKey("orders.orders.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("text", Text, nullable=False),
    Column("written_by", Uuid, nullable=False, index=True),
    Column("written_by_name", String(200), nullable=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The shoot's appointment, one per order; a cancelled one stays (cancelled_at) so the calendar
# entry it replaced keeps its UID and sequence if the order is scheduled again.
appointments = Table(
    "appointments",
    metadata,
    Column("order_id", Uuid, ForeignKey("orders.orders.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("day", Date, nullable=False, index=True),
    Column("starts_at", Time, nullable=False),
    Column("ends_at", Time, nullable=False),
    Column("photographer_id", Uuid, nullable=False, index=True),
    Column("photographer_email", String(320), nullable=True),
    Column("photographer_name", String(200), nullable=True),
    # The iCalendar SEQUENCE: 0 when first scheduled, +1 with every change or cancellation.
    Column("sequence", Integer, nullable=False, server_default="0"),
    Column("cancelled_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
jobs = jobs_table(metadata)
dead_letters = dead_letters_table(metadata)


# What an organisation's erasure removes (pix_runtime.erasure): every table by its org_id.
ORGANISATION_DATA = OrganisationData(metadata, inbox=inbox, outbox=outbox)
