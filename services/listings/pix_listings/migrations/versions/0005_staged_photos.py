"""staged photos: virtually furnished copies of a listing's photos, marked as such

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 10:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("media", "asset_id", nullable=True, schema="listings")
    op.add_column(
        "media",
        sa.Column("staged", sa.Boolean(), nullable=False, server_default="false"),
        schema="listings",
    )
    op.add_column(
        "media", sa.Column("source_photo_id", sa.Uuid(), nullable=True), schema="listings"
    )
    op.add_column(
        "media", sa.Column("staging_style", sa.String(length=30), nullable=True), schema="listings"
    )
    op.create_foreign_key(
        "media_source_photo",
        "media",
        "media",
        ["source_photo_id"],
        ["id"],
        source_schema="listings",
        referent_schema="listings",
        ondelete="CASCADE",
    )


def downgrade() -> None:
    op.execute("DELETE FROM listings.media WHERE staged")
    op.drop_constraint("media_source_photo", "media", schema="listings", type_="foreignkey")
    op.drop_column("media", "staging_style", schema="listings")
    op.drop_column("media", "source_photo_id", schema="listings")
    op.drop_column("media", "staged", schema="listings")
    op.alter_column("media", "asset_id", nullable=False, schema="listings")
