"""users.role fits "photographer" (12 characters): the model said String(12), the table kept
the first migration's varchar(10), so giving someone the photographer role failed

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 13:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "users",
        "role",
        type_=sa.String(length=12),
        existing_type=sa.String(length=10),
        existing_nullable=False,
        schema="auth",
    )


def downgrade() -> None:
    op.alter_column(
        "users",
        "role",
        type_=sa.String(length=10),
        existing_type=sa.String(length=12),
        existing_nullable=False,
        schema="auth",
    )
