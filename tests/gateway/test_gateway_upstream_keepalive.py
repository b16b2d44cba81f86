"""The gateway's kept-alive connections to a service outlive no service's own keep-alive: a
connection is reused after an idle spell longer than uvicorn's default (5 s), where the old
setting had the service close it under the pool (a POST then failed with "Can not write request
body" and the caller saw a 503)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI, Request
from pix_gateway.api import UPSTREAM_KEEP_ALIVE_SECONDS, UpstreamPool
from pix_runtime.lifecycle import KEEP_ALIVE_SECONDS
from pix_stack.embedded import free_port
from yarl import URL


def test_the_gateway_lets_go_of_an_idle_connection_before_the_service_does() -> None:
    assert UPSTREAM_KEEP_ALIVE_SECONDS < KEEP_ALIVE_SECONDS


async def test_a_connection_idle_past_uvicorns_default_is_reused_for_a_post() -> None:
    app = FastAPI()

    @app.post("/uploads")
    async def uploads(request: Request) -> dict[str, object]:
        assert request.client is not None
        return {"size": len(await request.body()), "client_port": request.client.port}

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    )
    serving = asyncio.create_task(server.serve())
    pool = UpstreamPool()
    try:
        while not server.started:
            await asyncio.sleep(0.05)

        async def post() -> dict[str, object]:
            async def body() -> AsyncIterator[bytes]:
                yield b"x" * 1000

            answer = await pool.send(
                "POST",
                URL(f"http://127.0.0.1:{port}/uploads"),
                {"content-type": "application/octet-stream"},
                body(),
            )
            assert answer.status == 200
            found: dict[str, object] = await answer.json()
            return found

        first = await post()
        await asyncio.sleep(6)  # idle past uvicorn's default keep-alive of 5 s
        second = await post()
        assert first["size"] == second["size"] == 1000
        assert second["client_port"] == first["client_port"], "the connection was not kept"
    finally:
        await pool.close()
        server.should_exit = True
        await serving
