"""A call that fails on the way is tried once more when sending it twice is harmless.

The upstream is a real HTTP server on a socket that hangs up on the first request it reads,
as a service does that restarts or drops a kept-alive connection; the second is answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest
from pix_gateway.app import create_app as gateway_app
from pix_gateway.service import Backend
from pix_gateway.settings import GatewaySettings
from pix_runtime.settings import PlatformSettings


@dataclass
class FlakyService:
    url: str
    hang_ups: int
    seen: list[str] = field(default_factory=list)


@asynccontextmanager
async def flaky_service(hang_ups: int = 1) -> AsyncIterator[FlakyService]:
    """Hangs up on the first `hang_ups` requests without an answer, then answers 200."""
    service = FlakyService(url="", hang_ups=hang_ups)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        service.seen.append(head.split(b"\r\n", 1)[0].decode())
        if len(service.seen) <= service.hang_ups:
            writer.close()
            return
        body = b'{"ok": true}'
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    service.url = f"http://127.0.0.1:{port}"
    async with server:
        yield service


async def test_a_page_read_that_failed_on_the_way_is_tried_once_more() -> None:
    async with flaky_service() as orders, httpx.AsyncClient() as client:
        backend = Backend(client, {"orders": orders.url}, b"k" * 32)
        answer = await backend.call("GET", "orders", "/orders")
    assert answer.status_code == 200
    assert orders.seen == ["GET /orders HTTP/1.1", "GET /orders HTTP/1.1"]


async def test_a_post_is_never_sent_twice() -> None:
    async with flaky_service() as orders, httpx.AsyncClient() as client:
        backend = Backend(client, {"orders": orders.url}, b"k" * 32)
        with pytest.raises(httpx.TransportError):
            await backend.call("POST", "orders", "/orders", json={"services": ["photos"]})
    assert orders.seen == ["POST /orders HTTP/1.1"]


async def test_the_api_proxy_retries_a_read_once_and_then_says_unavailable() -> None:
    async with flaky_service(hang_ups=1) as media:
        platform = PlatformSettings(auth_url="http://127.0.0.1:9", media_url=media.url)
        app = gateway_app(GatewaySettings(platform=platform))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            # Signed storage URLs need no session: the simplest read through the proxy.
            first = await client.get("/api/media/storage/renditions/a/web.jpg")
            assert first.status_code == 200
            assert len(media.seen) == 2

            # The next two hang up: sent once more (by aiohttp, RFC 9112), then 503.
            media.hang_ups = len(media.seen) + 2
            failed = await client.get("/api/media/storage/renditions/a/web.jpg")
            assert failed.status_code == 503
            assert failed.json()["error"]["code"] == "unavailable"
            assert len(media.seen) == 4
        await app.state.proxy.upstreams_pool.close()  # no lifespan under ASGITransport
