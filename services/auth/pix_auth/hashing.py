"""Argon2id off the event loop: a small thread pool with a bounded queue.

One argon2id hash costs ~100 ms of CPU (64 MiB, 3 passes, 4 lanes that already use every core
of a small machine). On the event loop, a burst of failed logins stalled every other request of
the process, session checks included. In threads (argon2-cffi releases the GIL) the loop keeps
serving while hashes queue. The hashing threads (and the lane threads libargon2 starts from
them, which inherit it) run at a lower CPU priority, so on a busy machine the event loop's short
requests go first. The queue is bounded in length and in waiting time, so a flood is refused
with 429 and Retry-After instead of holding connections until the gateway gives up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pix_runtime.errors import DomainError

T = TypeVar("T")
# Hashes running at once: one argon2id call already keeps two cores busy with its lanes.
DEFAULT_WORKERS = max(1, (os.cpu_count() or 2) // 2)
# Hashes allowed to wait, and for how long; beyond that a sign-in is refused with 429.
DEFAULT_QUEUE = 32
DEFAULT_MAX_WAIT_SECONDS = 10.0
# Below the event loop's priority (nice 0): checks and pages first, hashes with what is left.
HASHING_NICENESS = 10


class HashingBusy(DomainError):
    """More password checks waiting than the process may queue: retry in a moment."""

    status = 429

    def __init__(self, retry_after: int = 2) -> None:
        super().__init__("busy", "too many sign-ins at this moment, please retry shortly")
        self.retry_after = retry_after


def _lower_priority() -> None:
    # Linux keeps the nice value per thread; elsewhere this may not apply, which only costs
    # the priority, not correctness.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


class PasswordHashing:
    def __init__(
        self,
        *,
        workers: int = DEFAULT_WORKERS,
        queue: int = DEFAULT_QUEUE,
        max_wait: float = DEFAULT_MAX_WAIT_SECONDS,
    ) -> None:
        self._hasher = PasswordHasher()  # argon2id, the library's recommended parameters
        self._pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="argon2", initializer=_lower_priority
        )
        self._capacity = workers + queue
        self._max_wait = max_wait
        self._in_flight = 0
        # Paid for unknown emails too, so response time does not tell whether an account exists.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def _run(self, call: Callable[..., T], *args: str) -> T:
        if self._in_flight >= self._capacity:
            raise HashingBusy()
        self._in_flight += 1
        try:
            loop = asyncio.get_running_loop()
            work = loop.run_in_executor(self._pool, call, *args)
            try:
                # A hash still waiting when this runs out is cancelled before it starts.
                return await asyncio.wait_for(work, self._max_wait)
            except TimeoutError as exc:
                raise HashingBusy() from exc
        finally:
            self._in_flight -= 1

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches; a missing hash costs the same as a wrong password."""
        return await self._run(self._check, password_hash or self._dummy, password)

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
