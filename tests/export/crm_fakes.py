"""Local onOffice and Propstack servers, written from their public API documentation.

They check what the documentation asks of a request (onOffice: token, HMAC version 2, sorted
parameters, the two-step uploadfile; Propstack: X-API-KEY and the `image` body) and answer in
the documented shapes. `problems` collects every request that broke a rule, so a test can
assert it stays empty.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from pix_stack.embedded import free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

ACTION_DO = "urn:onoffice-de-ns:smart:2.5:smartml:action:do"
ACTION_MODIFY = "urn:onoffice-de-ns:smart:2.5:smartml:action:modify"
ONOFFICE_PATH = "/api/stable/api.php"
PICTURE_TYPES = {"Titelbild", "Foto", "Foto_gross", "Grundriss", "Lageplan", "Panorama"}


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Run `app` with uvicorn on a free loopback port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("local CRM server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def documented_hmac(
    secret: str, timestamp: str, token: str, resourcetype: str, actionid: str
) -> str:
    """onOffice "Action" page, HMAC version 2, recomputed independently of the service."""
    digest = hmac.new(
        secret.encode(), (timestamp + token + resourcetype + actionid).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


class FakeOnOffice:
    def __init__(self, token: str, secret: str, estates: set[int]) -> None:
        self.token, self.secret, self.estates = token, secret, estates
        self.fail_next: list[int] = []
        self.tmp: dict[str, bytes] = {}
        self.files: list[dict[str, Any]] = []
        self.estate_fields: dict[int, dict[str, Any]] = {}
        self.rejected: list[str] = []
        self.problems: list[str] = []
        self.app = Starlette(routes=[Route(ONOFFICE_PATH, self.endpoint, methods=["POST"])])

    @staticmethod
    def _answer(code: int, errorcode: int, message: str, results: list[Any]) -> JSONResponse:
        return JSONResponse(
            {
                "status": {"code": code, "errorcode": errorcode, "message": message},
                "response": {"results": results},
            }
        )

    def _result(
        self, action: dict[str, Any], elements: dict[str, Any], errorcode: int = 0, msg: str = "OK"
    ) -> dict[str, Any]:
        return {
            "actionid": action["actionid"],
            "resourceid": action.get("resourceid", ""),
            "resourcetype": action["resourcetype"],
            "cacheable": False,
            "identifier": action.get("identifier", ""),
            "data": {
                "meta": {"cntabsolute": None},
                "records": [{"id": 0, "type": "", "elements": elements}] if elements else [],
            },
            "status": {"errorcode": errorcode, "message": msg},
        }

    async def endpoint(self, request: Request) -> Response:
        if self.fail_next:
            return PlainTextResponse("maintenance", status_code=self.fail_next.pop(0))
        body = await request.json()
        if body.get("token") != self.token:
            self.rejected.append("token")
            return self._answer(400, 0, "not authenticated", [])
        results = []
        for action in body["request"]["actions"]:
            expected = documented_hmac(
                self.secret,
                str(action.get("timestamp", "")),
                self.token,
                action.get("resourcetype", ""),
                action.get("actionid", ""),
            )
            if action.get("hmac_version") != "2" or not hmac.compare_digest(
                expected, str(action.get("hmac", ""))
            ):
                self.rejected.append("hmac")
                return self._answer(400, 0, "not authenticated", [])
            if abs(time.time() - int(action["timestamp"])) > 300:
                self.problems.append("stale timestamp")
            parameters: dict[str, Any] = action["parameters"]
            if list(parameters) != sorted(parameters):
                self.problems.append(f"parameters not sorted: {list(parameters)}")
            if action["actionid"] == ACTION_MODIFY and action["resourcetype"] == "estate":
                # "Modify estate": resourceid the estate, parameters.data its fields.
                estate = int(action.get("resourceid") or 0)
                if estate not in self.estates:
                    return self._answer(
                        200, 97, "Error in action", [self._result(action, {}, 137, "?")]
                    )
                if set(parameters) != {"data"} or not isinstance(parameters["data"], dict):
                    self.problems.append(f"bad estate modify {parameters}")
                self.estate_fields.setdefault(estate, {}).update(parameters["data"])
                results.append(self._result(action, {"success": "success"}))
                continue
            if action["actionid"] != ACTION_DO or action["resourcetype"] != "uploadfile":
                self.problems.append(f"unexpected action {action['actionid']}")
            if "data" in parameters:
                if "tmpUploadId" in parameters or "relatedRecordId" in parameters:
                    self.problems.append("data sent together with second-step parameters")
                tmp_id = uuid.uuid4().hex
                self.tmp[tmp_id] = base64.b64decode(parameters["data"], validate=True)
                results.append(self._result(action, {"tmpUploadId": tmp_id, "success": "success"}))
                continue
            data = self.tmp.pop(str(parameters.get("tmpUploadId")), None)
            if data is None:
                self.problems.append("unknown or reused tmpUploadId")
                return self._answer(200, 97, "Error in action", [self._result(action, {}, 1, "?")])
            if parameters.get("relatedRecordId") not in self.estates:
                return self._answer(
                    200,
                    97,
                    "Error in action",
                    [self._result(action, {}, 137, "Estate not found")],
                )
            if parameters.get("module") != "estate" or parameters.get("Art") not in PICTURE_TYPES:
                self.problems.append(f"bad second step {parameters}")
            self.files.append({**parameters, "bytes": data})
            results.append(self._result(action, {"success": "success"}))
        return self._answer(200, 0, "OK", results)


class FakePropstack:
    def __init__(self, api_key: str, properties: set[int]) -> None:
        self.api_key, self.properties = api_key, properties
        self.fail_next: list[int] = []
        self.images: list[dict[str, Any]] = []
        self.units: dict[int, dict[str, Any]] = {}
        self.rejected = 0
        self.problems: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/v1/images", self.create_image, methods=["POST"]),
                Route("/v1/units/{unit_id:int}", self.update_unit, methods=["PUT"]),
            ]
        )

    async def update_unit(self, request: Request) -> Response:
        if request.headers.get("X-API-KEY") != self.api_key:
            self.rejected += 1
            return JSONResponse({"errors": ["Unauthorized"]}, status_code=401)
        if self.fail_next:
            status = self.fail_next.pop(0)
            return JSONResponse(
                {"errors": ["busy"]}, status_code=status, headers={"Retry-After": "0"}
            )
        unit_id: int = request.path_params["unit_id"]
        if unit_id not in self.properties:
            return JSONResponse({"errors": ["Not found"]}, status_code=404)
        body = await request.json()
        if set(body) != {"property"} or not isinstance(body["property"], dict):
            self.problems.append(f"unit body not wrapped in property: {list(body)}")
        self.units.setdefault(unit_id, {}).update(body.get("property") or {})
        return JSONResponse({"id": unit_id, **self.units[unit_id]})

    async def create_image(self, request: Request) -> Response:
        if request.headers.get("X-API-KEY") != self.api_key:
            self.rejected += 1
            return JSONResponse({"errors": ["Unauthorized"]}, status_code=401)
        if self.fail_next:
            status = self.fail_next.pop(0)
            return JSONResponse(
                {"errors": ["busy"]}, status_code=status, headers={"Retry-After": "0"}
            )
        image = (await request.json()).get("image") or {}
        if image.get("imageable_type") != "Property" or not isinstance(
            image.get("imageable_id"), int
        ):
            self.problems.append(f"bad imageable {image.get('imageable_type')}")
        if image.get("imageable_id") not in self.properties:
            return JSONResponse({"errors": ["Not found"]}, status_code=404)
        photo = str(image.get("photo", ""))
        if not photo.startswith("data:image/jpeg;base64,"):
            self.problems.append("photo is not a base64 data URL")
        types = {"title": str, "is_floorplan": bool, "is_private": bool, "position": int}
        for field, kind in types.items():
            if not isinstance(image.get(field), kind):
                self.problems.append(f"{field} missing or not {kind.__name__}")
        data = base64.b64decode(photo.split(",", 1)[1])
        self.images.append({**image, "photo": data})
        return JSONResponse({"id": len(self.images), **image, "photo": None}, status_code=201)
