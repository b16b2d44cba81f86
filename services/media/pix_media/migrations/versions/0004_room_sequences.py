"""room sequences: one counter per gallery and room, taken in the same statement as the result

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 05:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "room_sequences",
        sa.Column("gallery_id", sa.Uuid(), nullable=False),
        sa.Column("room", sa.String(length=40), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["gallery_id"], ["media.galleries.id"]),
        sa.PrimaryKeyConstraint("gallery_id", "room"),
        schema="media",
    )
    # Numbers already given out stay taken.
    op.execute(
        "INSERT INTO media.room_sequences (gallery_id, room, last) "
        "SELECT gallery_id, coalesce(room_type, ''), max(sequence) FROM media.assets "
        "WHERE sequence IS NOT NULL GROUP BY gallery_id, coalesce(room_type, '')"
    )


def downgrade() -> None:
    op.drop_table("room_sequences", schema="media")
