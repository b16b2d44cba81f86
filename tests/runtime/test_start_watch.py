"""A start-up step that hangs says where: `watched` logs the stage once it runs too long."""

from __future__ import annotations

import asyncio
import functools

import pytest
from pix_runtime.lifecycle import _describe, watched
from structlog.testing import capture_logs


async def test_a_slow_step_is_named_once_and_still_finishes() -> None:
    with capture_logs() as logs:
        result = await watched("broker", asyncio.sleep(0.25, result="up"), warn_after=0.05)
    assert result == "up"
    slow = [entry for entry in logs if entry["event"] == "service.start_slow"]
    assert slow == [
        {"event": "service.start_slow", "stage": "broker", "seconds": 0.05, "log_level": "warning"}
    ]


async def test_a_quick_step_says_nothing_and_its_error_surfaces() -> None:
    async def fails() -> None:
        raise ConnectionError("no broker")

    with capture_logs() as logs:
        assert await watched("migrations", asyncio.sleep(0, result=1), warn_after=0.05) == 1
        with pytest.raises(ConnectionError):
            await watched("broker", fails(), warn_after=0.05)
        await asyncio.sleep(0.1)  # a watchdog left running would log now
    assert [entry for entry in logs if entry["event"] == "service.start_slow"] == []


def test_start_hooks_are_named_by_their_function() -> None:
    class Desk:
        async def warm_up(self, connections: int) -> None:
            del connections

    assert _describe(functools.partial(Desk().warm_up, 4)) == (
        "test_start_hooks_are_named_by_their_function.<locals>.Desk.warm_up"
    )
