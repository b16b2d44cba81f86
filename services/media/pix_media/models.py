from pix_runtime.dead_letters import dead_letters_table
from pix_runtime.erasure import OrganisationData, Prefix
from pix_runtime.inbox import inbox_table
from pix_runtime.jobs import jobs_table
from pix_runtime.outbox import outbox_table
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    func,
    text,
)

metadata = MetaData(schema="media")

galleries = Table(
    "galleries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("order_id", Uuid, nullable=False, unique=True),
    Column("reference", String(40), nullable=False),
    Column("title", String(500), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The photo set (delivery.py): bumped by every change that can complete it.
    Column("set_version", Integer, nullable=False, server_default="0"),
    # The state last announced (media.gallery.state-changed.v1) and for which set version.
    Column("state", String(20), nullable=False, server_default="in_progress"),
    Column("announced_set_version", Integer, nullable=True),
    # Deliveries: how many, and which set the last one carried.
    Column("delivery_count", Integer, nullable=False, server_default="0"),
    Column("delivered_set_version", Integer, nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("delivered_by", Uuid, nullable=True),
    # The keys of the services the order included (OrderPlaced.services): whether floor plans
    # and videos may be delivered (deliverables.py). Null for galleries opened before.
    Column("ordered_services", ARRAY(String(40)), nullable=True),
)

# status: pending (upload URL issued) → queued (upload complete; its processing job waits or
# runs) → processed (renditions stored, event out) → captioned, or rejected (not a usable image,
# or a duplicate; error_code says which) / failed (captioning gave up).
assets = Table(
    "assets",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("gallery_id", Uuid, ForeignKey("media.galleries.id"), nullable=False, index=True),
    Column("org_id", Uuid, nullable=False),
    Column("uploaded_by", Uuid, nullable=False),
    Column("label", String(255), nullable=False),
    Column("status", String(20), nullable=False, server_default="pending"),
    Column("declared_bytes", BigInteger, nullable=False),
    Column("byte_size", BigInteger, nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("content_type", String(50), nullable=True),
    Column("original_key", String(300), nullable=False, index=True),
    Column("web_key", String(300), nullable=True),
    Column("thumb_key", String(300), nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("room_type", String(40), nullable=True),
    Column("sequence", Integer, nullable=True),
    Column("pseudonym", String(80), nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
    # The caption version captioning announced last (captioned photos).
    Column("caption_version", Integer, nullable=True),
    Column("error_code", String(40), nullable=True),
    # Multipart uploads: S3's (or the local adapter's) upload id, and the part size we told the
    # client; both null for a single PUT.
    Column("upload_id", String(1024), nullable=True),
    Column("part_size", BigInteger, nullable=True),
    Column("faces_blurred", Integer, nullable=True),
    # Watermarked copies of web and thumb (previews.py), made while the order waits for payment.
    Column("preview_web_key", String(300), nullable=True),
    Column("preview_thumb_key", String(300), nullable=True),
    Column("error_message", String(500), nullable=True),
    # photo, floor_plan or video (deliverables.py). A deliverable is never captioned: after
    # processing it is `ready`; `file_key` is the delivered file (metadata removed), web and
    # thumb keys its preview or poster frame.
    Column("kind", String(20), nullable=False, server_default="photo"),
    Column("file_key", String(300), nullable=True),
    Column("file_sha256", String(64), nullable=True),
    Column("file_size", BigInteger, nullable=True),
    Column("duration_ms", Integer, nullable=True),
    Column("page_count", Integer, nullable=True),
    # Set when the retention deleted the original (retention.py); the renditions stay.
    Column("original_deleted_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column(
        "updated_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=func.now(),
        onupdate=func.now(),
    ),
    # The same photo twice in one gallery is a duplicate; the index settles concurrent uploads.
    Index(
        "assets_gallery_sha256",
        "gallery_id",
        "sha256",
        unique=True,
        postgresql_where=text("sha256 IS NOT NULL"),
    ),
    # The upload page polls "what changed in this gallery since …".
    Index("assets_gallery_updated", "gallery_id", "updated_at"),
    # The reconciler scans by status and age; the metrics count queued photos.
    Index("assets_status_updated", "status", "updated_at"),
)

# Which photographer shoots a gallery's order (orders.appointment.* events): they may upload
# into it and deliver it. Kept apart from `galleries` because the appointment may be heard of
# before the gallery is opened; `sequence` lets a late, older event change nothing.
assignments = Table(
    "assignments",
    metadata,
    Column("gallery_id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False, index=True),
    # Null once the appointment is cancelled.
    Column("photographer_id", Uuid, nullable=True, index=True),
    Column("sequence", Integer, nullable=False),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
jobs = jobs_table(metadata)
dead_letters = dead_letters_table(metadata)

# The last number given out per gallery and room (Kitchen_01, Kitchen_02, …). Numbers are never
# reused: after Kitchen_02 is deleted the next kitchen is Kitchen_03, so a pseudonym names one
# photo for good in every export. `room` is the room type, "" for photos without one.
room_sequences = Table(
    "room_sequences",
    metadata,
    Column("gallery_id", Uuid, ForeignKey("media.galleries.id"), primary_key=True),
    Column("room", String(40), primary_key=True),
    Column("last", Integer, nullable=False),
)

# Billing's word on an order (previews.py): payment required, and whether it was paid. Either
# event may come first, and the gallery may not exist yet (both follow the order's placement).
order_payments = Table(
    "order_payments",
    metadata,
    Column("order_id", Uuid, primary_key=True),
    Column("gallery_id", Uuid, nullable=False, index=True),
    Column("org_id", Uuid, nullable=False),
    Column("required_at", DateTime(timezone=True), nullable=True),
    Column("paid_at", DateTime(timezone=True), nullable=True),
    Column("paid_via", String(20), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


# What an organisation's erasure removes (pix_runtime.erasure): every table by its org_id, and
# each gallery's originals and renditions (previews lie beside the renditions).
ORGANISATION_DATA = OrganisationData(
    metadata,
    inbox=inbox,
    outbox=outbox,
    object_keys=(
        assets.c.original_key,
        assets.c.web_key,
        assets.c.thumb_key,
        assets.c.file_key,
        assets.c.preview_web_key,
        assets.c.preview_thumb_key,
    ),
    prefixes=(Prefix("originals/{}/", galleries.c.id), Prefix("renditions/{}/", galleries.c.id)),
)


# How the client arranged the gallery (arrangement.py): their order of the photos and the title
# picture. Photos missing from `photo_order` (added later) follow it in upload order.
gallery_arrangements = Table(
    "gallery_arrangements",
    metadata,
    Column("gallery_id", Uuid, ForeignKey("media.galleries.id"), primary_key=True),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("photo_order", ARRAY(Uuid), nullable=False, server_default="{}"),
    Column("title_asset_id", Uuid, nullable=True),
    # Grows with every change; travels in media.gallery.arranged.v1.
    Column("revision", Integer, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Share links (sharing.py): a read-only gallery without an account. The link's token is signed
# from the id, so nothing secret is stored but the PIN's keyed hash.
gallery_shares = Table(
    "gallery_shares",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("gallery_id", Uuid, ForeignKey("media.galleries.id"), nullable=False, index=True),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("label", String(120), nullable=False, server_default=""),
    Column("pin_hash", String(64), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("created_by", Uuid, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("view_count", Integer, nullable=False, server_default="0"),
    Column("last_viewed_at", DateTime(timezone=True), nullable=True),
    # Wrong PINs since the last right one; at the limit the link refuses PINs for a while.
    Column("failed_pins", Integer, nullable=False, server_default="0"),
    Column("pin_locked_until", DateTime(timezone=True), nullable=True),
)
