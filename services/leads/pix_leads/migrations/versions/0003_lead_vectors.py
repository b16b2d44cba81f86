"""lead vectors: leads' wishes embedded for semantic search

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 12:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from pix_runtime.migrations import create_extension

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_extension("vector")
    op.create_table(
        "lead_vectors",
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("embedding", Vector(), nullable=False),
        sa.Column("text_sha", sa.String(length=64), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.leads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("lead_id"),
        schema="leads",
    )
    op.create_index(
        "lead_vectors_org_model",
        "lead_vectors",
        ["org_id", "model"],
        unique=False,
        schema="leads",
    )


def downgrade() -> None:
    op.drop_index("lead_vectors_org_model", table_name="lead_vectors", schema="leads")
    op.drop_table("lead_vectors", schema="leads")
