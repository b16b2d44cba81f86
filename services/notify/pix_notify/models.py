from pix_runtime.dead_letters import dead_letters_table
from pix_runtime.erasure import OrganisationData, Through
from pix_runtime.inbox import inbox_table
from pix_runtime.jobs import jobs_table
from pix_runtime.outbox import outbox_table
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

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
    # Who placed the order, and the address's keyed digest: an erasure carries only these.
    Column("user_id", Uuid, nullable=True),
    Column("email_digest", String(64), nullable=True),
    # The order's organisation, so its erasure finds the row (None: learnt before it was kept).
    Column("org_id", Uuid, nullable=True, index=True),
)

# Platform administrators, learnt from auth's events, who hear about new orders and failures.
admins = Table(
    "admins",
    metadata,
    Column("user_id", Uuid, primary_key=True),
    Column("email", String(320), nullable=False),
    Column("locale", String(2), nullable=False),
)

# One row per email; `idempotency_key` (the event id and the kind) makes a redelivery a no-op.
# The row is written as `sending` with its `notify.send-mail` job (key: the row's id), in one
# transaction, before delivery.
# Status: sending -> sent | retrying (-> sending again when its job is due) | failed (gave
# up, `error` says why) | suppressed (address hard-bounced before) | skipped (the recipient
# switched the kind off, pix_notify.preferences) ; sent -> bounced (webhook).
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
    Column("sender_name", String(200), nullable=True),
    Column("reply_to", String(320), nullable=True),
    # [{filename, content_type, content}]: small text files only (calendar entries).
    Column("attachments", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("status", String(20), nullable=False, server_default="sending"),
    Column("provider", String(20), nullable=False),
    Column("error", String(500), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    # When the current (or last) attempt started (the service clock's time).
    Column("attempted_at", DateTime(timezone=True), nullable=True),
    # Unused since the send job's `run_at` says when a retry is due (the mail log reads it).
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    # The provider's id for the message (Mailgun's `id`, the Message-ID otherwise).
    Column("provider_message_id", String(300), nullable=True),
    # pix_runtime.personal_data.subject_digest of the recipient: an erasure finds the mail by it.
    Column("recipient_digest", String(64), nullable=True),
    # The organisation the mail was about (None: an account's own mail, or from before), so the
    # organisation's erasure takes its mails along.
    Column("org_id", Uuid, nullable=True, index=True),
)
Index("emails_recipient_digest", emails.c.recipient_digest)
# Left from the hand-made retry loop (the job layer's own index finds due jobs now).
Index("emails_due", emails.c.status, emails.c.next_attempt_at)
Index("emails_created_at", emails.c.created_at)

# Addresses that must not be mailed again (hard bounce, complaint), stored lower-case.
suppressions = Table(
    "suppressions",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("reason", String(60), nullable=False),
    Column("detail", String(500), nullable=True),
    Column("source", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Mailgun webhook tokens seen within the replay window: the same signed request twice is a
# replay. Rows older than the window are purged (a stale timestamp is refused anyway).
webhook_tokens = Table(
    "webhook_tokens",
    metadata,
    Column("token", String(200), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Per gallery: the latest delivered export (the GalleryExported event as JSON) and what its
# client heard about so far: the "ready" mail once, then at most one "updated" mail per
# `gallery_update_interval_seconds`, always of the latest version.
gallery_mail = Table(
    "gallery_mail",
    metadata,
    Column("gallery_id", Uuid, primary_key=True),
    # The gallery's organisation, so its erasure finds the row even once the recipient went
    # (a member's own deletion may come first); None: learnt before it was kept.
    Column("org_id", Uuid, nullable=True, index=True),
    Column("latest_version", Integer, nullable=False),
    Column("latest_export", JSONB, nullable=False),
    Column("mailed_version", Integer, nullable=True),
    Column("ready_mailed_at", DateTime(timezone=True), nullable=True),
    Column("last_mailed_at", DateTime(timezone=True), nullable=True),
)

# Notification emails a user switched off, one row per (user, preference kind); matched to
# mail by the user's address, lower-case (pix_notify.preferences).
notification_preferences = Table(
    "notification_preferences",
    metadata,
    Column("user_id", Uuid, primary_key=True),
    Column("kind", String(40), primary_key=True),
    Column("email", String(320), nullable=False, index=True),
    # The user's organisation, so its erasure takes the row along.
    Column("org_id", Uuid, nullable=True, index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

inbox = inbox_table(metadata)
jobs = jobs_table(metadata)
dead_letters = dead_letters_table(metadata)
# Notify publishes nothing but its reports of erasures.
outbox = outbox_table(metadata)

# What an organisation's erasure removes (pix_runtime.erasure): recipients, mails and gallery
# mail state by their org_id (older gallery rows by the recipients' galleries). Admins,
# suppressions (addresses never to be mailed again) and webhook tokens belong to no organisation.
ORGANISATION_DATA = OrganisationData(
    metadata,
    inbox=inbox,
    outbox=outbox,
    through=(Through(gallery_mail.c.gallery_id, recipients.c.gallery_id),),
)
