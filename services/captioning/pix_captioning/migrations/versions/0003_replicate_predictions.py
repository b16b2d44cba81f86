"""replicate predictions awaiting their webhook

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 10:12:41.518204
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("asset_version", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="starting", nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("event", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        schema="captioning",
    )
    op.create_index(
        op.f("ix_captioning_predictions_asset_id"),
        "predictions",
        ["asset_id"],
        unique=False,
        schema="captioning",
    )
    op.create_index(
        op.f("ix_captioning_predictions_completed_at"),
        "predictions",
        ["completed_at"],
        unique=False,
        schema="captioning",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_captioning_predictions_completed_at"),
        table_name="predictions",
        schema="captioning",
    )
    op.drop_index(
        op.f("ix_captioning_predictions_asset_id"), table_name="predictions", schema="captioning"
    )
    op.drop_table("predictions", schema="captioning")
