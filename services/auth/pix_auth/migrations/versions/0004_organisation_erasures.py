"""organisation erasures and the services' reports

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 13:10:00
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
        "organisation_erasures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_by_role", sa.String(length=12), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        schema="auth",
    )
    op.create_index(
        op.f("ix_auth_organisation_erasures_org_id"),
        "organisation_erasures",
        ["org_id"],
        unique=False,
        schema="auth",
    )
    op.create_index(
        "organisation_erasures_live",
        "organisation_erasures",
        ["org_id"],
        unique=True,
        schema="auth",
        postgresql_where=sa.text("status IN ('pending', 'erasing')"),
    )
    op.create_table(
        "erasure_reports",
        sa.Column("erasure_id", sa.Uuid(), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("objects", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["erasure_id"], ["auth.organisation_erasures.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("erasure_id", "service"),
        schema="auth",
    )


def downgrade() -> None:
    op.drop_table("erasure_reports", schema="auth")
    op.drop_index("organisation_erasures_live", table_name="organisation_erasures", schema="auth")
    op.drop_index(
        op.f("ix_auth_organisation_erasures_org_id"),
        table_name="organisation_erasures",
        schema="auth",
    )
    op.drop_table("organisation_erasures", schema="auth")
