"""entries: the original's SHA-256, checked when originals are bundled

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 05:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "entries",
        sa.Column("original_sha256", sa.String(length=64), nullable=True),
        schema="export",
    )


def downgrade() -> None:
    op.drop_column("entries", "original_sha256", schema="export")
