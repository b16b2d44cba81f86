"""when an asset's original was deleted by the retention (its renditions stay)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 13:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "assets",
        sa.Column("original_deleted_at", sa.DateTime(timezone=True), nullable=True),
        schema="media",
    )


def downgrade() -> None:
    op.drop_column("assets", "original_deleted_at", schema="media")
