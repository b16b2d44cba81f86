"""notification emails a user switched off, per kind

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id", "kind"),
        schema="notify",
    )
    op.create_index(
        op.f("ix_notify_notification_preferences_email"),
        "notification_preferences",
        ["email"],
        schema="notify",
    )
    op.create_index(
        op.f("ix_notify_notification_preferences_org_id"),
        "notification_preferences",
        ["org_id"],
        schema="notify",
    )


def downgrade() -> None:
    op.drop_table("notification_preferences", schema="notify")
