"""substring search: search_text kept by the search trigger, with a trigram index

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 07:52:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pix_runtime.migrations import create_extension

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_TRIGGER = """
CREATE OR REPLACE FUNCTION listings.listing_search_update() RETURNS trigger AS $$
BEGIN
  NEW.search_vector :=
    setweight(to_tsvector('german', coalesce(NEW.title, '')), 'A') ||
    setweight(to_tsvector('german', concat_ws(' ', NEW.street, NEW.postcode, NEW.city)), 'B') ||
    setweight(to_tsvector('german', concat_ws(' ', NEW.description_de, NEW.description_en,
                                              array_to_string(NEW.features, ' '))), 'C');
  NEW.search_text := lower(concat_ws(' ', NEW.title, array_to_string(NEW.features, ' '),
                                     NEW.street, NEW.city, NEW.description_de,
                                     NEW.description_en));
  RETURN NEW;
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    # pg_trgm ships with PostgreSQL's contrib modules (the embedded PostgreSQL has it).
    create_extension("pg_trgm")
    op.add_column("listings", sa.Column("search_text", sa.Text(), nullable=True), schema="listings")
    op.execute(SEARCH_TRIGGER)
    op.execute("UPDATE listings.listings SET title = title")
    op.create_index(
        "listings_search_text",
        "listings",
        ["search_text"],
        unique=False,
        schema="listings",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("listings_search_text", table_name="listings", schema="listings")
    op.drop_column("listings", "search_text", schema="listings")
