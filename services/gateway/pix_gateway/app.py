from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from pix_runtime.http import create_base_app
from pix_runtime.lifecycle import serve
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pix_gateway.api import create_router
from pix_gateway.service import SessionChecker, security_headers
from pix_gateway.settings import GatewaySettings


class SecurityHeaders:
    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    settings.platform.check_production()
    client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0))
    sessions = SessionChecker(
        client, settings.platform.auth_url, cache_seconds=settings.session_cache_seconds
    )

    async def auth_ready() -> None:
        response = await client.get(f"{settings.platform.auth_url}/healthz", timeout=2.0)
        response.raise_for_status()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await client.aclose()

    app = create_base_app(title="pix.immo gateway", lifespan=lifespan, checks={"auth": auth_ready})
    app.add_middleware(SecurityHeaders, headers=security_headers(settings.tidycal_origin))
    app.include_router(create_router(settings, client, sessions))
    return app


def main() -> None:
    settings = GatewaySettings()
    serve(create_app(settings), settings, migrations_package=None)
