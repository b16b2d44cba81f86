"""objections to contact (GDPR Art. 21), by the keyed digest of an address or a phone number

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "objections",
        sa.Column("org_id", sa.Uuid, primary_key=True),
        sa.Column("subject_digest", sa.String(64), primary_key=True),
        sa.Column("recorded_by", sa.Uuid, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema="leads",
    )


def downgrade() -> None:
    op.drop_table("objections", schema="leads")
