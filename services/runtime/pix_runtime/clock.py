"""The service's sense of time, in one place, so tests can move it.

Domain code asks `clock.now()` instead of `datetime.now()`; jobs compare due times with it. In
production the offset is zero; a test calls `advance` to see what a service does three days on
(follow-ups, expiries) without waiting.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, by: timedelta) -> None:
        self._offset += by
