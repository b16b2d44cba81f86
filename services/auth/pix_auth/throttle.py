"""Rate limits on the doors attackers knock on: login, registration, password reset.

Logins follow OWASP's guidance against guessing without handing attackers a lockout of the
owner (Authentication Cheat Sheet, "Login Throttling"; "Slow Down Online Guessing Attacks with
Device Cookies"):

- attempts count per account *and client* (a success takes them back) — the client being the
  browser's trusted-device token when it has one for this account, else its IP address. Once a
  client used up its quota (`login-account`, 5 a minute), that client alone waits, and each
  further lockout of the same client doubles (1, 2, 4 … minutes, at most an hour): a progressive
  delay. Someone guessing from another address or device does not lock the owner out.
  Attempts are counted before the password is checked, so parallel guesses cannot slip past.
- every client without a trusted-device token for the account shares a second, larger quota
  of attempts (`login-account-untrusted`, 50 an hour), which bounds guessing from many
  addresses; the owner's own browser, trusted after a successful sign-in, is exempt from it.
- attempts per IP over all accounts (`login-ip`) bound password spraying.

State is in memory, per auth process. Auth runs as one process; with several replicas, each
allows its own quota, which still bounds guessing to a small multiple.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pix_runtime.errors import DomainError

DEFAULT_RULES = {
    "login-ip": "20/minute",
    "login-account": "5/minute",
    "login-account-untrusted": "50/hour",
    "register-ip": "10/hour",
    "reset-ip": "10/hour",
    "reset-account": "3/hour",
}
# A client's lockouts stop doubling here, and are forgotten after this long without a failure.
MAX_LOCKOUT_SECONDS = 3600.0
# Bounded memory: the least recently failing clients are forgotten first.
MAX_TRACKED_CLIENTS = 100_000


class RateLimited(DomainError):
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("rate_limited", f"too many attempts, try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass
class _Strikes:
    failures: deque[float] = field(default_factory=deque)
    lockouts: int = 0
    blocked_until: float = 0.0


class ProgressiveDelay:
    """`limit` failures per `period` for one key; each lockout after it doubles."""

    def __init__(self, item: RateLimitItem) -> None:
        self._limit = item.amount
        self._period = float(item.get_expiry())
        self._keys: OrderedDict[str, _Strikes] = OrderedDict()

    def check(self, key: str, now: float) -> None:
        """Raise RateLimited while the key is in a delay."""
        strikes = self._keys.get(key)
        if strikes is not None and now < strikes.blocked_until:
            raise RateLimited(max(1, math.ceil(strikes.blocked_until - now)))

    def fail(self, key: str, now: float) -> None:
        """Count one failure (or attempt); the `limit`-th within `period` starts a delay."""
        strikes = self._keys.pop(key, None) or _Strikes()
        self._keys[key] = strikes
        if strikes.lockouts and now - strikes.blocked_until > MAX_LOCKOUT_SECONDS:
            strikes.lockouts = 0
        while strikes.failures and now - strikes.failures[0] >= self._period:
            strikes.failures.popleft()
        strikes.failures.append(now)
        if len(strikes.failures) >= self._limit:
            strikes.failures.clear()
            seconds = min(self._period * 2**strikes.lockouts, MAX_LOCKOUT_SECONDS)
            strikes.lockouts += 1
            strikes.blocked_until = now + seconds
        while len(self._keys) > MAX_TRACKED_CLIENTS:
            self._keys.popitem(last=False)

    def clear(self, key: str) -> None:
        self._keys.pop(key, None)


class Throttle:
    def __init__(
        self, rules: dict[str, str] | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock  # seconds; the service's clock, so tests can move it
        self._storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)
        merged = {**DEFAULT_RULES, **(rules or {})}
        self._rules: dict[str, RateLimitItem] = {name: parse(rule) for name, rule in merged.items()}
        self._login_failures = ProgressiveDelay(self._rules["login-account"])

    def hit(self, rule: str, key: str) -> None:
        """Count one attempt; raise RateLimited once the rule's quota is used up."""
        item = self._rules[rule]
        if not self._limiter.hit(item, rule, key or "-"):
            raise RateLimited(self._retry_after(rule, key))

    def check(self, rule: str, key: str) -> None:
        """Raise RateLimited if the rule's quota is used up, without counting an attempt."""
        if not self._limiter.test(self._rules[rule], rule, key or "-"):
            raise RateLimited(self._retry_after(rule, key))

    def _retry_after(self, rule: str, key: str) -> int:
        reset_at, _ = self._limiter.get_window_stats(self._rules[rule], rule, key or "-")
        return max(1, int(reset_at - time.time()))

    def clear(self, rule: str, key: str) -> None:
        """Forget attempts after a success, so a user who mistyped is not held back."""
        self._limiter.clear(self._rules[rule], rule, key or "-")

    # --- sign-in attempts per account and client --------------------------------------------

    def begin_login(self, account: str, client: str, *, trusted: bool) -> None:
        """Count a sign-in attempt before the password is checked, so concurrent guesses cannot
        all slip past the count; `login_succeeded` takes it back. Refused if this client is in a
        delay for the account or, for clients the account has not trusted, once the account's
        shared quota is used up."""
        key = f"{account}\x1f{client}"
        now = self._clock()
        self._login_failures.check(key, now)
        self._login_failures.fail(key, now)
        if not trusted:
            self.hit("login-account-untrusted", account)

    def login_succeeded(self, account: str, client: str) -> None:
        self._login_failures.clear(f"{account}\x1f{client}")
