"""The privacy notice comes from the catalogues in both languages, its links intact."""

from __future__ import annotations

import httpx
import pytest
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_runtime.settings import PlatformSettings


@pytest.mark.parametrize(
    ("lang", "heading", "retention"),
    [
        ("de", "Datenschutzhinweise", "90 Tage nach der Auslieferung"),
        ("en", "Privacy notice", "90 days after delivery"),
    ],
)
async def test_the_privacy_notice_in_each_language(lang: str, heading: str, retention: str) -> None:
    app = gateway_app(GatewaySettings(platform=PlatformSettings(auth_url="http://127.0.0.1:9")))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        page = await client.get("/privacy", headers={"cookie": f"lang={lang}"})
    assert page.status_code == 200
    assert f"<h1>{heading}</h1>" in page.text
    assert retention in page.text
    assert '<a href="/privacy/leads">' in page.text  # markup from the catalogue, not escaped
    assert "<code>Kitchen_01.jpg</code>" in page.text
