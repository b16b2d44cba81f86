"""the client's gallery: order, title picture, share links

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gallery_arrangements",
        sa.Column("gallery_id", sa.Uuid(), sa.ForeignKey("media.galleries.id"), primary_key=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("photo_order", sa.ARRAY(sa.Uuid()), nullable=False, server_default="{}"),
        sa.Column("title_asset_id", sa.Uuid(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="0"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema="media",
    )
    op.create_index(
        "ix_media_gallery_arrangements_org_id", "gallery_arrangements", ["org_id"], schema="media"
    )
    op.create_table(
        "gallery_shares",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("gallery_id", sa.Uuid(), sa.ForeignKey("media.galleries.id"), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(120), nullable=False, server_default=""),
        sa.Column("pin_hash", sa.String(64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("view_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_viewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_pins", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("pin_locked_until", sa.DateTime(timezone=True), nullable=True),
        schema="media",
    )
    op.create_index(
        "ix_media_gallery_shares_gallery_id", "gallery_shares", ["gallery_id"], schema="media"
    )
    op.create_index("ix_media_gallery_shares_org_id", "gallery_shares", ["org_id"], schema="media")


def downgrade() -> None:
    op.drop_table("gallery_shares", schema="media")
    op.drop_table("gallery_arrangements", schema="media")
