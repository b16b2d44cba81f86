"""With S3-compatible storage the browser talks to the bucket: the CSP allows exactly its
origins, derived from PIX_STORAGE_URL without a second setting."""

from __future__ import annotations

import httpx
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_runtime.settings import PlatformSettings


async def test_the_csp_allows_the_buckets_origin_for_uploads_and_images() -> None:
    platform = PlatformSettings(
        auth_url="http://127.0.0.1:9",
        storage_url="s3://pix?endpoint=https://acc.r2.cloudflarestorage.com&region=auto",
    )
    app = gateway_app(GatewaySettings(platform=platform))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        csp = (await client.get("/healthz")).headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert "https://acc.r2.cloudflarestorage.com" in directives["connect-src"]
    assert "https://acc.r2.cloudflarestorage.com" in directives["img-src"]
    assert "https://acc.r2.cloudflarestorage.com" not in directives["script-src"]


async def test_local_storage_keeps_the_csp_to_our_own_origin() -> None:
    app = gateway_app(GatewaySettings(platform=PlatformSettings(auth_url="http://127.0.0.1:9")))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        csp = (await client.get("/healthz")).headers["content-security-policy"]
    assert "connect-src 'self';" in csp
