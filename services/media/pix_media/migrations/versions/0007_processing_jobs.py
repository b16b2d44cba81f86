"""processing on the job layer: queued photos get their job, assets lose `attempts`

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Photos the old workers had queued or held: a `media.process` job each, as `complete`
    # enqueues it now (the job layer counts attempts; a photo is `queued` until it is done).
    op.execute("UPDATE media.assets SET status = 'queued' WHERE status = 'processing'")
    op.execute(
        """
        INSERT INTO media.jobs (kind, key, payload, run_at)
        SELECT 'media.process', id::text,
               jsonb_build_object('asset_id', id, 'gallery_id', gallery_id, 'label', label,
                                  'original_key', original_key),
               now()
        FROM media.assets WHERE status = 'queued'
        ON CONFLICT DO NOTHING
        """
    )
    op.drop_column("assets", "attempts", schema="media")


def downgrade() -> None:
    op.add_column(
        "assets",
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        schema="media",
    )
    op.execute("DELETE FROM media.jobs WHERE kind = 'media.process' AND status = 'queued'")
