"""an email's sender name and reply address (an organisation's mail to its leads)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 10:00:00
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
        "emails", sa.Column("sender_name", sa.String(200), nullable=True), schema="notify"
    )
    op.add_column("emails", sa.Column("reply_to", sa.String(320), nullable=True), schema="notify")


def downgrade() -> None:
    op.drop_column("emails", "reply_to", schema="notify")
    op.drop_column("emails", "sender_name", schema="notify")
