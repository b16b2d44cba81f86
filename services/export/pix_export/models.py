from pix_runtime.dead_letters import dead_letters_table
from pix_runtime.erasure import OrganisationData, Prefix, Through
from pix_runtime.inbox import inbox_table
from pix_runtime.jobs import jobs_table
from pix_runtime.outbox import outbox_table
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(schema="export")

# What the export knows about a gallery: its order (objektnr_extern) and its debounce state.
# A row appears with the first event about the gallery, whichever topic delivers it first.
galleries = Table(
    "galleries",
    metadata,
    Column("gallery_id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("order_id", Uuid, nullable=True),
    Column("reference", String(100), nullable=True),
    Column("property_address", Text, nullable=True),
    # The property's facts from OrderPlaced (NULL for orders placed before they travelled).
    Column("property_type", String(20), nullable=True),
    Column("marketing", String(10), nullable=True),
    Column("living_area_m2", Numeric(10, 2, asdecimal=False), nullable=True),
    Column("rooms", Numeric(4, 1, asdecimal=False), nullable=True),
    Column("street", String(200), nullable=True),
    Column("house_number", String(20), nullable=True),
    Column("postcode", String(10), nullable=True),
    Column("city", String(100), nullable=True),
    Column("country", String(2), nullable=True),
    Column("contact_name", String(200), nullable=True),
    Column("contact_email", String(320), nullable=True),
    Column("locale", String(5), nullable=False, server_default="de"),
    Column("cover_asset_id", Uuid, nullable=True),
    # Set with the first change not yet exported; cleared when a version is built.
    Column("dirty_since", DateTime(timezone=True), nullable=True, index=True),
    Column("changed_at", DateTime(timezone=True), nullable=True),
    # The latest delivery media announced, its photo set ([PhotoInSet]), and the latest
    # delivery built into a version (smaller while the set's captions are on their way).
    Column("delivery", Integer, nullable=True),
    Column("delivery_set", JSONB, nullable=True),
    Column("built_delivery", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Every photo of a gallery as the export sees it: pending (uploaded, not yet captioned),
# ready (latest caption) or failed (captioning gave up; left out of the CRM formats).
entries = Table(
    "entries",
    metadata,
    Column("gallery_id", Uuid, nullable=False),
    Column("asset_id", Uuid, nullable=False),
    Column("org_id", Uuid, nullable=False),
    Column("pseudonym", String(80), nullable=False),
    Column("status", String(10), nullable=False, server_default="ready"),
    Column("asset_version", Integer, nullable=False, server_default="1"),
    Column("room_type", String(40), nullable=True),
    Column("caption_version", Integer, nullable=False),
    Column("caption", JSONB, nullable=True),
    Column("failure_reason", Text, nullable=True),
    Column("txt_key", String(300), nullable=True),
    Column("json_key", String(300), nullable=True),
    Column("web_key", String(300), nullable=True),
    # The original's SHA-256 as media checked it: an original-size bundle packs only those bytes.
    Column("original_sha256", String(64), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("gallery_id", "asset_id"),
)

# Photos deleted in media: their late caption events must not bring them back.
deleted_assets = Table(
    "deleted_assets",
    metadata,
    Column("asset_id", Uuid, primary_key=True),
    Column("gallery_id", Uuid, nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

exports = Table(
    "exports",
    metadata,
    Column("gallery_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("asset_count", Integer, nullable=False),
    Column("failed_count", Integer, nullable=False, server_default="0"),
    Column("complete", Boolean, nullable=False, server_default="false"),
    # The delivery this version carries; null for an interim preview.
    Column("delivery", Integer, nullable=True),
    Column("event_id", Uuid, nullable=True),
    Column("files", JSONB, nullable=False),
    # Photo keys of this version, so a later "original size" bundle packs exactly these.
    Column("photos", JSONB, nullable=True),
    # A delivered version built while its order waits for payment: files written, but not
    # announced, sent to webhooks or pushed to CRMs until `billing.order.paid.v1`.
    Column("held", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("gallery_id", "version"),
)

# Billing's word on an order: `required_at` from `billing.order.payment-required.v1`, `paid_at`
# from `billing.order.paid.v1`, whichever arrives first. A gallery is locked while one of its
# orders is required and not paid; an order billing never asked payment for never locks it.
order_payments = Table(
    "order_payments",
    metadata,
    Column("order_id", Uuid, primary_key=True),
    Column("gallery_id", Uuid, nullable=False),
    Column("org_id", Uuid, nullable=False),
    Column("required_at", DateTime(timezone=True), nullable=True),
    Column("gross_cents", Integer, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("paid_at", DateTime(timezone=True), nullable=True),
    Column("paid_via", String(20), nullable=True),
    Column("invoice_number", String(40), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_export_order_payments_gallery", "gallery_id"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    Column("description", String(200), nullable=False, server_default=""),
    # AES-256-GCM: nonce || ciphertext+tag, bound to the webhook id as associated data.
    Column("secret_sealed", LargeBinary, nullable=False),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One row per (endpoint, event), written with its `export.deliver-webhook` job (key: the row's
# id) and marked "sending" before each POST; its id is the idempotency key the receiver sees,
# and the unique constraint stops a second delivery. `next_attempt_at` is unused since the job's
# `run_at` says when a retry is due (the delivery log reads it).
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("webhook_id", Uuid, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("org_id", Uuid, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("webhook_id", "event_id"),
    Index("ix_export_webhook_deliveries_due", "status", "next_attempt_at"),
)

# CRM connections (onOffice, Propstack): one per organisation and CRM. The credentials are a
# JSON object sealed with AES-256-GCM, bound to the row id; `hint` is the masked form the API
# shows (never the credentials themselves).
crm_connections = Table(
    "crm_connections",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("crm", String(20), nullable=False),
    Column("credentials_sealed", LargeBinary, nullable=False),
    Column("hint", String(40), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("org_id", "crm"),
)

# Which CRM record a gallery's photos belong to (onOffice estate id, Propstack property id).
crm_targets = Table(
    "crm_targets",
    metadata,
    Column("gallery_id", Uuid, nullable=False),
    Column("crm", String(20), nullable=False),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("record_id", String(40), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("gallery_id", "crm"),
)

# One row per (gallery, version, CRM), written with its `export.push-crm` job (key: the row's
# id) before anything is sent, so the unique constraint makes a redelivered event or a restart
# push nothing twice. `progress` lists the images already accepted by the CRM, so a retry
# resumes instead of uploading them again. `next_attempt_at` is unused since the job's `run_at`
# says when a retry is due (the push log reads it).
crm_pushes = Table(
    "crm_pushes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("gallery_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("org_id", Uuid, nullable=False),
    Column("crm", String(20), nullable=False),
    Column("record_id", String(40), nullable=True),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("progress", JSONB, nullable=False, server_default="[]"),
    Column("image_count", Integer, nullable=True),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    # Retries stop here ("failed"); a manual retry opens a new window.
    Column("retry_until", DateTime(timezone=True), nullable=True),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("pushed_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("gallery_id", "version", "crm"),
    Index("ix_export_crm_pushes_due", "status", "next_attempt_at"),
    Index("ix_export_crm_pushes_gallery", "gallery_id", "created_at"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
jobs = jobs_table(metadata)
dead_letters = dead_letters_table(metadata)


# What an organisation's erasure removes (pix_runtime.erasure): every table by its org_id (CRM
# credentials among them), deleted photos by their gallery, every export's files per gallery.
ORGANISATION_DATA = OrganisationData(
    metadata,
    inbox=inbox,
    outbox=outbox,
    through=(Through(deleted_assets.c.gallery_id, galleries.c.gallery_id),),
    prefixes=(
        Prefix("exports/{}/", galleries.c.gallery_id),
        Prefix("exports/{}/", exports.c.gallery_id),
    ),
)
