"""the property's facts from the order: type, sale or rent, area, rooms, structured address

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 10:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("property_type", sa.String(length=20)),
    ("marketing", sa.String(length=10)),
    ("living_area_m2", sa.Numeric(10, 2, asdecimal=False)),
    ("rooms", sa.Numeric(4, 1, asdecimal=False)),
    ("street", sa.String(length=200)),
    ("house_number", sa.String(length=20)),
    ("postcode", sa.String(length=10)),
    ("city", sa.String(length=100)),
    ("country", sa.String(length=2)),
)


def upgrade() -> None:
    # All nullable: galleries of orders placed before the facts travelled keep only the
    # one-line address, which the formats still parse.
    for name, kind in COLUMNS:
        op.add_column("galleries", sa.Column(name, kind, nullable=True), schema="export")


def downgrade() -> None:
    for name, _ in reversed(COLUMNS):
        op.drop_column("galleries", name, schema="export")
