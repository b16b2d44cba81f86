"""What every service's HTTP side shares: error shape, request ids, identity, health, metrics.

Errors are always `{"error": {"code", "message", "field"?, "fields"?}}` with the right status
code; `fields` ({field: code}) lists every invalid field of a form at once.

Bad input is stopped here once for every service (`RequestGuard`): bodies over 1 MiB are
refused before anything reads them, NUL characters (which PostgreSQL cannot store in text) are
refused with the field that holds them, and values the database refuses (an integer past its
column's range) answer 422 instead of 500.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any
from urllib.parse import unquote_to_bytes

import asyncpg
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute, iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy.exc import DataError as SQLDataError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pix_runtime.errors import DomainError, TooLarge
from pix_runtime.identity import IDENTITY_HEADER, Identity, InvalidIdentity, verify_identity
from pix_runtime.logging import bind_correlation_id, get_logger, normal_correlation_id
from pix_runtime.outages import OUTAGE_RETRY_AFTER_SECONDS, OUTAGE_ROOTS, is_outage

log = get_logger(__name__)

REQUESTS = Counter("pix_http_requests_total", "HTTP requests", ["method", "route", "status"])
# Per route template (never the raw path) and status, so errors and slow answers can be told apart.
LATENCY = Histogram(
    "pix_http_request_duration_seconds",
    "HTTP request duration, until the response is complete",
    ["method", "route", "status"],
)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def error_body(
    code: str, message: str, field: str | None = None, fields: dict[str, str] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    if fields:
        error["fields"] = fields
    return {"error": error}


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The body exactly as sent (a signed webhook is checked byte for byte), refused with 413
    as soon as it passes `limit`, whatever Content-Length claimed."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge("too_large", f"the body exceeds {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge("too_large", f"the body exceeds {limit} bytes")
    return bytes(body)


FORWARDED_FOR_HEADER = "x-pix-forwarded-for"
FORWARDED_TTL_SECONDS = 60


def _forwarded_mac(key: bytes, address: str, expires: int) -> str:
    message = f"forwarded-for\x1f{address}\x1f{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_forwarded_for(address: str, key: bytes, *, ttl: int = FORWARDED_TTL_SECONDS) -> str:
    """The client's address as the gateway vouches for it (`X-Pix-Forwarded-For`)."""
    expires = int(time.time()) + ttl
    return f"{address}|{expires}|{_forwarded_mac(key, address, expires)}"


def client_address(request: Request) -> str:
    """The client's address: the one the gateway signed, else the peer of this connection.

    A plain `X-Forwarded-For` is never believed here: anyone who reaches a service directly
    could name any address and so escape the limits counted on it.
    """
    peer = request.client.host if request.client else ""
    header = request.headers.get(FORWARDED_FOR_HEADER, "")
    address, _, rest = header.partition("|")
    expires, _, mac = rest.partition("|")
    key: bytes | None = getattr(request.app.state, "internal_key", None)
    if not (key and address and expires.isdigit() and int(expires) >= time.time()):
        return peer
    if not hmac.compare_digest(_forwarded_mac(key, address, int(expires)), mac):
        return peer
    return address


