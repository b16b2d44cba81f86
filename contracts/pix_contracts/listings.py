"""Events of the listings service: properties published, updated and withdrawn."""

from __future__ import annotations

from pix_contracts.envelope import Event

LISTING_EVENTS: tuple[type[Event], ...] = ()
