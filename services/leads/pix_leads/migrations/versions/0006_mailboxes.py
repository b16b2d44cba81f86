"""the agent's own mailboxes: sealed credentials, sync state

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_mailboxes",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("org_id", sa.Uuid, nullable=False, index=True),
        sa.Column("user_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("agent_email", sa.String(320), nullable=False),
        sa.Column("agent_name", sa.String(200), nullable=False),
        sa.Column("locale", sa.String(2), nullable=False, server_default="de"),
        sa.Column("status", sa.String(10), nullable=False, server_default="live"),
        sa.Column("broken_reason", sa.String(300), nullable=True),
        sa.Column("sealed_credentials", sa.LargeBinary, nullable=False),
        sa.Column("settings", JSONB, nullable=False, server_default="{}"),
        sa.Column("cursor", sa.Text, nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema="leads",
    )
    op.create_table(
        "mailbox_oauth_states",
        sa.Column("state_digest", sa.String(64), primary_key=True),
        sa.Column("org_id", sa.Uuid, nullable=False),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("session_id", sa.String(200), nullable=True),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("sealed_verifier", sa.LargeBinary, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        schema="leads",
    )
    op.create_table(
        "mailbox_messages",
        sa.Column("message_id", sa.String(400), primary_key=True),
        sa.Column("org_id", sa.Uuid, nullable=False),
        sa.Column(
            "lead_id",
            sa.Uuid,
            sa.ForeignKey("leads.leads.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("mailbox_id", sa.Uuid, nullable=True),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("message_key", sa.String(200), nullable=True, unique=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        schema="leads",
    )
    op.create_index(
        "mailbox_messages_lead",
        "mailbox_messages",
        ["lead_id", "at"],
        schema="leads",
    )


def downgrade() -> None:
    op.drop_table("mailbox_messages", schema="leads")
    op.drop_table("mailbox_oauth_states", schema="leads")
    op.drop_table("agent_mailboxes", schema="leads")
