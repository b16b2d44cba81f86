"""The tables of viewings and the agents' calendars (migration 0007), in the `leads` schema.

Kept beside the viewing code (like pix_leads.subjects' tables) on the service's one metadata,
so Alembic and the organisation's erasure see them with the rest.
"""

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY

from pix_leads.models import metadata

# An agent's CalDAV calendar, one per user: the password sealed (SecretBox, bound to the row's
# id), the working hours free slots are offered in (minutes after midnight, Berlin time;
# ISO weekdays 1 = Monday). status: live | broken (the server refused the password).
calendars = Table(
    "calendars",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("user_id", Uuid, nullable=False, unique=True),
    Column("kind", String(10), nullable=False, server_default="caldav"),
    Column("server_url", String(1000), nullable=False),
    Column("calendar_url", String(1000), nullable=False),
    Column("calendar_name", String(200), nullable=False, server_default=""),
    Column("username", String(320), nullable=False),
    Column("sealed_password", Text, nullable=False),
    Column("agent_email", String(320), nullable=False, server_default=""),
    Column("agent_name", String(200), nullable=False, server_default=""),
    Column("work_days", ARRAY(Integer), nullable=False, server_default="{1,2,3,4,5}"),
    Column("day_start_minute", Integer, nullable=False, server_default="540"),
    Column("day_end_minute", Integer, nullable=False, server_default="1080"),
    Column("slot_minutes", Integer, nullable=False, server_default="45"),
    Column("status", String(10), nullable=False, server_default="live"),
    Column("last_error", String(300), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# A viewing of a lead. state: invited -> accepted | declined | tentative (the lead's iTIP
# REPLY), cancelled (by the agent). calendar_state: none (no calendar) | pending | written |
# removed | failed. `sequence` is the iCalendar SEQUENCE: +1 on every reschedule and cancel.
viewings = Table(
    "viewings",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    # An erased lead's viewings keep no lead (SET NULL) until their calendar events are gone.
    Column("lead_id", Uuid, ForeignKey("leads.leads.id", ondelete="SET NULL"), nullable=True),
    Column(
        "calendar_id", Uuid, ForeignKey("leads.calendars.id", ondelete="SET NULL"), nullable=True
    ),
    Column("booked_by", Uuid, nullable=True),
    Column("booked_via", String(10), nullable=False, server_default="agent"),
    Column("uid", String(200), nullable=False, unique=True),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("place", String(500), nullable=False, server_default=""),
    Column("state", String(12), nullable=False, server_default="invited"),
    Column("sequence", Integer, nullable=False, server_default="0"),
    Column("calendar_state", String(10), nullable=False, server_default="none"),
    Column("calendar_error", String(300), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("replied_at", DateTime(timezone=True), nullable=True),
)
Index("viewings_lead", viewings.c.lead_id, viewings.c.starts_at)
Index("viewings_calendar_time", viewings.c.calendar_id, viewings.c.starts_at)
