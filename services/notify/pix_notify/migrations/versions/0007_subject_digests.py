"""keyed digests of addresses and the user an order's recipient belongs to, so an erasure that
carries ids only (auth.user.deleted.v2) finds the rows

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows from before stay without a digest; the erasure computes theirs as it looks.
    op.add_column(
        "emails", sa.Column("recipient_digest", sa.String(64), nullable=True), schema="notify"
    )
    op.create_index("emails_recipient_digest", "emails", ["recipient_digest"], schema="notify")
    op.add_column("recipients", sa.Column("user_id", sa.Uuid, nullable=True), schema="notify")
    op.add_column(
        "recipients", sa.Column("email_digest", sa.String(64), nullable=True), schema="notify"
    )


def downgrade() -> None:
    op.drop_column("recipients", "email_digest", schema="notify")
    op.drop_column("recipients", "user_id", schema="notify")
    op.drop_index("emails_recipient_digest", table_name="emails", schema="notify")
    op.drop_column("emails", "recipient_digest", schema="notify")
