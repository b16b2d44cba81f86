"""the organisation of a gallery's mail state, so an organisation's erasure finds it when the
recipient is already gone

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 13:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("gallery_mail", sa.Column("org_id", sa.Uuid(), nullable=True), schema="notify")
    op.create_index(
        op.f("ix_notify_gallery_mail_org_id"),
        "gallery_mail",
        ["org_id"],
        unique=False,
        schema="notify",
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_notify_gallery_mail_org_id"), table_name="gallery_mail", schema="notify")
    op.drop_column("gallery_mail", "org_id", schema="notify")
