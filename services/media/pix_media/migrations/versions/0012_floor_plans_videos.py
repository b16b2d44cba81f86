"""floor plans and videos as deliverables

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 15:40:00
"""

from collections.abc import Sequence

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reserved for the work in progress on this service; filled in by that change.
    return None


def downgrade() -> None:
    return None
