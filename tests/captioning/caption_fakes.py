"""A local HTTP server speaking Replicate's predictions API and OpenAI's chat completions.

Scripted per test: push answers onto `FakeProviders.replicate_create`, `.replicate_polls` or
`.openai`; an empty queue answers with a valid caption. Each answer may carry a delay, a status
code and headers, so tests cover slow answers, 429 + Retry-After, 5xx, timeouts and malformed
output. Also used by tests/perf/caption_bench.py with a fixed latency.

A prediction created with a `webhook` is finished by the fake itself after its delay (or the
latency): with the next answer of `.replicate_outcomes` (default: a valid caption), and its
final state POSTed to the webhook, signed like Replicate signs (Standard Webhooks, with a
random `whsec_` secret that `GET /v1/webhooks/default/secret` serves). Switches:
`webhook_lost` (never delivered), `webhook_twice` (delivered again: a replay),
`webhook_bad_signature` (signed with another key). `.deliveries` records each delivery's answer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

GOOD_CAPTION: dict[str, Any] = {
    "room_type": "kitchen",
    "title_de": "Helle Küche mit Essplatz",
    "title_en": "Bright kitchen with dining",
    "description_de": "Die helle Küche bietet viel Arbeitsfläche und einen gemütlichen Essplatz.",
    "description_en": "The bright kitchen offers plenty of worktop and a cosy dining spot.",
    "alt_text_de": "Helle Küche mit weißen Fronten",
    "alt_text_en": "Bright kitchen with white cabinets",
    "features": ["bright", "dining area"],
}


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # JSON for the response; for predictions: the model's output text
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    prediction_status: str = "succeeded"  # for Replicate polls
    error: str | None = None
    raw: bytes | None = None  # OpenAI: this body as it is, with status 200 (a broken server)


@dataclass
class FakeProviders:
    latency: float = 0.0  # added to every successful model answer (benchmark)
    replicate_create: deque[Answer] = field(default_factory=deque)
    replicate_polls: deque[Answer] = field(default_factory=deque)
    openai: deque[Answer] = field(default_factory=deque)
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    predictions: dict[str, dict[str, Any]] = field(default_factory=dict)
    url: str = ""
    # Webhooks (see the module docstring).
    replicate_outcomes: deque[Answer] = field(default_factory=deque)
    webhook_secret: str = field(
        default_factory=lambda: "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    )
    webhook_lost: bool = False
    webhook_twice: bool = False
    webhook_bad_signature: bool = False
    # (prediction id, HTTP status, response body) per delivery
    deliveries: list[tuple[str, int, str]] = field(default_factory=list)
    _finishing: set[asyncio.Task[None]] = field(default_factory=set)

    def reset(self) -> None:
        self.replicate_create.clear()
        self.replicate_polls.clear()
        self.replicate_outcomes.clear()
        self.openai.clear()
        self.requests.clear()
        self.predictions.clear()
        self.deliveries.clear()
        self.webhook_lost = self.webhook_twice = self.webhook_bad_signature = False

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.requests]

    # --- Replicate (https://replicate.com/docs/reference/http) --------------------------------

    def _prediction(self, pid: str, status: str, output: Any, error: str | None) -> dict[str, Any]:
        p = self.predictions[pid]
        p.update(status=status, output=output, error=error)
        return p

    async def create_prediction(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append((request.url.path, body, dict(request.headers)))
        answer = self.replicate_create.popleft() if self.replicate_create else Answer(status=201)
        await asyncio.sleep(answer.delay)
        if answer.status >= 400:
            return JSONResponse(
                {"title": "error", "detail": "scripted", "status": answer.status},
                answer.status,
                answer.headers,
            )
        pid = uuid.uuid4().hex[:12]
        owner_model = (
            request.path_params.get("owner", "") + "/" + request.path_params.get("name", "")
        )
        self.predictions[pid] = {
            "id": pid,
            "model": owner_model.strip("/") or "cjwbw/cogvlm",
            "version": body.get("version", "hidden"),
            "input": body.get("input"),
            "logs": "",
            "metrics": {},
            "created_at": "2025-01-01T00:00:00Z",
            "started_at": None,
            "completed_at": None,
            "urls": {"get": f"{self.url}/v1/predictions/{pid}"},
            "started": time.monotonic(),
        }
        created = self._public(self._prediction(pid, "starting", None, None))
        if body.get("webhook"):
            self.predictions[pid]["final"] = False
            outcome = self.replicate_outcomes.popleft() if self.replicate_outcomes else Answer()
            task = asyncio.create_task(self._finish(pid, body["webhook"], outcome))
            self._finishing.add(task)
            task.add_done_callback(self._finishing.discard)
        return JSONResponse(created, 201)

    @staticmethod
    def _public(p: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in p.items() if k not in ("started", "final")}

    # --- webhooks (https://replicate.com/docs/topics/webhooks) ----------------------------------

    def sign(
        self, body: bytes, *, timestamp: int | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """Standard Webhooks headers: v1 HMAC-SHA256 of `id.timestamp.body`, as Replicate signs."""
        webhook_id = "msg_" + uuid.uuid4().hex
        ts = str(int(time.time()) if timestamp is None else timestamp)
        key = base64.b64decode((secret or self.webhook_secret).split("_", 1)[1])
        mac = hmac.new(key, f"{webhook_id}.{ts}.".encode() + body, hashlib.sha256).digest()
        return {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": ts,
            "webhook-signature": "v1," + base64.b64encode(mac).decode(),
        }

    async def _finish(self, pid: str, url: str, answer: Answer) -> None:
        await asyncio.sleep(answer.delay or self.latency)
        if pid not in self.predictions:
            return
        p = self.predictions[pid]
        if not p["final"]:  # else cancelled meanwhile: the webhook reports that
            succeeded = answer.prediction_status == "succeeded"
            output = answer.body if answer.body is not None else json.dumps(GOOD_CAPTION)
            self._prediction(
                pid, answer.prediction_status, output if succeeded else None, answer.error
            )
            p.update(completed_at="2025-01-01T00:00:05Z", final=True)
        if self.webhook_lost:
            return
        body = json.dumps(self._public(p)).encode()
        other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        headers = self.sign(body, secret=other if self.webhook_bad_signature else None)
        async with httpx.AsyncClient(timeout=30) as client:
            for _ in range(2 if self.webhook_twice else 1):  # a replay: the very same message
                response = await client.post(url, content=body, headers=headers)
                self.deliveries.append((pid, response.status_code, response.text))

    async def webhook_secret_route(self, request: Request) -> JSONResponse:
        self.requests.append((request.url.path, {}, dict(request.headers)))
        return JSONResponse({"key": self.webhook_secret})

    async def get_prediction(self, request: Request) -> JSONResponse:
        pid = request.path_params["pid"]
        self.requests.append((request.url.path, {}, dict(request.headers)))
        if pid not in self.predictions:
            return JSONResponse({"title": "not found", "status": 404}, 404)
        if "final" in self.predictions[pid]:  # finished by `_finish`, not by polls
            p = self.predictions[pid]
            if not p["final"]:
                p["status"] = "processing"
            return JSONResponse(self._public(p))
        if self.replicate_polls:
            answer = self.replicate_polls.popleft()
            await asyncio.sleep(answer.delay)
            if answer.status >= 400:
                return JSONResponse(
                    {"title": "error", "status": answer.status}, answer.status, answer.headers
                )
            output = answer.body if answer.body is not None else json.dumps(GOOD_CAPTION)
            p = self._prediction(pid, answer.prediction_status, None, answer.error)
            if answer.prediction_status == "succeeded":
                p["output"] = output
            return JSONResponse(self._public(p))
        p = self.predictions[pid]
        done = time.monotonic() - p["started"] >= self.latency
        if not done:
            return JSONResponse(self._public(self._prediction(pid, "processing", None, None)))
        return JSONResponse(
            self._public(self._prediction(pid, "succeeded", json.dumps(GOOD_CAPTION), None))
        )

    async def cancel_prediction(self, request: Request) -> JSONResponse:
        pid = request.path_params["pid"]
        self.requests.append((request.url.path, {}, dict(request.headers)))
        if "final" in self.predictions.get(pid, {}):
            self.predictions[pid]["final"] = True
        return JSONResponse(self._public(self._prediction(pid, "canceled", None, None)))

    # --- OpenAI chat completions (https://platform.openai.com/docs/api-reference/chat) ---------

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append((request.url.path, body, dict(request.headers)))
        answer = self.openai.popleft() if self.openai else Answer()
        await asyncio.sleep(answer.delay or self.latency)
        if answer.status >= 400:
            return JSONResponse(
                {"error": {"message": "scripted", "type": "error", "code": answer.status}},
                answer.status,
                answer.headers,
            )
        if answer.raw is not None:
            return Response(answer.raw, 200, media_type="application/json")
        content = answer.body if answer.body is not None else json.dumps(GOOD_CAPTION)
        return JSONResponse(
            {
                "id": "chatcmpl-" + uuid.uuid4().hex[:8],
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/predictions", self.create_prediction, methods=["POST"]),
                Route(
                    "/v1/models/{owner}/{name}/predictions",
                    self.create_prediction,
                    methods=["POST"],
                ),
                Route("/v1/predictions/{pid}", self.get_prediction, methods=["GET"]),
                Route("/v1/predictions/{pid}/cancel", self.cancel_prediction, methods=["POST"]),
                Route("/v1/webhooks/default/secret", self.webhook_secret_route, methods=["GET"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
            ]
        )


class ServerThread:
    """uvicorn on a free loopback port in a daemon thread."""

    def __init__(self, fake: FakeProviders) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.fake = fake
        fake.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            fake.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake provider did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
