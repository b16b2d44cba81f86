"""What every service's HTTP side shares: error shape, request ids, identity, health, metrics.

Errors are always `{"error": {"code", "message", "field"?, "fields"?}}` with the right status
code; `fields` ({field: code}) lists every invalid field of a form at once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pix_runtime.errors import DomainError, TooLarge
from pix_runtime.identity import IDENTITY_HEADER, Identity, InvalidIdentity, verify_identity
from pix_runtime.logging import bind_correlation_id, get_logger, new_correlation_id

log = get_logger(__name__)

REQUESTS = Counter("pix_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("pix_http_request_seconds", "HTTP request latency", ["method", "route"])


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

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "not_allowed"}
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
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 64 else new_correlation_id()
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
            LATENCY.labels(scope["method"], path).observe(elapsed)
            if path not in ("/healthz", "/readyz", "/metrics"):
                log.info(
                    "http.request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    ms=round(elapsed * 1000, 1),
                )


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


def add_health_routes(app: FastAPI, checks: dict[str, Callable[[], Awaitable[None]]]) -> None:
    """`/healthz` (the process answers), `/readyz` (its dependencies answer), `/metrics`."""

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

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_base_app(
    *,
    title: str,
    lifespan: Any,
    checks: dict[str, Callable[[], Awaitable[None]]],
) -> FastAPI:
    """A FastAPI app with our middleware, error shape and health routes."""
    # No slash redirects: an API answers the path it was asked, or a JSON 404.
    app = FastAPI(title=title, lifespan=lifespan, redirect_slashes=False)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    add_health_routes(app, checks)
    return app
