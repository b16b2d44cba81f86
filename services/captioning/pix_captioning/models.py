from pix_runtime.inbox import inbox_table
from pix_runtime.outbox import outbox_table
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(schema="captioning")

# One row per caption version; an edit or a regeneration adds a row, history stays.
captions = Table(
    "captions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("asset_id", Uuid, nullable=False, index=True),
    Column("asset_version", Integer, nullable=False),
    Column("caption_version", Integer, nullable=False),
    Column("gallery_id", Uuid, nullable=False, index=True),
    Column("org_id", Uuid, nullable=False),
    Column("pseudonym", String(80), nullable=False),
    Column("content", JSONB, nullable=False),
    Column("model", String(100), nullable=False),
    Column("provider", String(40), nullable=False),
    Column("prompt_version", String(40), nullable=False),
    Column("edited", Boolean, nullable=False, server_default="false"),
    Column("txt_key", String(300), nullable=False),
    Column("json_key", String(300), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("asset_id", "caption_version", name="captions_asset_version"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