def refused_value(exc: BaseException) -> bool:
    """Whether the database refused a value (SQLSTATE class 22, a data exception: out of
    range, NUL in text, malformed) rather than failing itself."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        sqlstate = str(getattr(current, "sqlstate", "") or "")
        if isinstance(current, SQLDataError | asyncpg.DataError) or sqlstate.startswith("22"):
            return True
        current = current.__cause__ or current.__context__
    return False


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.field), status_code=exc.status)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.field, getattr(exc, "fields", None)),
            status_code=exc.status,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
        message = str(first.get("msg", "invalid request"))
        code = "malformed_json" if first.get("type") == "json_invalid" else "invalid"
        return JSONResponse(
            error_body(code, message, ".".join(loc) or None),
            status_code=422,
        )

    async def refused_by_database(request: Request, exc: Exception) -> JSONResponse:
        # The database refused a value the request carried (out of a column's range, a text it
        # cannot store): the client's input, not our fault — and nothing was written.
        log.warning("http.value_refused_by_database", error=str(exc).splitlines()[0][:200])
        return JSONResponse(
            error_body("invalid", "a value in the request is out of range or not allowed"),
            status_code=422,
        )

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        # SQLAlchemy hands asyncpg's data errors on as a plain DBAPIError: look at the cause.
        if refused_value(exc):
            return await refused_by_database(request, exc)
        return await outage_or_unexpected(request, exc)

    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(asyncpg.DataError, refused_by_database)

    async def outage_or_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Our database, broker or storage is away (a restart, a cut connection): the same
        # request may succeed in a moment, so the client is told when to try again.
        if is_outage(exc):
            log.warning("http.infrastructure_unavailable", error=repr(exc)[:300])
            return JSONResponse(
                error_body("unavailable", "a dependency is unavailable; try again shortly"),
                status_code=503,
                headers={"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)},
            )
        log.error("http.unhandled", exc_info=exc)
        return JSONResponse(error_body("internal", "internal error"), status_code=500)

    for root in OUTAGE_ROOTS:
        app.add_exception_handler(root, outage_or_unexpected)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            401: "unauthenticated",
            403: "forbidden",
            404: "not_found",
            405: "not_allowed",
            413: "too_large",
        }
        return JSONResponse(
            error_body(codes.get(exc.status_code, "http_error"), str(exc.detail)),
            status_code=exc.status_code,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("http.unhandled", exc_info=exc)
        return JSONResponse(error_body("internal", "internal error"), status_code=500)


class RequestContextMiddleware:
    """Binds a correlation id per request (from `X-Request-ID` or new), echoes it, logs, counts.

    Pure ASGI so streamed bodies (uploads, downloads) pass through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = normal_correlation_id(headers.get(b"x-request-id", b"").decode("latin-1"))
        structlog.contextvars.clear_contextvars()
        bind_correlation_id(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            REQUESTS.labels(scope["method"], path, str(status)).inc()
            LATENCY.labels(scope["method"], path, str(status)).observe(elapsed)
            if path not in ("/healthz", "/readyz", "/metrics"):
                log.info(
                    "http.request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    ms=round(elapsed * 1000, 1),
                )


JSON_BODY_LIMIT = 1 << 20
# Signed-URL uploads stream their bytes to storage and enforce their own limits as they go.
STREAMED_BODY_PREFIXES = ("/storage/", "/api/media/storage/")


def _json_response(status: int, body: dict[str, Any]) -> tuple[Message, Message]:
    payload = json.dumps(body).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ],
    }
    return start, {"type": "http.response.body", "body": payload}


