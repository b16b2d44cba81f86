"""Argon2id off the event loop: a small thread pool with a bounded queue.

One argon2id hash costs ~100 ms of CPU (64 MiB, 3 passes, 4 lanes that already use every core
of a small machine). On the event loop, a burst of failed logins stalled every other request of
the process, session checks included. In threads (argon2-cffi releases the GIL) the loop keeps
serving while hashes queue; the queue is bounded so a flood is refused at once instead of
holding connections for minutes.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pix_runtime.errors import DomainError

# Hashes running at once: one argon2id call already keeps two cores busy with its lanes.
DEFAULT_WORKERS = max(1, (os.cpu_count() or 2) // 2)
# Hashes allowed to wait; beyond that a sign-in is refused with 503 and Retry-After.
DEFAULT_QUEUE = 64


class HashingBusy(DomainError):
    """More password checks waiting than the process may queue: retry in a moment."""

    status = 503

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("busy", "too many sign-ins at this moment, please retry shortly")
        self.retry_after = retry_after


class PasswordHashing:
    def __init__(self, *, workers: int = DEFAULT_WORKERS, queue: int = DEFAULT_QUEUE) -> None:
        self._hasher = PasswordHasher()  # argon2id, the library's recommended parameters
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._capacity = workers + queue
        self._in_flight = 0
        # Paid for unknown emails too, so response time does not tell whether an account exists.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def _run(self, call: object, *args: str) -> object:
        if self._in_flight >= self._capacity:
            raise HashingBusy()
        self._in_flight += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, call, *args)  # type: ignore[arg-type]
        finally:
            self._in_flight -= 1

    async def hash(self, password: str) -> str:
        return str(await self._run(self._hasher.hash, password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches; a missing hash costs the same as a wrong password."""
        return bool(await self._run(self._check, password_hash or self._dummy, password))

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
