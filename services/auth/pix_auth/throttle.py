"""Rate limits on the doors attackers knock on: login, registration, password reset.

State is in memory, per auth process (the `limits` library's moving window). Auth runs as one
process; with several replicas, each allows its own quota, which still bounds guessing to a
small multiple. Moving the state to PostgreSQL or Redis is a storage swap in `limits`.
"""

from __future__ import annotations

import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pix_runtime.errors import DomainError

DEFAULT_RULES = {
    "login-ip": "20/minute",
    "login-account": "5/minute",
    "register-ip": "10/hour",
    "reset-ip": "10/hour",
    "reset-account": "3/hour",
}


class RateLimited(DomainError):
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("rate_limited", f"too many attempts, try again in {retry_after} s")
        self.retry_after = retry_after


class Throttle:
    def __init__(self, rules: dict[str, str] | None = None) -> None:
        self._storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._rules: dict[str, RateLimitItem] = {
            name: parse(rule) for name, rule in (rules or DEFAULT_RULES).items()
        }

    def hit(self, rule: str, key: str) -> None:
        """Count one attempt; raise RateLimited once the rule's quota is used up."""
        item = self._rules[rule]
        if not self._limiter.hit(item, rule, key or "-"):
            reset_at, _ = self._limiter.get_window_stats(item, rule, key or "-")
            raise RateLimited(max(1, int(reset_at - time.time())))

    def clear(self, rule: str, key: str) -> None:
        """Forget failed attempts after a success, so a user who mistyped is not locked out."""
        self._limiter.clear(self._rules[rule], rule, key or "-")
