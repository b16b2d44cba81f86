"""Tables of the leads service, all in the `leads` schema.

Every client table carries `org_id`, and every query of client data filters on it.
"""

from pgvector.sqlalchemy import Vector
from pix_runtime.dead_letters import dead_letters_table
from pix_runtime.erasure import OrganisationData
from pix_runtime.inbox import inbox_table
from pix_runtime.jobs import jobs_table
from pix_runtime.licences import licences_table
from pix_runtime.outbox import outbox_table
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR

metadata = MetaData(schema="leads")

# An organisation's intake: the address portals' mails are forwarded to, the sender name of
# its mails, and the public key of its website form.
mailboxes = Table(
    "mailboxes",
    metadata,
    Column("org_id", Uuid, primary_key=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("form_key", String(64), nullable=False, unique=True),
    Column("sender_name", String(200), nullable=False),
    Column("locale", String(2), nullable=False, server_default="de"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Every message that arrived, recorded (and its bytes stored) before anything parses it.
# status: received -> lead | reply | ignored (auto-reply, bounce) | needs_review (parse failed,
# a lead marked for review holds it) | unroutable (no organisation has the address).
raw_messages = Table(
    "raw_messages",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=True, index=True),
    Column("channel", String(20), nullable=False),
    Column("mail_from", String(320), nullable=True),
    Column("rcpt_to", ARRAY(String(320)), nullable=False),
    Column("storage_key", String(300), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("byte_size", Integer, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False, server_default="received"),
    Column("kind", String(20), nullable=True),
    Column("portal", String(20), nullable=True),
    Column("error", Text, nullable=True),
    Column("lead_id", Uuid, nullable=True),
    Column("processed_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
)
Index("raw_messages_pending", raw_messages.c.status, raw_messages.c.received_at)

leads = Table(
    "leads",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("listing_id", Uuid, nullable=True),
    Column("portal_listing_ref", String(100), nullable=True),
    Column("listing_title", String(300), nullable=True),
    Column("source", String(20), nullable=False),
    Column("status", String(20), nullable=False, server_default="NEW"),
    Column("lost_reason", String(300), nullable=True),
    Column("needs_review", Boolean, nullable=False, server_default="false"),
    Column("salutation", String(40), nullable=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("email", String(320), nullable=True),
    Column("phone", String(40), nullable=True),
    Column("phone_raw", String(80), nullable=True),
    Column("locale", String(2), nullable=False, server_default="de"),
    Column("message", Text, nullable=False, server_default=""),
    Column("financing", String(20), nullable=False, server_default="unknown"),
    Column("time_frame", String(20), nullable=False, server_default="unknown"),
    Column("budget_min_eur", Integer, nullable=True),
    Column("budget_max_eur", Integer, nullable=True),
    Column("household", String(200), nullable=True),
    Column("requested_viewing", Boolean, nullable=False, server_default="false"),
    Column("requested_callback", Boolean, nullable=False, server_default="false"),
    Column("property_type", String(20), nullable=True),
    Column("marketing", String(10), nullable=True),
    Column("rooms_min", Float, nullable=True),
    Column("area_min_m2", Float, nullable=True),
    Column("postcodes", ARRAY(String(10)), nullable=False, server_default="{}"),
    Column("city", String(100), nullable=True),
    Column("completeness", Integer, nullable=False, server_default="0"),
    Column("score", Integer, nullable=False, server_default="0"),
    Column("score_factors", JSONB, nullable=False, server_default="{}"),
    Column("sentiment", JSONB, nullable=False, server_default="{}"),
    Column("assignee_id", Uuid, nullable=True),
    Column("reply_token", String(40), nullable=False, unique=True),
    Column("notes", Text, nullable=False, server_default=""),
    # Every inquiry's and reply's text, so the search covers the whole conversation.
    Column("conversation_text", Text, nullable=False, server_default=""),
    # Maintained by the trigger `leads.lead_search_update` (see migration 0001).
    Column("search", TSVECTOR, nullable=True),
    Column("inquiry_count", Integer, nullable=False, server_default="1"),
    Column("reply_count", Integer, nullable=False, server_default="0"),
    Column("consent_text", Text, nullable=True),
    Column("consent_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("first_contact_at", DateTime(timezone=True), nullable=True),
    Column("last_inbound_at", DateTime(timezone=True), nullable=True),
    Column("last_outbound_at", DateTime(timezone=True), nullable=True),
    Column("status_changed_at", DateTime(timezone=True), nullable=False),
)
Index("leads_org_created", leads.c.org_id, leads.c.created_at.desc())
Index("leads_org_email", leads.c.org_id, leads.c.email)
Index("leads_org_phone", leads.c.org_id, leads.c.phone)
Index("leads_org_listing", leads.c.org_id, leads.c.listing_id)
Index("leads_search", leads.c.search, postgresql_using="gin")

# The lead's timeline: inquiries, emails in and out, status changes, sentiment, follow-ups.
activities = Table(
    "activities",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("lead_id", Uuid, ForeignKey("leads.leads.id", ondelete="CASCADE"), nullable=False),
    Column("org_id", Uuid, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor_id", Uuid, nullable=True),
    Column("raw_message_id", Uuid, nullable=True),
    Column("text", Text, nullable=False, server_default=""),
    Column("data", JSONB, nullable=False, server_default="{}"),
)
Index("activities_lead", activities.c.lead_id, activities.c.at)
Index("activities_org_kind_at", activities.c.org_id, activities.c.kind, activities.c.at)

# What leads knows of listings, from listings' events: enough to attach an inquiry, score the
# budget and link the exposé.
listings = Table(
    "listings",
    metadata,
    Column("listing_id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("reference", String(100), nullable=False),
    Column("title", String(300), nullable=False, server_default=""),
    Column("marketing", String(10), nullable=True),
    Column("property_type", String(20), nullable=True),
    Column("price_eur", Integer, nullable=True),
    Column("postcode", String(10), nullable=True),
    Column("city", String(100), nullable=True),
    # A viewing's place defaults to it (migration 0007).
    Column("street", String(200), nullable=True),
    Column("portal_ids", ARRAY(String(100)), nullable=False, server_default="{}"),
    Column("expose_url", String(1000), nullable=True),
    Column("withdrawn", Boolean, nullable=False, server_default="false"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("listings_portal_ids", listings.c.portal_ids, postgresql_using="gin")

# The organisation's own wording of its mails (acknowledgement, follow-ups), per language.
templates = Table(
    "templates",
    metadata,
    Column("org_id", Uuid, primary_key=True),
    Column("kind", String(30), primary_key=True),
    Column("locale", String(2), primary_key=True),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# A/B tests of a template kind: weighted variants, each with its own subject and body.
experiments = Table(
    "experiments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("template_kind", String(30), nullable=False),
    # The language whose leads take part; the other language keeps its template.
    Column("locale", String(2), nullable=False, server_default="de"),
    Column("status", String(20), nullable=False, server_default="draft"),
    Column("variants", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("ended_at", DateTime(timezone=True), nullable=True),
)

experiment_assignments = Table(
    "experiment_assignments",
    metadata,
    Column(
        "experiment_id",
        Uuid,
        ForeignKey("leads.experiments.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("lead_id", Uuid, primary_key=True),
    Column("variant", String(60), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Column("replied_at", DateTime(timezone=True), nullable=True),
    Column("booked_at", DateTime(timezone=True), nullable=True),
)

# Website-form submissions per (organisation, client address) and window: the rate limit.
form_hits = Table(
    "form_hits",
    metadata,
    Column("bucket", String(200), primary_key=True),
    Column("window_start", DateTime(timezone=True), primary_key=True),
    Column("hits", Integer, nullable=False),
)

# Mailgun webhook tokens seen within the replay window.
webhook_tokens = Table(
    "webhook_tokens",
    metadata,
    Column("token", String(200), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# A lead's wishes as a vector (pix_leads.wishes), with the model that made it. Stored without a
# fixed dimension beside it, so a model change re-embeds row by row while search keeps working.
lead_vectors = Table(
    "lead_vectors",
    metadata,
    Column("lead_id", Uuid, ForeignKey("leads.leads.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("model", String(120), nullable=False),
    Column("dim", Integer, nullable=False),
    Column("embedding", Vector(), nullable=False),
    # SHA-256 of the embedded text: an unchanged text is not embedded again.
    Column("text_sha", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("lead_vectors_org_model", lead_vectors.c.org_id, lead_vectors.c.model)

# An agent's own mailbox (pix_leads.mailboxes), one per user: its credentials sealed (never in
# clear, bound to the row by its id), the non-secret connection settings, and the sync cursor
# (Gmail history id, Graph delta link, IMAP "uidvalidity:uid"). status: live | broken.
agent_mailboxes = Table(
    "agent_mailboxes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("user_id", Uuid, nullable=False, unique=True),
    Column("provider", String(10), nullable=False),
    Column("address", String(320), nullable=False),
    # The agent's platform address and name: the "broken" mail goes there, and the platform's
    # fallback mails carry the name.
    Column("agent_email", String(320), nullable=False),
    Column("agent_name", String(200), nullable=False),
    Column("locale", String(2), nullable=False, server_default="de"),
    Column("status", String(10), nullable=False, server_default="live"),
    Column("broken_reason", String(300), nullable=True),
    Column("sealed_credentials", LargeBinary, nullable=False),
    Column("settings", JSONB, nullable=False, server_default="{}"),
    Column("cursor", Text, nullable=True),
    Column("last_sync_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# An OAuth authorisation in progress: the state's SHA-256 (the state itself only travels), the
# user and session it was started in, the PKCE verifier sealed. Consumed once by the callback.
mailbox_oauth_states = Table(
    "mailbox_oauth_states",
    metadata,
    Column("state_digest", String(64), primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("session_id", String(200), nullable=True),
    Column("provider", String(10), nullable=False),
    Column("sealed_verifier", LargeBinary, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# The thread of a lead through an agent's mailbox: our messages' Message-IDs (and whether they
# went out through the mailbox or fell back to the platform) and the Message-IDs of the lead's
# answers read from it, so answers are matched by In-Reply-To/References and none twice.
# direction: out | in; status (out): queued | sent | fallback.
mailbox_messages = Table(
    "mailbox_messages",
    metadata,
    Column("message_id", String(400), primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("lead_id", Uuid, ForeignKey("leads.leads.id", ondelete="CASCADE"), nullable=False),
    Column("mailbox_id", Uuid, nullable=True),
    Column("direction", String(3), nullable=False),
    Column("message_key", String(200), nullable=True, unique=True),
    Column("status", String(10), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
Index("mailbox_messages_lead", mailbox_messages.c.lead_id, mailbox_messages.c.at)

# The CRM licence per organisation, as billing last announced it (pix_runtime.licences).
licences = licences_table(metadata)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
jobs = jobs_table(metadata)
dead_letters = dead_letters_table(metadata)


# What an organisation's erasure removes (pix_runtime.erasure): every table by its org_id (leads,
# their vectors, mailbox credentials, raw messages) and the raw messages' files.
ORGANISATION_DATA = OrganisationData(
    metadata, inbox=inbox, outbox=outbox, object_keys=(raw_messages.c.storage_key,)
)
