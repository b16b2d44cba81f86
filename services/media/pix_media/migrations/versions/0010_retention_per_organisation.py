"""an organisation's own retention window for originals

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 13:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retention",
        sa.Column("org_id", sa.Uuid, primary_key=True),
        sa.Column("original_days", sa.Integer, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema="media",
    )


def downgrade() -> None:
    op.drop_table("retention", schema="media")
