"""A local server speaking Google's Geocoding API (`GET /maps/api/geocode/json`), for the real
httpx client of the listings service.

It answers the documented shape `{"status", "results": [{"formatted_address", "geometry":
{"location": {"lat", "lng"}, "location_type"}, "place_id", "types"}]}` with HTTP 200 for every
status: coordinates from a small table (the first entry whose key the address contains),
`ZERO_RESULTS` for anything else, `REQUEST_DENIED` for a wrong key, HTTP 500 while `failing`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from pix_stack.embedded import free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

KEY = "test-maps-key"


class FakeGeocoding:
    def __init__(self) -> None:
        self.places: dict[str, tuple[float, float]] = {}
        self.requests: list[dict[str, str]] = []
        self.failing = False
        self.app = Starlette(routes=[Route("/maps/api/geocode/json", self.geocode)])

    async def geocode(self, request: Request) -> JSONResponse:
        params = dict(request.query_params)
        self.requests.append(params)
        if self.failing:
            return JSONResponse({"error_message": "backend error"}, status_code=500)
        if params.get("key") != KEY:
            return JSONResponse(
                {
                    "error_message": "The provided API key is invalid.",
                    "results": [],
                    "status": "REQUEST_DENIED",
                }
            )
        address = params.get("address", "")
        for name, (lat, lng) in self.places.items():
            if name in address:
                result: dict[str, Any] = {
                    "formatted_address": address,
                    "geometry": {
                        "location": {"lat": lat, "lng": lng},
                        "location_type": "ROOFTOP",
                    },
                    "place_id": f"ChIJ-{abs(hash(name)) % 10**8}",
                    "types": ["street_address"],
                }
                return JSONResponse({"results": [result], "status": "OK"})
        return JSONResponse({"results": [], "status": "ZERO_RESULTS"})


@asynccontextmanager
async def serving(fake: FakeGeocoding) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(fake.app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
