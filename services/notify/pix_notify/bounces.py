"""Mailgun's event webhook: hard bounces and complaints suppress further mail to an address.

Mailgun signs each request inside its JSON body: `signature: {timestamp, token, signature}`,
where `signature` is hex HMAC-SHA256 over `timestamp + token` (no separator) keyed with the
account's webhook signing key. That signature is the only credential of this endpoint. A
request is refused when the signature is wrong, when its timestamp is outside the tolerance
(a captured request replayed later), or when its token was already used (replayed within the
tolerance); tokens are kept only as long as the tolerance, after which the timestamp check
refuses the request anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta
from typing import Any

from pix_runtime.db import Database
from pix_runtime.errors import DomainError, Invalid
from pix_runtime.logging import get_logger
from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert

from pix_notify.delivery import Courier
from pix_notify.models import webhook_tokens

log = get_logger(__name__)


class WebhookNotConfigured(DomainError):
    status = 503

    def __init__(self) -> None:
        super().__init__(
            "webhook_not_configured",
            "MAILGUN_WEBHOOK_SIGNING_KEY is not set, so webhooks cannot be verified",
        )


class InvalidSignature(DomainError):
    status = 401

    def __init__(self, message: str = "the webhook signature does not verify") -> None:
        super().__init__("invalid_signature", message, "signature")


class StaleSignature(DomainError):
    status = 401

    def __init__(self, tolerance: float) -> None:
        super().__init__(
            "stale_signature",
            f"the webhook timestamp is more than {int(tolerance)} s away from now",
            "signature.timestamp",
        )


class ReplayedSignature(DomainError):
    status = 409

    def __init__(self) -> None:
        super().__init__(
            "replayed_signature", "this webhook token was already used", "signature.token"
        )


def mailgun_signature(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def verify_signature(
    key: str,
    *,
    timestamp: str,
    token: str,
    signature: str,
    tolerance: float,
    now: float | None = None,
) -> None:
    """Raise unless Mailgun signed (timestamp, token) with `key` within `tolerance` of now."""
    # Constant-time compare first, so nothing about the timing tells a forger more. As bytes:
    # compare_digest refuses non-ASCII text with a TypeError (a forged signature, not a crash).
    expected = mailgun_signature(key, timestamp, token).encode()
    if not hmac.compare_digest(expected, signature.lower().encode()):
        raise InvalidSignature()
    try:
        stamp = float(timestamp)
    except ValueError:
        raise InvalidSignature("the webhook timestamp is not a number") from None
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        raise StaleSignature(tolerance)


class MailgunWebhooks:
    def __init__(
        self, db: Database, courier: Courier, *, signing_key: str | None, tolerance: float
    ) -> None:
        self._db = db
        self._courier = courier
        self._key = signing_key
        self._tolerance = tolerance

    async def receive(
        self, *, timestamp: str, token: str, signature: str, event: dict[str, Any]
    ) -> str:
        """Verify, then act on one event; returns what was done (for the response)."""
        if not self._key:
            raise WebhookNotConfigured()
        verify_signature(
            self._key,
            timestamp=timestamp,
            token=token,
            signature=signature,
            tolerance=self._tolerance,
        )
        async with self._db.transaction() as session:
            fresh = await session.scalar(
                insert(webhook_tokens)
                .values(token=token)
                .on_conflict_do_nothing()
                .returning(webhook_tokens.c.token)
            )
        if fresh is None:
            raise ReplayedSignature()
        return await self._act(event)

    async def _act(self, event: dict[str, Any]) -> str:
        kind = event.get("event")
        severity = event.get("severity")
        if kind == "failed" and severity == "permanent":
            reason = "hard_bounce"
        elif kind == "complained":
            reason = "complaint"
        else:
            # Temporary failures are retried by Mailgun itself; other events are not ours.
            log.info("mailgun.event_ignored", mailgun_event=str(kind), severity=str(severity))
            return "ignored"
        recipient = event.get("recipient")
        if not isinstance(recipient, str) or "@" not in recipient or len(recipient) > 320:
            raise Invalid(
                "invalid_recipient",
                "event-data.recipient must be an email address",
                "event-data.recipient",
            )
        detail = _detail(event)
        await self._courier.suppress(recipient, reason=reason, detail=detail, source="mailgun")
        variables = event.get("user-variables")
        key = variables.get("idempotency_key") if isinstance(variables, dict) else None
        if isinstance(key, str):
            await self._courier.mark_bounced(key, detail)
        return "suppressed"

    async def purge_tokens(self) -> None:
        """Forget tokens older than the tolerance: their timestamps are refused anyway."""
        cutoff = func.now() - timedelta(seconds=2 * self._tolerance)
        async with self._db.transaction() as session:
            await session.execute(
                delete(webhook_tokens).where(webhook_tokens.c.received_at < cutoff)
            )


def _detail(event: dict[str, Any]) -> str | None:
    status = event.get("delivery-status")
    if isinstance(status, dict):
        text = status.get("description") or status.get("message")
        code = status.get("code")
        if text or code:
            return f"{code or ''} {text or ''}".strip()
    reason = event.get("reason")
    return str(reason) if reason else None
