"""The gateway faces the public: its metrics are not on its public port."""

from __future__ import annotations

import httpx
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_runtime.settings import PlatformSettings
from pix_stack.embedded import free_port
from prometheus_client import start_http_server


async def test_metrics_are_refused_on_the_public_port_and_served_on_the_internal_one() -> None:
    app = gateway_app(GatewaySettings(platform=PlatformSettings(auth_url="http://127.0.0.1:9")))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        assert (await client.get("/metrics")).status_code == 404
        assert (await client.get("/healthz")).status_code == 200
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1")
    try:
        async with httpx.AsyncClient() as client:
            scraped = await client.get(f"http://127.0.0.1:{port}/metrics")
        assert scraped.status_code == 200
        assert "pix_http_requests_total" in scraped.text
    finally:
        server.shutdown()
        thread.join(timeout=5)
