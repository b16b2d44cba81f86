from pix_runtime.inbox import inbox_table
from pix_runtime.outbox import outbox_table
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
)

metadata = MetaData(schema="orders")

orders = Table(
    "orders",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", BigInteger, Identity(start=1001), nullable=False, unique=True),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("gallery_id", Uuid, nullable=False, unique=True),
    Column("placed_by", Uuid, nullable=False),
    Column("status", String(20), nullable=False, server_default="received"),
    Column("contact_name", String(200), nullable=False),
    Column("contact_email", String(320), nullable=False),
    Column("locale", String(2), nullable=False, server_default="de"),
    Column("property_address", String(500), nullable=False),
    Column("idempotency_key", String(100), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("org_id", "idempotency_key", name="orders_idempotency"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
