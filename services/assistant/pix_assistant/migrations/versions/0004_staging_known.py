"""stagings.known_staged: the staged photos of the source when the staging was asked for

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 13:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "stagings",
        sa.Column(
            "known_staged",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        schema="assistant",
    )


def downgrade() -> None:
    op.drop_column("stagings", "known_staged", schema="assistant")
