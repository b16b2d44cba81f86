"""viewings and the agent's calendars

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendars",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("org_id", sa.Uuid, nullable=False, index=True),
        sa.Column("user_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("kind", sa.String(10), nullable=False, server_default="caldav"),
        sa.Column("server_url", sa.String(1000), nullable=False),
        sa.Column("calendar_url", sa.String(1000), nullable=False),
        sa.Column("calendar_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("username", sa.String(320), nullable=False),
        sa.Column("sealed_password", sa.Text, nullable=False),
        sa.Column("agent_email", sa.String(320), nullable=False, server_default=""),
        sa.Column("agent_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("work_days", ARRAY(sa.Integer), nullable=False, server_default="{1,2,3,4,5}"),
        sa.Column("day_start_minute", sa.Integer, nullable=False, server_default="540"),
        sa.Column("day_end_minute", sa.Integer, nullable=False, server_default="1080"),
        sa.Column("slot_minutes", sa.Integer, nullable=False, server_default="45"),
        sa.Column("status", sa.String(10), nullable=False, server_default="live"),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema="leads",
    )
    op.create_table(
        "viewings",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("org_id", sa.Uuid, nullable=False),
        # SET NULL, not CASCADE: an erased lead's viewings stay until their events have left
        # the agent's calendar (they name the person), then go (leads.viewing-orphans).
        sa.Column(
            "lead_id",
            sa.Uuid,
            sa.ForeignKey("leads.leads.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "calendar_id",
            sa.Uuid,
            sa.ForeignKey("leads.calendars.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("booked_by", sa.Uuid, nullable=True),
        sa.Column("booked_via", sa.String(10), nullable=False, server_default="agent"),
        sa.Column("uid", sa.String(200), nullable=False, unique=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("place", sa.String(500), nullable=False, server_default=""),
        sa.Column("state", sa.String(12), nullable=False, server_default="invited"),
        sa.Column("sequence", sa.Integer, nullable=False, server_default="0"),
        sa.Column("calendar_state", sa.String(10), nullable=False, server_default="none"),
        sa.Column("calendar_error", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        schema="leads",
    )
    op.create_index("viewings_lead", "viewings", ["lead_id", "starts_at"], schema="leads")
    op.create_index(
        "viewings_calendar_time", "viewings", ["calendar_id", "starts_at"], schema="leads"
    )
    # The listing's street, so a viewing's place defaults to the whole address.
    op.add_column("listings", sa.Column("street", sa.String(200), nullable=True), schema="leads")


def downgrade() -> None:
    op.drop_column("listings", "street", schema="leads")
    op.drop_table("viewings", schema="leads")
    op.drop_table("calendars", schema="leads")
