from pix_runtime.inbox import inbox_table
from pix_runtime.outbox import outbox_table
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(schema="export")

# The latest caption of every photo in a gallery, as the export sees it.
entries = Table(
    "entries",
    metadata,
    Column("gallery_id", Uuid, nullable=False),
    Column("asset_id", Uuid, nullable=False),
    Column("org_id", Uuid, nullable=False),
    Column("pseudonym", String(80), nullable=False),
    Column("caption_version", Integer, nullable=False),
    Column("caption", JSONB, nullable=False),
    Column("txt_key", String(300), nullable=False),
    Column("json_key", String(300), nullable=False),
    Column("web_key", String(300), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("gallery_id", "asset_id"),
)

exports = Table(
    "exports",
    metadata,
    Column("gallery_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("asset_count", Integer, nullable=False),
    Column("files", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("gallery_id", "version"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
