"""coordinates: listings' geocoded addresses, leads' wished places as points, a lead's radius

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 12:40:00
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
        "listings", sa.Column("geo_source", sa.String(length=20), nullable=True), schema="listings"
    )
    op.add_column(
        "listings",
        sa.Column("geocoded_address", sa.String(length=300), nullable=True),
        schema="listings",
    )
    # Coordinates typed before geocoding existed are the agent's own.
    op.execute("UPDATE listings.listings SET geo_source = 'manual' WHERE latitude IS NOT NULL")
    op.create_index(
        "listings_latitude", "listings", ["org_id", "latitude"], unique=False, schema="listings"
    )
    for column in (
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("geocoded_place", sa.String(length=300), nullable=True),
        sa.Column("radius_km", sa.Float(), nullable=True),
    ):
        op.add_column("lead_profiles", column, schema="listings")


def downgrade() -> None:
    for name in ("radius_km", "geocoded_place", "longitude", "latitude"):
        op.drop_column("lead_profiles", name, schema="listings")
    op.drop_index("listings_latitude", table_name="listings", schema="listings")
    op.drop_column("listings", "geocoded_address", schema="listings")
    op.drop_column("listings", "geo_source", schema="listings")
