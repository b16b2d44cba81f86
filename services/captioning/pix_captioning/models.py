from pix_runtime.dead_letters import dead_letters_table
from pix_runtime.erasure import OrganisationData, Prefix, Through
from pix_runtime.inbox import inbox_table
from pix_runtime.jobs import jobs_table
from pix_runtime.outbox import outbox_table
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
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
    # ready: files written and announced; needs_review: the guard stopped it (see content.py).
    Column("status", String(20), nullable=False, server_default="ready"),
    Column("review_reason", String(300), nullable=True),
    # Who made an edited or regenerated version (null: the upload event).
    Column("created_by", Uuid, nullable=True),
    # The rendition the caption describes, for "regenerate" (null on rows before 0002).
    Column("web_key", String(300), nullable=True),
    Column("txt_key", String(300), nullable=False),
    Column("json_key", String(300), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("asset_id", "caption_version", name="captions_asset_version"),
)

# Assets the workers gave up on (provider failures after the last retry, captions held for
# review). Admins list and retry them; a later ready caption resolves the row.
failures = Table(
    "failures",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("asset_id", Uuid, nullable=False),
    Column("asset_version", Integer, nullable=False),
    Column("gallery_id", Uuid, nullable=False, index=True),
    Column("org_id", Uuid, nullable=False),
    Column("pseudonym", String(80), nullable=False),
    Column("kind", String(20), nullable=False),  # provider | needs_review
    Column("reason", String(500), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("provider", String(40), nullable=False),
    Column("event", JSONB, nullable=False),  # the AssetUploaded event, to retry it
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("resolved_at", DateTime(timezone=True), nullable=True, index=True),
    UniqueConstraint("asset_id", "asset_version", name="failures_asset_version"),
)

# Replicate predictions started with a webhook (PIX_CAPTION_REPLICATE_WEBHOOK_URL), open until
# their webhook (or the reconciler) settles them — see `PredictionDesk.settle`. One row per
# prediction: a repair or a retry is a new row; `completed_at` set exactly once.
predictions = Table(
    "predictions",
    metadata,
    Column("id", String(64), primary_key=True),  # Replicate's prediction id
    Column("asset_id", Uuid, nullable=False, index=True),
    Column("asset_version", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),  # 1 … PIX_CAPTIONING_ATTEMPTS
    Column("kind", String(10), nullable=False),  # caption | repair (the prompt asked)
    # Replicate's status as last seen: starting, succeeded, failed, canceled.
    Column("status", String(20), nullable=False, server_default="starting"),
    # What settling it did: stored, repair, retry, failed (null while open).
    Column("outcome", String(20), nullable=True),
    Column("output", Text, nullable=True),
    Column("error", String(500), nullable=True),
    Column("event", JSONB, nullable=False),  # the AssetUploaded event, to store the caption
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("completed_at", DateTime(timezone=True), nullable=True, index=True),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
jobs = jobs_table(metadata)
dead_letters = dead_letters_table(metadata)
# This service's name in `inbox`, under which it claims the events it handles.
CONSUMER = "captioning"


# What an organisation's erasure removes (pix_runtime.erasure): captions and failures by their
# org_id, the provider's predictions by the asset they were for, the caption files per gallery.
ORGANISATION_DATA = OrganisationData(
    metadata,
    inbox=inbox,
    outbox=outbox,
    through=(
        Through(predictions.c.asset_id, captions.c.asset_id),
        Through(predictions.c.asset_id, failures.c.asset_id),
    ),
    object_keys=(captions.c.txt_key, captions.c.json_key),
    prefixes=(Prefix("captions/{}/", captions.c.gallery_id),),
)
