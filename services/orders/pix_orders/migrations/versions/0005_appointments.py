"""orders get an appointment: day, time window and the assigned photographer

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column(
            "order_id",
            sa.Uuid(),
            sa.ForeignKey("orders.orders.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts_at", sa.Time(), nullable=False),
        sa.Column("ends_at", sa.Time(), nullable=False),
        sa.Column("photographer_id", sa.Uuid(), nullable=False),
        sa.Column("photographer_email", sa.String(length=320), nullable=True),
        sa.Column("photographer_name", sa.String(length=200), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema="orders",
    )
    for column in ("org_id", "day", "photographer_id"):
        op.create_index(
            f"ix_orders_appointments_{column}", "appointments", [column], schema="orders"
        )


def downgrade() -> None:
    op.drop_table("appointments", schema="orders")
