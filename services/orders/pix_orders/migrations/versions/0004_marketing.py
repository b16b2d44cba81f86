"""orders say whether the property is for sale or for rent

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 09:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Orders placed before the form asked stay NULL: nobody knows, and a guess would end up
    # in a CRM as a fact.
    op.add_column(
        "orders", sa.Column("marketing", sa.String(length=10), nullable=True), schema="orders"
    )


def downgrade() -> None:
    op.drop_column("orders", "marketing", schema="orders")
