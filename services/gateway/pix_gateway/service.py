"""The gateway's decisions: who is calling (session check), and may this request change state.

No HTTP framework types here: the api module adapts requests to these functions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from urllib.parse import urlparse

import httpx
from pix_runtime.http import FORWARDED_FOR_HEADER, sign_forwarded_for
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.logging import current_correlation_id, get_logger

log = get_logger(__name__)

# Requests that may be sent twice with the effect of once (RFC 9110 9.2.2): a call that failed
# on the way (a dropped connection, a service restarting, a read that timed out) is tried once
# more before the user sees an error page.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

# Paths under /api that need no session: the signature or the form is the credential.
PUBLIC_API_PATHS = frozenset(
    {
        "auth/register",
        "auth/verify-email",
        "auth/password/forgot",
        "auth/password/reset",
        "notify/webhooks/mailgun",
    }
)
# Unauthenticated on purpose: signed storage URLs, the leads service's website form and inbound
# mail webhook (each checks its own signature, rate limit or honeypot), public exposé links,
# and Stripe's webhook (verified with Stripe's signature).
PUBLIC_API_PREFIXES = (
    "media/storage/",
    "leads/public/",
    "listings/public/",
    "billing/public/",
)
# Public and meant to be called from other sites (an agency's website form, Mailgun): no session
# is looked up or forwarded for them, so a cross-site request carries no ambient credential
# and needs no CSRF check.
CROSS_SITE_API_PREFIXES = ("leads/public/",)
# Never proxied, for anyone: operational endpoints and auth's gateway-only session routes.
INTERNAL_PATHS = frozenset({"healthz", "readyz", "metrics"})
INTERNAL_AUTH_PATHS = frozenset({"sessions/validate", "sessions/revoke"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuthUnavailable(Exception):
    pass


class SessionChecker:
    """Asks auth whether a session token is valid, remembering answers for a few seconds.

    Concurrent requests with the same token share one question to auth (the first asks, the
    others wait for its answer): without that, 50 requests of one client in flight when the
    cached answer expires would send 50 validations at once, each a database read in auth.
    """

    def __init__(self, client: httpx.AsyncClient, auth_url: str, *, cache_seconds: float) -> None:
        self._client = client
        self._auth_url = auth_url.rstrip("/")
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Identity | None]] = {}
        self._asking: dict[str, asyncio.Future[Identity | None]] = {}

    async def identity(self, token: str) -> Identity | None:
        cached = self._cache.get(token)
        if cached and time.monotonic() - cached[0] < self._cache_seconds:
            return cached[1]
        asking = self._asking.get(token)
        if asking is not None:
            # Shielded: one waiter's cancellation (its client went away) must not cancel the
            # question the others wait for.
            return await asyncio.shield(asking)
        question = asyncio.ensure_future(self._ask(token))
        self._asking[token] = question
        question.add_done_callback(lambda _: self._asking.pop(token, None))
        return await asyncio.shield(question)

    async def _ask(self, token: str) -> Identity | None:
        asked = time.monotonic()
        try:
            response = await self._client.post(
                f"{self._auth_url}/sessions/validate",
                json={"token": token},
                headers={"x-request-id": current_correlation_id() or ""},
                timeout=5.0,
            )
        except httpx.HTTPError as exc:
            raise AuthUnavailable(str(exc)) from exc
        if response.status_code >= 500:
            raise AuthUnavailable(f"auth answered {response.status_code}")
        identity = Identity.model_validate_json(response.content) if response.is_success else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        # Dated when asked, not answered: a revocation during the question still takes effect
        # within `cache_seconds`.
        self._cache[token] = (asked, identity)
        return identity

    def forget(self, token: str) -> None:
        self._cache.pop(token, None)


def is_cross_site(api_path: str) -> bool:
    return api_path.startswith(CROSS_SITE_API_PREFIXES)


def is_public(api_path: str) -> bool:
    return api_path in PUBLIC_API_PATHS or api_path.startswith(PUBLIC_API_PREFIXES)


def routable(service: str, path: str) -> bool:
    """Only plain paths reach a service: no `.`/`..`/empty segments (which an upstream would
    resolve past our public-path check) and nothing operational or gateway-only."""
    segments = path.split("/")
    if any(s in ("", ".", "..") or "%" in s or "\\" in s for s in segments):
        return False
    if path in INTERNAL_PATHS:
        return False
    return not (service == "auth" and path in INTERNAL_AUTH_PATHS)


def csrf_allowed(method: str, headers: Mapping[str, str], public_url: str) -> bool:
    """State changes only from our own pages: Sec-Fetch-Site same-origin, or a matching Origin.

    Requests authenticated by a bearer token carry no ambient credentials and are exempt.
    """
    if method in SAFE_METHODS or headers.get("authorization", "").startswith("Bearer "):
        return True
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        # Non-browser clients send neither header; without a cookie they are not logged in.
        return True
    ours = urlparse(public_url)
    theirs = urlparse(origin)
    return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc)


def security_headers(
    tidycal_origin: str, storage_origins: Sequence[str] = ()
) -> list[tuple[bytes, bytes]]:
    """Headers for every response. Browsers upload to and show images from object storage
    directly when it is S3/R2, so those origins are allowed for fetches and images only."""
    storage = "".join(f" {origin}" for origin in storage_origins)
    csp = (
        f"default-src 'self'; img-src 'self' data: blob:{storage}; style-src 'self'; "
        f"script-src 'self'; frame-src {tidycal_origin}; connect-src 'self'{storage}; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    return [
        (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]


class Backend:
    """Calls the internal services for the web UI, on behalf of the signed-in user."""

    def __init__(self, client: httpx.AsyncClient, urls: Mapping[str, str], internal_key: bytes):
        self._client = client
        self._urls = urls
        self._internal_key = internal_key

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        identity: Identity | None = None,
        json: object = None,
        client_ip: str = "",
        user_agent: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        headers = {**(headers or {}), "x-request-id": current_correlation_id() or ""}
        if identity is not None:
            headers[IDENTITY_HEADER] = sign_identity(identity, self._internal_key)
        if client_ip:
            # Signed: services believe a client address only from us.
            headers[FORWARDED_FOR_HEADER] = sign_forwarded_for(client_ip, self._internal_key)
        if user_agent:
            headers["user-agent"] = user_agent
        url = f"{self._urls[service]}{path}"
        try:
            return await self._client.request(method, url, json=json, headers=headers)
        except httpx.TransportError as exc:
            if method not in IDEMPOTENT_METHODS:
                raise
            log.warning(
                "upstream.retry", service=service, method=method, path=path, error=describe(exc)
            )
            return await self._client.request(method, url, json=json, headers=headers)


def describe(exc: BaseException) -> str:
    """The cause of a failed call for the log: httpx's message is often empty on its own."""
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
