"""owner and agent roles: an organisation's members were all "client"; they become owners

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 10:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every member had an owner's rights so far: nobody loses any by the split.
    op.execute("UPDATE auth.users SET role = 'owner' WHERE role = 'client'")
    op.alter_column("users", "role", server_default="owner", schema="auth")


def downgrade() -> None:
    op.execute("UPDATE auth.users SET role = 'client' WHERE role IN ('owner', 'agent')")
    op.alter_column("users", "role", server_default="client", schema="auth")
