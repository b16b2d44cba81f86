"""the photographer assigned to a gallery's order, from the orders' appointment events

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 14:00:00
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
        "assignments",
        sa.Column("gallery_id", sa.Uuid(), primary_key=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("photographer_id", sa.Uuid(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        schema="media",
    )
    op.create_index("ix_media_assignments_org_id", "assignments", ["org_id"], schema="media")
    op.create_index(
        "ix_media_assignments_photographer_id", "assignments", ["photographer_id"], schema="media"
    )


def downgrade() -> None:
    op.drop_table("assignments", schema="media")
