"""the analytics' time to delivery reads deliveries by time: a partial index on the status
history's `delivered` entries

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 15:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "status_history_delivered",
        "status_history",
        ["at"],
        schema="orders",
        postgresql_include=["order_id"],
        postgresql_where=sa.text("to_status = 'delivered'"),
    )


def downgrade() -> None:
    op.drop_index("status_history_delivered", table_name="status_history", schema="orders")
