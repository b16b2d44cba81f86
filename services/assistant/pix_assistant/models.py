"""Tables of the assistant, all in the `assistant` schema.

Every row carries the `org_id` and the `user_id` it belongs to: conversations, memory and
proposed actions are the user's own; usage and audit rows are the organisation's accounts.
Nothing here copies another service's data beyond what a conversation quoted.
"""

from pix_runtime.dead_letters import dead_letters_table
from pix_runtime.erasure import OrganisationData
from pix_runtime.inbox import inbox_table
from pix_runtime.jobs import jobs_table
from pix_runtime.licences import licences_table
from pix_runtime.outbox import outbox_table
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(schema="assistant")

conversations = Table(
    "conversations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("title", String(200), nullable=False, server_default=""),
    # What the older messages said, folded in when the history grew long.
    Column("summary", Text, nullable=False, server_default=""),
    # Messages with ids up to this one are in the summary and no longer sent to the model.
    Column("summarised_upto", BigInteger, nullable=False, server_default="0"),
    # The user's rating: 1 good, -1 bad; good ones feed the fine-tuning export.
    Column("rating", SmallInteger, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index(
    "conversations_user",
    conversations.c.org_id,
    conversations.c.user_id,
    conversations.c.updated_at,
)

# The turns as the model saw them: user, assistant (text and/or tool calls), tool results.
messages = Table(
    "messages",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "conversation_id",
        Uuid,
        ForeignKey("assistant.conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("org_id", Uuid, nullable=False),
    Column("role", String(20), nullable=False),
    Column("content", Text, nullable=False, server_default=""),
    Column("tool_calls", JSONB, nullable=True),
    Column("tool_call_id", String(100), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("messages_conversation", messages.c.conversation_id, messages.c.id)

# Facts the user asked the assistant to remember.
memories = Table(
    "memories",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("fact", String(500), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("memories_user", memories.c.org_id, memories.c.user_id)

# A change the assistant proposed (seed: JarvisPendingAction); it runs only when the user says
# yes. status: pending -> done | failed | rejected | expired.
actions = Table(
    "actions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("conversation_id", Uuid, nullable=True),
    Column("kind", String(60), nullable=False),
    Column("arguments", JSONB, nullable=False),
    Column("summary", Text, nullable=False),
    Column("status", String(20), nullable=False, server_default="pending"),
    Column("result", JSONB, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
)
Index("actions_pending", actions.c.status, actions.c.expires_at)
Index("actions_user", actions.c.org_id, actions.c.user_id, actions.c.created_at)

# Every model call (seed: AiUsageLog). outcome: ok | error | budget_exhausted.
usage = Table(
    "usage",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=True),
    Column("conversation_id", Uuid, nullable=True),
    Column("feature", String(40), nullable=False),
    Column("model", String(100), nullable=False),
    Column("tokens_in", Integer, nullable=False, server_default="0"),
    Column("tokens_out", Integer, nullable=False, server_default="0"),
    Column("cost_eur", Numeric(14, 6), nullable=False, server_default="0"),
    Column("latency_ms", Integer, nullable=False, server_default="0"),
    Column("outcome", String(30), nullable=False),
    Column("error", Text, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
)
Index("usage_org_at", usage.c.org_id, usage.c.at)

# Tool calls and decisions on proposed actions (seed: AiAuditLog).
audit = Table(
    "audit",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("conversation_id", Uuid, nullable=True),
    Column("kind", String(30), nullable=False),
    Column("name", String(100), nullable=False),
    Column("detail", JSONB, nullable=False, server_default="{}"),
    Column("at", DateTime(timezone=True), nullable=False),
)
Index("audit_conversation", audit.c.conversation_id, audit.c.id)
Index("audit_org_at", audit.c.org_id, audit.c.at)

# An organisation's own monthly budget, set by an admin; without a row the default applies.
budgets = Table(
    "budgets",
    metadata,
    Column("org_id", Uuid, primary_key=True),
    Column("monthly_eur", Numeric(14, 6), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# A virtual staging asked for (the gallery's and the listing page's "Virtuell einrichten"): the
# image model runs in a job, the page polls the row. status: queued -> running -> done | failed
# (a refusal of the provider or of listings, or the retries used up; `error` says which).
# `identity` is the caller as the gateway vouched for it: the job acts as that user.
stagings = Table(
    "stagings",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("listing_id", Uuid, nullable=False),
    Column("media_id", Uuid, nullable=False),
    Column("style", String(20), nullable=False),
    Column("status", String(20), nullable=False, server_default="queued"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("identity", JSONB, nullable=False),
    # The staged photos of this source and style when it was asked for: a retry that finds
    # one more adopts it instead of staging twice.
    Column("known_staged", JSONB, nullable=False, server_default="[]"),
    Column("result", JSONB, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("stagings_org", stagings.c.org_id, stagings.c.created_at)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
# The CRM licence per organisation: the assistant is part of the CRM (pix_runtime.licences).
licences = licences_table(metadata)
jobs = jobs_table(metadata)
dead_letters = dead_letters_table(metadata)


# What an organisation's erasure removes (pix_runtime.erasure): every table by its org_id
# (conversations, memories, audit, usage, stagings).
ORGANISATION_DATA = OrganisationData(metadata, inbox=inbox, outbox=outbox)
