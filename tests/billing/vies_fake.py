"""A local server speaking VIES's REST API (the EU Commission's VAT id register), for billing's
real httpx client: POST /check-vat-number with {"countryCode", "vatNumber"} answers
{"countryCode", "vatNumber", "requestDate", "valid", "requestIdentifier", "name", "address",
...}, as https://ec.europa.eu/taxation_customs/vies/rest-api does.

Every well-formed id is registered (with a made-up trader) unless the test lists it in
`unregistered`. The test can make VIES unavailable: `outage` answers as VIES does when a member
state's register is away ("MS_UNAVAILABLE" in `errorWrappers`, HTTP 500 here; 200 with
`userError` if `outage_as_user_error`), and `hold` (an unset Event) keeps every request waiting
until it is set, longer than any client's timeout.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class FakeVies:
    port: int
    unregistered: set[str] = field(default_factory=set)
    outage: bool = False
    outage_as_user_error: bool = False
    hold: asyncio.Event | None = None
    # Every request's JSON body, in order.
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/taxation_customs/vies/rest-api"

    def asked_for(self, vat_id: str) -> int:
        return sum(1 for r in self.requests if f"{r['countryCode']}{r['vatNumber']}" == vat_id)

    async def check(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if (
            not isinstance(body, dict)
            or not str(body.get("countryCode", "")).isalpha()
            or len(str(body.get("countryCode", ""))) != 2
            or not body.get("vatNumber")
        ):
            return JSONResponse(
                {"actionSucceed": False, "errorWrappers": [{"error": "INVALID_INPUT"}]},
                status_code=400,
            )
        self.requests.append(body)
        if self.hold is not None:
            await self.hold.wait()
        if self.outage:
            if self.outage_as_user_error:
                return JSONResponse(
                    {
                        "countryCode": body["countryCode"],
                        "vatNumber": body["vatNumber"],
                        "requestDate": datetime.now(UTC).isoformat(),
                        "valid": False,
                        "userError": "MS_UNAVAILABLE",
                        "name": "---",
                        "address": "---",
                    }
                )
            return JSONResponse(
                {
                    "actionSucceed": False,
                    "errorWrappers": [
                        {
                            "error": "MS_UNAVAILABLE",
                            "message": "The application at the Member State is not replying",
                        }
                    ],
                },
                status_code=500,
            )
        vat_id = f"{body['countryCode']}{body['vatNumber']}"
        valid = vat_id not in self.unregistered
        return JSONResponse(
            {
                "countryCode": body["countryCode"],
                "vatNumber": body["vatNumber"],
                "requestDate": datetime.now(UTC).isoformat(),
                "valid": valid,
                "requestIdentifier": f"WAPI{uuid.uuid4().hex[:12].upper()}" if valid else "",
                "name": f"Trader {vat_id}" if valid else "---",
                "address": "12 RUE DE LA PAIX\n75002 PARIS" if valid else "---",
                "traderName": "---",
                "traderStreet": "---",
                "traderPostalCode": "---",
                "traderCity": "---",
                "traderCompanyType": "---",
                "traderNameMatch": "NOT_PROCESSED",
                "traderStreetMatch": "NOT_PROCESSED",
                "traderPostalCodeMatch": "NOT_PROCESSED",
                "traderCityMatch": "NOT_PROCESSED",
                "traderCompanyTypeMatch": "NOT_PROCESSED",
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(
                    "/taxation_customs/vies/rest-api/check-vat-number",
                    self.check,
                    methods=["POST"],
                )
            ]
        )


class FakeViesServer:
    """The fake on a loopback port, served by uvicorn in the running event loop."""

    def __init__(self, fake: FakeVies) -> None:
        self.fake = fake
        self.server = uvicorn.Server(
            uvicorn.Config(
                fake.app(), host="127.0.0.1", port=fake.port, log_level="warning", lifespan="off"
            )
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.fake.hold is not None:
            self.fake.hold.set()
        self.server.should_exit = True
        if self._task:
            await self._task