def _nul_field(value: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Dotted paths of the JSON strings (or keys) holding a NUL character."""
    if isinstance(value, str) and "\x00" in value:
        yield ".".join(path) or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                yield ".".join((*path, key.replace("\x00", "")))
            yield from _nul_field(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_field(item, (*path, str(index)))


class RequestGuard:
    """Bad input stopped before any route sees it, for every service alike.

    - a body over `limit` is refused with 413 as soon as that is known: from Content-Length
      before a byte is read, else while reading; nothing is parsed (also without a session);
    - a NUL character in the path, the query or a JSON/form body is refused with 422 naming the
      field (PostgreSQL cannot store it in text, so it would fail deep inside as a 500).

    Bodies up to the limit are read here once and handed on unchanged; signed-URL uploads
    (`STREAMED_BODY_PREFIXES`, plus what an app lists in `app.state.streamed_body_prefixes`
    for routes that read their body with their own limit, e.g. `read_limited_body`) pass
    through untouched. Pure ASGI, like RequestContextMiddleware.
    """

    def __init__(self, app: ASGIApp, limit: int = JSON_BODY_LIMIT) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self._streamed(scope)):
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"\x00" in unquote_to_bytes(scope["query_string"]):
            await self._refuse(send, 422, "invalid", "NUL characters are not allowed", "query")
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send, 413, "too_large", f"the body exceeds {self.limit} bytes")
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await self._refuse(send, 413, "too_large", f"the body exceeds {self.limit} bytes")
                return
        field = self._nul_in_body(bytes(body), headers.get(b"content-type", b""))
        if field is not None:
            await self._refuse(send, 422, "invalid", "NUL characters are not allowed", field)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _streamed(scope: Scope) -> tuple[str, ...]:
        state = getattr(scope.get("app"), "state", None)
        return STREAMED_BODY_PREFIXES + tuple(getattr(state, "streamed_body_prefixes", ()))

    @staticmethod
    def _nul_in_body(body: bytes, content_type: bytes) -> str | None:
        if b"\x00" in body and not content_type.startswith((b"multipart/", b"application/oct")):
            return "body"
        if b"\\u0000" in body:
            try:
                return next(_nul_field(json.loads(body)), None)
            except ValueError:
                return None  # not JSON after all: the route's own parsing answers
        if content_type.startswith(b"application/x-www-form-urlencoded") and b"%00" in body:
            return "body"
        return None

    @staticmethod
    async def _refuse(
        send: Send, status: int, code: str, message: str, field: str | None = None
    ) -> None:
        start, body = _json_response(status, error_body(code, message, field))
        await send(start)
        await send(body)


# `{"error": {"code", "message", "field"?, "fields"?}}`, every API error, in the OpenAPI documents.
ERROR_BODY_SCHEMA: dict[str, Any] = {
    "title": "ErrorBody",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}
ERROR_DESCRIPTIONS = {
    401: "Not signed in, or the gateway's signed identity is missing or invalid",
    403: "Signed in, but not allowed to do this",
    404: "Unknown, or belongs to another organisation",
    409: "Conflicts with the current state",
    413: "The body is too large",
    422: "Invalid input (the field is named)",
    429: "Too many attempts; see Retry-After",
    503: "A dependency is unavailable; see Retry-After",
}


def _needs_identity(route: APIRoute) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if getattr(dependency.call, "__name__", "") in ("current_identity", "request_identity"):
            return True
        pending.extend(dependency.dependencies)
    return False


def _error_statuses(route: APIRoute, method: str) -> list[int]:
    statuses = [422, 503]
    if _needs_identity(route):
        statuses += [401, 403]
    if route.dependant.path_params:
        statuses.append(404)
    if method not in ("GET", "HEAD", "OPTIONS"):
        statuses += [409, 429]
    if route.dependant.body_params:
        statuses.append(413)
    return sorted(statuses)


def document_errors(app: FastAPI) -> None:
    """Declare in the OpenAPI document the error answers each route can give, in our shape:
    401/403 where a signed identity is required, 404 where an id is in the path, 409 and 429
    for changes, 413 for bodies, 422 and 503 everywhere."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        error_ref = {"$ref": "#/components/schemas/ErrorBody"}
        for context in iter_route_contexts(app.routes):
            route = context.route
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            for method in route.methods or ():
                operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                if "HTTPValidationError" in json.dumps(responses.get("422", {})):
                    del responses["422"]
                for status in _error_statuses(route, method):
                    responses.setdefault(
                        str(status),
                        {
                            "description": ERROR_DESCRIPTIONS[status],
                            "content": {"application/json": {"schema": error_ref}},
                        },
                    )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorBody"] = ERROR_BODY_SCHEMA
        if "HTTPValidationError" not in json.dumps(schema.get("paths", {})):
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def identity_dependency(internal_key: bytes) -> Callable[[Request], Awaitable[Identity]]:
    """FastAPI dependency: the caller's identity as signed by the gateway, or 401."""

    async def current_identity(request: Request) -> Identity:
        header = request.headers.get(IDENTITY_HEADER)
        if not header:
            raise ApiError(401, "unauthenticated", "authentication required")
        try:
            identity = verify_identity(header, internal_key)
        except InvalidIdentity as exc:
            raise ApiError(401, "unauthenticated", str(exc)) from exc
        structlog.contextvars.bind_contextvars(user_id=str(identity.user_id))
        return identity

    return current_identity


async def request_identity(request: Request) -> Identity:
    """The caller as signed by the gateway, checked with the key on `app.state.internal_key`
    (set by `ServiceRuntime.create_app`), so module-level routers need no factory."""
    check = identity_dependency(request.app.state.internal_key)
    return await check(request)


# The signed caller of a request: `identity: CurrentIdentity` in a route's parameters.
CurrentIdentity = Annotated[Identity, Depends(request_identity)]


def add_health_routes(
    app: FastAPI, checks: dict[str, Callable[[], Awaitable[None]]], *, metrics: bool = True
) -> None:
    """`/healthz` (the process answers), `/readyz` (its dependencies answer), `/metrics`
    (unless the app faces the public: the gateway serves it on an internal port)."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"failed: {exc.__class__.__name__}"
        ready = all(value == "ok" for value in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": results},
            status_code=200 if ready else 503,
        )

    if metrics:

        @app.get("/metrics", include_in_schema=False)
        async def prometheus(request: Request) -> PlainTextResponse:
            # The figures read from the database and the broker (`pix_runtime.metrics`).
            scraped = getattr(request.app.state, "metrics", None)
            if scraped is not None:
                await scraped.refresh()
            return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_base_app(
    *,
    title: str,
    lifespan: Any,
    checks: dict[str, Callable[[], Awaitable[None]]],
    metrics: bool = True,
) -> FastAPI:
    """A FastAPI app with our middleware, error shape and health routes."""
    # No slash redirects: an API answers the path it was asked, or a JSON 404.
    app = FastAPI(title=title, lifespan=lifespan, redirect_slashes=False)
    # Inside the request context, so a refusal carries the request id and is logged.
    app.add_middleware(RequestGuard)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    document_errors(app)
    add_health_routes(app, checks, metrics=metrics)
    return app
