"""indexes for matching by place

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 07:09:41.284244
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "lead_profiles_anywhere",
        "lead_profiles",
        ["org_id"],
        unique=False,
        schema="listings",
        postgresql_where=sa.text("cardinality(postcodes) = 0 AND city IS NULL"),
    )
    op.create_index(
        "lead_profiles_city",
        "lead_profiles",
        ["org_id", sa.literal_column("lower(city)")],
        unique=False,
        schema="listings",
    )
    op.create_index(
        "lead_profiles_postcodes",
        "lead_profiles",
        ["postcodes"],
        unique=False,
        schema="listings",
        postgresql_using="gin",
    )
    op.create_index(
        "lead_profiles_regions",
        "lead_profiles",
        ["regions"],
        unique=False,
        schema="listings",
        postgresql_using="gin",
    )
    op.create_index(
        "listings_city",
        "listings",
        ["org_id", sa.literal_column("lower(city)")],
        unique=False,
        schema="listings",
    )
    op.create_index(
        "listings_postcode", "listings", ["org_id", "postcode"], unique=False, schema="listings"
    )
    op.create_index(
        "listings_region",
        "listings",
        ["org_id", sa.literal_column("left(postcode, 3)")],
        unique=False,
        schema="listings",
    )


def downgrade() -> None:
    op.drop_index("listings_region", table_name="listings", schema="listings")
    op.drop_index("listings_postcode", table_name="listings", schema="listings")
    op.drop_index("listings_city", table_name="listings", schema="listings")
    op.drop_index(
        "lead_profiles_regions",
        table_name="lead_profiles",
        schema="listings",
        postgresql_using="gin",
    )
    op.drop_index(
        "lead_profiles_postcodes",
        table_name="lead_profiles",
        schema="listings",
        postgresql_using="gin",
    )
    op.drop_index("lead_profiles_city", table_name="lead_profiles", schema="listings")
    op.drop_index(
        "lead_profiles_anywhere",
        table_name="lead_profiles",
        schema="listings",
        postgresql_where=sa.text("cardinality(postcodes) = 0 AND city IS NULL"),
    )
