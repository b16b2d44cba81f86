"""The platform's own APIs, called as the user: the caller's signed identity goes along, so
every permission check of leads, listings, orders, media and captioning applies unchanged.

The assistant never reads another service's tables; it knows their HTTP APIs only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pix_runtime.errors import DomainError
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.logging import current_correlation_id

SERVICES = ("leads", "listings", "orders", "media", "captioning")
# A forwarded identity with less than this left is re-signed (see `Caller.header`).
MIN_REMAINING_SECONDS = 10


@dataclass(frozen=True)
class Caller:
    """Who is asking: the identity the gateway vouched for, and its signed header as it came.

    The header is forwarded as it came. A long answer (eight tool rounds on a slow model) can
    outlive its 60 seconds; then the same identity, already verified, is signed afresh with
    the internal key, for that answer only; nothing is added to it.
    """

    identity: Identity
    signed: str

    def header(self, internal_key: bytes) -> str:
        if self.identity.exp - time.time() > MIN_REMAINING_SECONDS:
            return self.signed
        return sign_identity(self.identity, internal_key)


class ServiceError(DomainError):
    """Another service refused or failed; its own error code and message, for the model."""

    def __init__(self, service: str, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.service = service
        self.status = status


class PlatformApis:
    def __init__(
        self,
        urls: Mapping[str, str],
        internal_key: bytes,
        *,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        timeout: float = 20.0,
    ) -> None:
        self._internal_key = internal_key
        # One client per service, so a test can hand in an in-process app's transport.
        self._clients = {
            name: httpx.AsyncClient(
                base_url=urls[name].rstrip("/"),
                timeout=timeout,
                transport=(transports or {}).get(name),
            )
            for name in SERVICES
        }

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def call(
        self,
        caller: Caller,
        service: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> Any:
        """`json`, or `content` as the raw body (a picture) with its `content_type`."""
        headers = {
            IDENTITY_HEADER: caller.header(self._internal_key),
            "x-request-id": current_correlation_id() or "",
        }
        if content_type:
            headers["content-type"] = content_type
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = await self._clients[service].request(
                method, path, params=clean, json=json, content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ServiceError(service, 503, "unavailable", f"{service} is unavailable") from exc
        if response.status_code >= 400:
            code, message = "error", response.text[:300]
            try:
                error = response.json()["error"]
                code, message = str(error.get("code", code)), str(error.get("message", message))
            except (ValueError, KeyError, TypeError):
                pass
            raise ServiceError(service, response.status_code, code, message)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()
