"""Gateway routes: login/logout (cookie handling), the authenticated reverse proxy, home page."""

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

import aiohttp
import httpx
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pix_runtime.http import (
    FORWARDED_FOR_HEADER,
    error_body,
    read_limited_body,
    sign_forwarded_for,
)
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.logging import current_correlation_id, get_logger
from starlette.background import BackgroundTask
from yarl import URL

from pix_gateway.clients.auth_models import SessionView
from pix_gateway.pages import DEVICE_COOKIE, DEVICE_HEADER, client_ip, set_device_cookie
from pix_gateway.service import (
    IDEMPOTENT_METHODS,
    AuthUnavailable,
    SessionChecker,
    csrf_allowed,
    describe,
    is_cross_site,
    is_public,
    routable,
)
from pix_gateway.settings import GatewaySettings

log = get_logger(__name__)

# Hop-by-hop headers (RFC 9110 7.6.1) and what the gateway alone decides.
DROP_REQUEST = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "cookie",
        "authorization",
        "proxy-authorization",
        "x-pix-identity",
        # The client's address is ours to state (auth rate-limits on it), never the client's.
        "x-forwarded-for",
        "forwarded",
        "x-real-ip",
        FORWARDED_FOR_HEADER,
        DEVICE_HEADER,
    }
)
# Methods whose requests carry no content here: a body sent anyway is refused, not half-sent.
NO_BODY_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
# What of an upstream error the client needs: when to come back.
PASSED_ERROR_HEADERS = ("retry-after",)
DROP_RESPONSE = frozenset({"connection", "keep-alive", "transfer-encoding", "content-encoding"})
# The cookie may outlive a session; auth decides (sliding expiry with an absolute cap).
SESSION_COOKIE_SECONDS = 30 * 24 * 3600
# Replicate's webhook: what is signed (Standard Webhooks) and goes through to captioning.
REPLICATE_WEBHOOK_HEADERS = ("content-type", "webhook-id", "webhook-timestamp", "webhook-signature")
WEBHOOK_BODY_LIMIT = 1 << 20  # a completed prediction is a few KB
# Answers up to this size are read whole and passed on; larger ones (downloads) are streamed.
SMALL_ANSWER_BYTES = 256 * 1024


# What a failed upstream call raises. aiohttp itself sends an idempotent request once more when
# the service hangs up on it (RFC 9112 9.3.1); a refused connection (a service restarting) or a
# timeout it leaves to us, and those are what the proxy retries.
UPSTREAM_ERRORS = (aiohttp.ClientError, TimeoutError)
RETRIABLE_ERRORS = (aiohttp.ClientConnectorError, TimeoutError)


# Idle connections to the services are dropped by us before the services drop them
# (pix_runtime.lifecycle.KEEP_ALIVE_SECONDS), never the other way round.
UPSTREAM_KEEP_ALIVE_SECONDS = 30.0


