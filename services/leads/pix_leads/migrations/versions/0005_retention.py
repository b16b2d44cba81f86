"""an organisation's own retention windows (lost leads, original messages)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retention",
        sa.Column("org_id", sa.Uuid, primary_key=True),
        sa.Column("lost_lead_days", sa.Integer, nullable=True),
        sa.Column("raw_message_days", sa.Integer, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema="leads",
    )


def downgrade() -> None:
    op.drop_table("retention", schema="leads")
