"""the organisation of recipients and mails, so an organisation's erasure finds them; an
outbox for notify's reports of erasures

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("recipients", "emails"):
        op.add_column(table, sa.Column("org_id", sa.Uuid(), nullable=True), schema="notify")
        op.create_index(
            op.f(f"ix_notify_{table}_org_id"), table, ["org_id"], unique=False, schema="notify"
        )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
        schema="notify",
    )
    op.create_index(
        op.f("ix_notify_outbox_published_at"),
        "outbox",
        ["published_at"],
        unique=False,
        schema="notify",
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_notify_outbox_published_at"), table_name="outbox", schema="notify")
    op.drop_table("outbox", schema="notify")
    for table in ("emails", "recipients"):
        op.drop_index(op.f(f"ix_notify_{table}_org_id"), table_name=table, schema="notify")
        op.drop_column(table, "org_id", schema="notify")
