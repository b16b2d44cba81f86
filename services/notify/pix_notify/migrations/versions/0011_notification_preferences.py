"""notification emails a user switched off, per kind

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 15:40:00
"""

from collections.abc import Sequence

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reserved for the work in progress on this service; filled in by that change.
    return None


def downgrade() -> None:
    return None
