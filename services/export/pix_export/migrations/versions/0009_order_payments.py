"""orders' payments from billing, and delivered versions whose announcement waits for one

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_payments",
        sa.Column("order_id", sa.Uuid(), primary_key=True),
        sa.Column("gallery_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("required_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gross_cents", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_via", sa.String(length=20), nullable=True),
        sa.Column("invoice_number", sa.String(length=40), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema="export",
    )
    op.create_index(
        "ix_export_order_payments_gallery", "order_payments", ["gallery_id"], schema="export"
    )
    # Versions built before this column existed were announced: not held.
    op.add_column(
        "exports",
        sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false()),
        schema="export",
    )


def downgrade() -> None:
    op.drop_column("exports", "held", schema="export")
    op.drop_index("ix_export_order_payments_gallery", "order_payments", schema="export")
    op.drop_table("order_payments", schema="export")
