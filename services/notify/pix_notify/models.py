from pix_runtime.inbox import inbox_table
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, Uuid, func

metadata = MetaData(schema="notify")

# Who hears about a gallery: learnt from the order, so no other service is asked at send time.
recipients = Table(
    "recipients",
    metadata,
    Column("gallery_id", Uuid, primary_key=True),
    Column("order_id", Uuid, nullable=False),
    Column("reference", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("locale", String(2), nullable=False),
)

# One row per email; `idempotency_key` (the event id and the kind) makes a redelivery a no-op.
# The row is written as `sending` before delivery, so a crash mid-send is visible.
emails = Table(
    "emails",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("idempotency_key", String(120), nullable=False, unique=True),
    Column("kind", String(60), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("locale", String(2), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=False),
    Column("status", String(20), nullable=False, server_default="sending"),
    Column("provider", String(20), nullable=False),
    Column("error", String(500), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True), nullable=True),
)

inbox = inbox_table(metadata)
