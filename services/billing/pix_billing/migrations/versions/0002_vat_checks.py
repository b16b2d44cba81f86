"""vat checks: what VIES said of an organisation's EU VAT id

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 12:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("vat_status", "vat_checked_at", "vat_name", "vat_address", "vat_consultation")


def upgrade() -> None:
    op.add_column(
        "accounts", sa.Column("vat_status", sa.String(20), nullable=True), schema="billing"
    )
    op.add_column(
        "accounts",
        sa.Column("vat_checked_at", sa.DateTime(timezone=True), nullable=True),
        schema="billing",
    )
    op.add_column(
        "accounts", sa.Column("vat_name", sa.String(300), nullable=True), schema="billing"
    )
    op.add_column("accounts", sa.Column("vat_address", sa.Text(), nullable=True), schema="billing")
    op.add_column(
        "accounts", sa.Column("vat_consultation", sa.String(100), nullable=True), schema="billing"
    )
    # Ids saved before VIES was asked were checked for their form only: a job asks VIES.
    op.execute("UPDATE billing.accounts SET vat_status = 'unverified' WHERE vat_id IS NOT NULL")


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_column("accounts", column, schema="billing")
