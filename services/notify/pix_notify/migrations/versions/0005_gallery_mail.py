"""gallery mail: the latest delivered export per gallery and what the client was told

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 07:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gallery_mail",
        sa.Column("gallery_id", sa.Uuid(), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("latest_export", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("mailed_version", sa.Integer(), nullable=True),
        sa.Column("ready_mailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_mailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("gallery_id"),
        schema="notify",
    )


def downgrade() -> None:
    op.drop_table("gallery_mail", schema="notify")
