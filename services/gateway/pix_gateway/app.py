import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pix_runtime.http import create_base_app
from pix_runtime.lifecycle import serve
from pix_runtime.storage import browser_origins
from prometheus_client import start_http_server
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pix_gateway import (
    account_pages,
    admin_pages,
    analytics_pages,
    api,
    assistant_pages,
    gallery_pages,
    integrations_pages,
    leads_pages,
    listings_pages,
    orders_pages,
    staging_pages,
)
from pix_gateway.api import UPSTREAM_KEEP_ALIVE_SECONDS, Proxy
from pix_gateway.billing_pages import router as billing_pages
from pix_gateway.calendar_pages import router as calendar_pages
from pix_gateway.client_gallery_pages import router as client_gallery_pages
from pix_gateway.deliverables_pages import router as deliverables_router
from pix_gateway.legal_pages import router as legal_router
from pix_gateway.mailbox_pages import router as mailbox_pages
from pix_gateway.pages import UI, install_page_errors
from pix_gateway.pages import router as site_pages
from pix_gateway.photographer_pages import router as photographer_pages
from pix_gateway.privacy_pages import router as privacy_pages
from pix_gateway.service import Backend, SessionChecker, security_headers
from pix_gateway.settings import GatewaySettings
from pix_gateway.viewings_pages import router as viewings_pages

HERE = Path(__file__).parent


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
    platform = settings.platform
    platform.check_production()
    # Keep as many connections to the services open as requests may be in flight: with httpx's
    # default of 20 kept alive, 50 concurrent requests opened and closed a connection each time.
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=5.0),
        limits=httpx.Limits(
            max_connections=500,
            max_keepalive_connections=200,
            keepalive_expiry=UPSTREAM_KEEP_ALIVE_SECONDS,
        ),
    )
    sessions = SessionChecker(
        client, platform.auth_url, cache_seconds=settings.session_cache_seconds
    )
    service_urls = {
        "auth": platform.auth_url,
        "orders": platform.orders_url,
        "media": platform.media_url,
        "captioning": platform.captioning_url,
        "export": platform.export_url,
        "notify": platform.notify_url,
        "leads": platform.leads_url,
        "listings": platform.listings_url,
        "billing": platform.billing_url,
        "assistant": platform.assistant_url,
    }
    backend = Backend(client, service_urls, platform.internal_key.get_secret_value().encode())

    async def auth_ready() -> None:
        response = await client.get(f"{platform.auth_url}/healthz", timeout=2.0)
        response.raise_for_status()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.proxy.upstreams_pool.close()
        await client.aclose()

    # The gateway faces the public: its metrics are served on an internal port (main()).
    app = create_base_app(
        title="pix.immo gateway", lifespan=lifespan, checks={"auth": auth_ready}, metrics=False
    )
    app.add_middleware(
        SecurityHeaders,
        headers=security_headers(
            settings.tidycal_origin,
            settings.storage_origins or browser_origins(platform.storage_url),
        ),
    )
    # Inbound mail with attachments is larger than a JSON body; the leads service applies
    # its own message limit.
    app.state.streamed_body_prefixes = ("/api/leads/public/mailgun/",)
    ui = UI(settings, backend, sessions, Jinja2Templates(directory=HERE / "templates"))
    install_page_errors(app, ui)
    app.state.ui = ui  # module-level page routers (assistant_pages) take it from here
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.state.proxy = Proxy.of(settings, client, sessions, service_urls)
    app.include_router(api.router)
    app.include_router(orders_pages.router)
    app.include_router(listings_pages.router)
    app.include_router(leads_pages.router)
    app.include_router(viewings_pages)
    app.include_router(gallery_pages.router)
    app.include_router(client_gallery_pages)
    app.include_router(deliverables_router)
    app.include_router(staging_pages.router)
    app.include_router(account_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(analytics_pages.router)
    app.include_router(integrations_pages.router)
    app.include_router(assistant_pages.router)
    app.include_router(billing_pages)
    app.include_router(mailbox_pages)
    app.include_router(legal_router)
    app.include_router(privacy_pages)
    app.include_router(photographer_pages)
    app.include_router(calendar_pages)
    app.include_router(site_pages)
    return app


def main() -> None:
    settings = GatewaySettings()
    # httpx logs every upstream call at INFO: a second JSON line per proxied request beside our
    # own `http.request` (logging was 5–10 % of the gateway's samples under load).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.host)
    serve(create_app(settings), settings, migrations_package=None, public=True)
