"""photo set versions and deliveries

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "galleries",
        sa.Column("set_version", sa.Integer(), server_default="0", nullable=False),
        schema="media",
    )
    op.add_column(
        "galleries",
        sa.Column("state", sa.String(length=20), server_default="in_progress", nullable=False),
        schema="media",
    )
    op.add_column(
        "galleries", sa.Column("announced_set_version", sa.Integer(), nullable=True), schema="media"
    )
    op.add_column(
        "galleries",
        sa.Column("delivery_count", sa.Integer(), server_default="0", nullable=False),
        schema="media",
    )
    op.add_column(
        "galleries", sa.Column("delivered_set_version", sa.Integer(), nullable=True), schema="media"
    )
    op.add_column(
        "galleries",
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        schema="media",
    )
    op.add_column("galleries", sa.Column("delivered_by", sa.Uuid(), nullable=True), schema="media")
    op.add_column(
        "assets", sa.Column("caption_version", sa.Integer(), nullable=True), schema="media"
    )


def downgrade() -> None:
    op.drop_column("assets", "caption_version", schema="media")
    for column in (
        "delivered_by",
        "delivered_at",
        "delivered_set_version",
        "delivery_count",
        "announced_set_version",
        "state",
        "set_version",
    ):
        op.drop_column("galleries", column, schema="media")
