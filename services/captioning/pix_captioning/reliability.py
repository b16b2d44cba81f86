"""Bounded retries of a provider call (the job layer's backoff), and a per-provider circuit breaker.

A provider signals `Retryable` (rate limit, 5xx, timeout, a failed prediction) or `Permanent`
(the input will never work). `Retry-After` from the provider wins over our own backoff.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from pix_runtime.jobs import RetryPolicy as Backoff
from pix_runtime.logging import get_logger

from pix_captioning.metrics import BREAKER_OPEN, FAILURES

T = TypeVar("T")
log = get_logger(__name__)


class ProviderError(Exception):
    kind = "error"


class Retryable(ProviderError):
    kind = "retryable"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Permanent(ProviderError):
    kind = "permanent"


class CircuitOpen(Retryable):
    kind = "circuit_open"


class GaveUp(Exception):
    """Every attempt failed; `last` is the final error, `attempts` how many calls were made."""

    def __init__(self, last: ProviderError, attempts: int) -> None:
        super().__init__(str(last))
        self.last = last
        self.attempts = attempts


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `reset_seconds` one trial passes."""

    def __init__(self, name: str, *, threshold: int, reset_seconds: float) -> None:
        self.name = name
        self._threshold = threshold
        self._reset = reset_seconds
        self._failures = 0
        self._opened_at: float | None = None

    def before_call(self) -> None:
        if self._opened_at is None:
            return
        remaining = self._opened_at + self._reset - time.monotonic()
        if remaining > 0:
            raise CircuitOpen(f"circuit of {self.name} open", retry_after=remaining)
        # Half-open: let this call through; its outcome closes or re-opens the circuit.
        self._opened_at = None
        self._failures = self._threshold - 1

    def success(self) -> None:
        self._failures = 0
        BREAKER_OPEN.labels(self.name).set(0)

    def failure(self) -> None:
        self._failures += 1
        if self._failures >= self._threshold and self._opened_at is None:
            self._opened_at = time.monotonic()
            BREAKER_OPEN.labels(self.name).set(1)
            log.warning("provider.circuit_open", provider=self.name, seconds=self._reset)

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None and time.monotonic() < self._opened_at + self._reset


@dataclass(frozen=True)
class RetryPolicy:
    """How often one handling calls a provider, and how long it waits between the calls: the
    platform's one backoff formula (`pix_runtime.jobs.RetryPolicy`), at least the provider's
    `Retry-After` (capped at `max_seconds`: a handler does not wait for an hour)."""

    attempts: int = 4
    base_seconds: float = 1.0
    max_seconds: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Wait before attempt `attempt + 1` (attempt counts from 1)."""
        backoff = Backoff(self.attempts, self.base_seconds, self.max_seconds)
        return backoff.delay(attempt, at_least=min(retry_after or 0.0, self.max_seconds))


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    breaker: CircuitBreaker,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> tuple[T, int]:
    """The call's result and how many attempts it took; `GaveUp` after the last one."""
    attempt = 0
    while True:
        attempt += 1
        try:
            breaker.before_call()
            result = await call()
        except Permanent as exc:
            FAILURES.labels(breaker.name, exc.kind).inc()
            raise GaveUp(exc, attempt) from exc
        except Retryable as exc:
            FAILURES.labels(breaker.name, exc.kind).inc()
            if not isinstance(exc, CircuitOpen):
                breaker.failure()
            if attempt >= policy.attempts:
                raise GaveUp(exc, attempt) from exc
            wait = policy.delay(attempt, exc.retry_after)
            log.warning(
                "provider.retry",
                provider=breaker.name,
                attempt=attempt,
                wait=round(wait, 2),
                error=str(exc)[:200],
            )
            await sleep(wait)
        else:
            breaker.success()
            return result, attempt