class UpstreamPool:
    """The proxy's kept-alive connections to the services.

    aiohttp rather than httpx on this path: forwarding one small answer costs about a quarter
    of httpx's CPU in the gateway (0.2–0.3 ms against 1.2–1.4 ms a call, measured side by side),
    and the proxy is the gateway's hot path. The session is opened in the running event loop
    on first use.
    """

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def send(
        self,
        method: str,
        url: URL,
        headers: Mapping[str, str],
        body: AsyncIterator[bytes] | None,
    ) -> aiohttp.ClientResponse:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                # As many connections kept as requests may be in flight (see app.py).
                connector=aiohttp.TCPConnector(
                    limit=500, limit_per_host=0, keepalive_timeout=UPSTREAM_KEEP_ALIVE_SECONDS
                ),
                # Connect fast or fail; a download may take long, as long as bytes flow.
                timeout=aiohttp.ClientTimeout(total=None, connect=5, sock_read=30),
                # Bytes pass through as the service sent them; only the client's headers go.
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            )
        return await self._session.request(
            method, url, headers=headers, data=body, allow_redirects=False
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


# The public API prefix of a service, where it is not the service's own name.
API_PREFIXES = {"export": "exports"}


@dataclass(frozen=True)
class Proxy:
    """What the API routes share: the services behind the gateway and how to reach them."""

    settings: GatewaySettings
    client: httpx.AsyncClient
    sessions: SessionChecker
    upstreams: Mapping[str, str]
    """Public API prefix (`/api/<prefix>/...`) -> the service's base URL."""
    upstreams_pool: UpstreamPool

    @classmethod
    def of(
        cls,
        settings: GatewaySettings,
        client: httpx.AsyncClient,
        sessions: SessionChecker,
        service_urls: Mapping[str, str],
    ) -> "Proxy":
        upstreams = {API_PREFIXES.get(name, name): url for name, url in service_urls.items()}
        return cls(settings, client, sessions, upstreams, UpstreamPool())

    @cached_property
    def internal_key(self) -> bytes:
        return self.settings.platform.internal_key.get_secret_value().encode()

    def session_token(self, request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            return auth.removeprefix("Bearer ").strip()
        return request.cookies.get(self.settings.cookie_name)

    async def caller(self, request: Request) -> Identity | None:
        token = self.session_token(request)
        return await self.sessions.identity(token) if token else None


async def current_proxy(request: Request) -> Proxy:
    proxy: Proxy = request.app.state.proxy
    return proxy


ApiProxy = Annotated[Proxy, Depends(current_proxy)]
router = APIRouter()


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status)


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length", "")
    return (length.isdigit() and int(length) > 0) or "transfer-encoding" in request.headers


@router.post("/api/auth/login")
async def login(proxy: ApiProxy, request: Request) -> Response:
    platform = proxy.settings.platform
    if not csrf_allowed(request.method, request.headers, platform.public_url):
        return _error(403, "csrf", "cross-site request refused")
    headers = {
        "content-type": "application/json",
        # Rate limits count per client, so auth must see the client, not us.
        FORWARDED_FOR_HEADER: sign_forwarded_for(client_ip(request), proxy.internal_key),
        "user-agent": request.headers.get("user-agent", ""),
        "x-request-id": current_correlation_id() or "",
    }
    if device := request.cookies.get(DEVICE_COOKIE):
        headers[DEVICE_HEADER] = device
    try:
        upstream = await proxy.client.post(
            f"{platform.auth_url}/login", content=await request.body(), headers=headers
        )
    except httpx.HTTPError:
        return _error(503, "unavailable", "sign-in is unavailable, please retry")
    if not upstream.is_success:
        return Response(
            upstream.content,
            upstream.status_code,
            media_type="application/json",
            headers={k: upstream.headers[k] for k in PASSED_ERROR_HEADERS if k in upstream.headers},
        )
    session = SessionView.model_validate_json(upstream.content)
    response = JSONResponse(session.model_dump(mode="json", include={"identity", "expires_at"}))
    response.set_cookie(
        proxy.settings.cookie_name,
        session.token,
        httponly=True,
        secure=True,
        samesite="lax",
        path="/",
        max_age=SESSION_COOKIE_SECONDS,
    )
    set_device_cookie(response, session.device_token)
    response.headers["cache-control"] = "no-store"
    return response


@router.post("/api/auth/logout")
async def logout(proxy: ApiProxy, request: Request) -> Response:
    platform = proxy.settings.platform
    if not csrf_allowed(request.method, request.headers, platform.public_url):
        return _error(403, "csrf", "cross-site request refused")
    token = proxy.session_token(request)
    if token:
        proxy.sessions.forget(token)
        try:
            await proxy.client.post(f"{platform.auth_url}/sessions/revoke", json={"token": token})
        except httpx.HTTPError:
            return _error(503, "unavailable", "sign-out is unavailable, please retry")
    response = Response(status_code=204)
    response.delete_cookie(proxy.settings.cookie_name, path="/", secure=True, httponly=True)
    return response


# Replicate calls it without a session: the signature is the credential, checked by
# captioning, so the body goes through byte for byte — and only up to a limit.
@router.post("/api/captioning/webhooks/replicate")
async def replicate_webhook(proxy: ApiProxy, request: Request) -> Response:
    platform = proxy.settings.platform
    body = await read_limited_body(request, WEBHOOK_BODY_LIMIT)
    headers = {k: request.headers[k] for k in REPLICATE_WEBHOOK_HEADERS if k in request.headers}
    headers["x-request-id"] = current_correlation_id() or ""
    headers[FORWARDED_FOR_HEADER] = sign_forwarded_for(client_ip(request), proxy.internal_key)
    try:
        upstream = await proxy.client.post(
            f"{platform.captioning_url}/webhooks/replicate",
            content=body,
            headers=headers,
        )
    except httpx.HTTPError:
        return _error(503, "unavailable", "the captioning service is unavailable")
    return Response(upstream.content, upstream.status_code, media_type="application/json")


@router.api_route("/api/{service}/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def forward(proxy: ApiProxy, service: str, path: str, request: Request) -> Response:
    platform = proxy.settings.platform
    base = proxy.upstreams.get(service)
    if base is None or not routable(service, path):
        return _error(404, "not_found", "no such API")
    cross_site = is_cross_site(f"{service}/{path}")
    if not cross_site and not csrf_allowed(request.method, request.headers, platform.public_url):
        return _error(403, "csrf", "cross-site request refused")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in DROP_REQUEST}
    try:
        identity = None if cross_site else await proxy.caller(request)
    except AuthUnavailable:
        return _error(503, "unavailable", "authentication is unavailable, please retry")
    headers["x-request-id"] = current_correlation_id() or ""
    headers[FORWARDED_FOR_HEADER] = sign_forwarded_for(client_ip(request), proxy.internal_key)
    if identity is not None:
        headers[IDENTITY_HEADER] = sign_identity(identity, proxy.internal_key)
    elif not is_public(f"{service}/{path}"):
        return _error(401, "unauthenticated", "please sign in")
    has_body = _has_body(request)
    if has_body and request.method in NO_BODY_METHODS:
        return _error(400, "body_not_allowed", f"a {request.method} request takes no body")
    if not has_body:
        # Forwarding a Content-Length without its body would leave the upstream waiting.
        headers.pop("content-length", None)
    query = request.url.query
    url = URL(f"{base}/{path}" + (f"?{query}" if query else ""))
    try:
        upstream = await proxy.upstreams_pool.send(
            request.method,
            url,
            headers,
            # Streamed through: an upload is never held whole in the gateway's memory.
            body=request.stream() if has_body else None,
        )
    except UPSTREAM_ERRORS as exc:
        # Without a body the request can be sent again as it was (a streamed body is spent).
        log.warning("upstream.failed", service=service, path=path, error=describe(exc))
        retriable = isinstance(exc, RETRIABLE_ERRORS) and request.method in IDEMPOTENT_METHODS
        if has_body or not retriable:
            return _error(503, "unavailable", f"the {service} service is unavailable")
        try:
            upstream = await proxy.upstreams_pool.send(request.method, url, headers, body=None)
        except UPSTREAM_ERRORS as again:
            log.warning("upstream.failed", service=service, path=path, error=describe(again))
            return _error(503, "unavailable", f"the {service} service is unavailable")
    answer_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in DROP_RESPONSE}
    if identity is not None and "cache-control" not in upstream.headers:
        # A signed-in answer is the user's own data: no shared or browser cache keeps it.
        answer_headers["cache-control"] = "no-store"
    length = upstream.content_length
    if length is not None and length <= SMALL_ANSWER_BYTES:
        # Most API answers: passed on whole, without the streaming response's task group and
        # background close per request (about a tenth of the gateway's samples under load).
        try:
            content = await upstream.read()
        except UPSTREAM_ERRORS:
            return _error(503, "unavailable", f"the {service} service is unavailable")
        finally:
            upstream.release()
        return Response(content, status_code=upstream.status, headers=answer_headers)
    return StreamingResponse(
        upstream.content.iter_any(),
        status_code=upstream.status,
        headers=answer_headers,
        background=BackgroundTask(upstream.release),
    )
