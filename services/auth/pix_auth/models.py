from pix_runtime.dead_letters import dead_letters_table
from pix_runtime.inbox import inbox_table
from pix_runtime.jobs import jobs_table
from pix_runtime.outbox import outbox_table
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    func,
)

metadata = MetaData(schema="auth")

organisations = Table(
    "organisations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("auth.organisations.id"), nullable=False, index=True),
    Column("email", String(320), nullable=False),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(12), nullable=False, server_default="owner"),
    Column("locale", String(2), nullable=False, server_default="de"),
    Column("email_verified_at", DateTime(timezone=True), nullable=True),
    Column("password_changed_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
# One account per address, whatever its case.
Index("users_email_lower", func.lower(users.c.email), unique=True)

# Lucia-style sessions: the token is "<id>.<secret>"; only SHA-256(secret) is kept.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("secret_hash", LargeBinary(32), nullable=False),
    Column(
        "user_id",
        Uuid,
        ForeignKey("auth.users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_seen_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("absolute_expires_at", DateTime(timezone=True), nullable=False),
    # Shown on the account page so a user recognises their devices; gone with the session.
    Column("user_agent", String(300), nullable=True),
)

# Single-use tokens for email verification, password reset and invitations; only hashes kept.
tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", LargeBinary(32), primary_key=True),
    Column(
        "user_id",
        Uuid,
        ForeignKey("auth.users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("purpose", String(20), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# An organisation's deletion: requested, locked for a grace period (cancellable), then erased
# everywhere. Kept after the erasure as its record; it holds ids and counts only (no name, no
# person), so it outlives what it erased.
organisation_erasures = Table(
    "organisation_erasures",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("status", String(12), nullable=False),
    Column("requested_by_role", String(12), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("cancelled_at", DateTime(timezone=True), nullable=True),
    Column("erased_at", DateTime(timezone=True), nullable=True),
    Column("completed_at", DateTime(timezone=True), nullable=True),
)
# One live erasure per organisation.
Index(
    "organisation_erasures_live",
    organisation_erasures.c.org_id,
    unique=True,
    postgresql_where=organisation_erasures.c.status.in_(("pending", "erasing")),
)

# Each service's answer: what it erased.
erasure_reports = Table(
    "erasure_reports",
    metadata,
    Column(
        "erasure_id",
        Uuid,
        ForeignKey("auth.organisation_erasures.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("service", String(40), primary_key=True),
    Column("rows", Integer, nullable=False),
    Column("objects", Integer, nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
jobs = jobs_table(metadata)
dead_letters = dead_letters_table(metadata)
