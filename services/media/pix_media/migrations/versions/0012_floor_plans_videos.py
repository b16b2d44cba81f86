"""floor plans and videos as deliverables

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "assets",
        sa.Column("kind", sa.String(20), nullable=False, server_default="photo"),
        schema="media",
    )
    op.add_column("assets", sa.Column("file_key", sa.String(300), nullable=True), schema="media")
    op.add_column("assets", sa.Column("file_sha256", sa.String(64), nullable=True), schema="media")
    op.add_column("assets", sa.Column("file_size", sa.BigInteger(), nullable=True), schema="media")
    op.add_column("assets", sa.Column("duration_ms", sa.Integer(), nullable=True), schema="media")
    op.add_column("assets", sa.Column("page_count", sa.Integer(), nullable=True), schema="media")
    op.add_column(
        "galleries",
        sa.Column("ordered_services", postgresql.ARRAY(sa.String(40)), nullable=True),
        schema="media",
    )


def downgrade() -> None:
    op.drop_column("galleries", "ordered_services", schema="media")
    for column in ("page_count", "duration_ms", "file_size", "file_sha256", "file_key", "kind"):
        op.drop_column("assets", column, schema="media")
