"""deliveries: the delivered photo set per gallery, the delivery of each version

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("galleries", sa.Column("delivery", sa.Integer(), nullable=True), schema="export")
    op.add_column(
        "galleries",
        sa.Column("delivery_set", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema="export",
    )
    op.add_column(
        "galleries", sa.Column("built_delivery", sa.Integer(), nullable=True), schema="export"
    )
    op.add_column("exports", sa.Column("delivery", sa.Integer(), nullable=True), schema="export")


def downgrade() -> None:
    op.drop_column("exports", "delivery", schema="export")
    op.drop_column("galleries", "built_delivery", schema="export")
    op.drop_column("galleries", "delivery_set", schema="export")
    op.drop_column("galleries", "delivery", schema="export")
