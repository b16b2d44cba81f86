"""The website form on an agency's own site posts to the gateway cross-site: allowed for the
leads service's public routes only, and without any session being looked up or forwarded."""

from __future__ import annotations

import httpx
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_runtime.settings import PlatformSettings

CROSS_SITE = {"origin": "https://www.makler-example.de", "sec-fetch-site": "cross-site"}


async def test_only_the_public_leads_routes_take_cross_site_posts() -> None:
    # Upstreams on a closed port: a request that passes the gateway's checks gets 503.
    platform = PlatformSettings(
        auth_url="http://127.0.0.1:9",
        leads_url="http://127.0.0.1:9",
        orders_url="http://127.0.0.1:9",
    )
    app = gateway_app(GatewaySettings(platform=platform))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        form = await client.post(
            "/api/leads/public/forms/abc/inquiries",
            data={"name": "Theo"},
            headers=CROSS_SITE,
            # A session cookie of the agent's own browser must not be used for it.
            cookies={"__Host-session": "x.y"},
        )
        assert form.status_code == 503, form.text  # through to the (absent) leads service
        orders = await client.post("/api/orders/orders", json={}, headers=CROSS_SITE)
        assert orders.status_code == 403
        assert orders.json()["error"]["code"] == "csrf"
