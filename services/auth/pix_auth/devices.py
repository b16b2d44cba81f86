"""Trusted-device tokens (OWASP "Slow Down Online Guessing Attacks with Device Cookies").

After a successful sign-in the browser gets a token that names the account it signed in to:
`<nonce>.<expiry>.<mac>`, an HMAC under a key derived from the internal key. A later sign-in to
the same account presenting it is "trusted": it has its own failure quota and is exempt from the
account's shared one, so strangers guessing the password cannot lock the owner out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

DEVICE_HEADER = "x-pix-device"
DEVICE_TTL_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True)
class Device:
    """The client a sign-in attempt comes from, as the throttle counts it."""

    client: str
    trusted: bool


class DeviceTokens:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, nonce: str, expires: int, account: str) -> str:
        message = f"{nonce}\x1f{expires}\x1f{account}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def issue(self, account: str) -> str:
        nonce = secrets.token_urlsafe(12)
        expires = int(time.time()) + DEVICE_TTL_SECONDS
        return f"{nonce}.{expires}.{self._mac(nonce, expires, account)}"

    def identify(self, token: str | None, account: str, ip: str) -> Device:
        """The trusted device behind `token` if it was issued for `account`, else the IP."""
        nonce, _, rest = (token or "").partition(".")
        expires, _, mac = rest.partition(".")
        if (
            nonce
            and expires.isdigit()
            and int(expires) > time.time()
            and hmac.compare_digest(self._mac(nonce, int(expires), account), mac)
        ):
            return Device(client=f"device:{nonce}", trusted=True)
        return Device(client=f"ip:{ip}", trusted=False)
