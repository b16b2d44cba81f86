"""Events of the leads service (the lead CRM): inquiries that became leads, and their status."""

from __future__ import annotations

from pix_contracts.envelope import Event

LEAD_EVENTS: tuple[type[Event], ...] = ()
