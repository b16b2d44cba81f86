"""orders' payments from billing, and watermarked previews of the renditions while unpaid

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_payments",
        sa.Column("order_id", sa.Uuid(), primary_key=True),
        sa.Column("gallery_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("required_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_via", sa.String(length=20), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema="media",
    )
    op.create_index(
        "ix_media_order_payments_gallery_id", "order_payments", ["gallery_id"], schema="media"
    )
    op.add_column(
        "assets", sa.Column("preview_web_key", sa.String(length=300), nullable=True), schema="media"
    )
    op.add_column(
        "assets",
        sa.Column("preview_thumb_key", sa.String(length=300), nullable=True),
        schema="media",
    )


def downgrade() -> None:
    op.drop_column("assets", "preview_thumb_key", schema="media")
    op.drop_column("assets", "preview_web_key", schema="media")
    op.drop_index("ix_media_order_payments_gallery_id", "order_payments", schema="media")
    op.drop_table("order_payments", schema="media")
