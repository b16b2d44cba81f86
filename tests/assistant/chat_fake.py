"""A local server speaking OpenAI's Chat Completions API with tools, for the real `openai` client.

It extends the listings tests' fake (`FakeOpenAI`: embeddings and plain chat answers, served by
its `ServerThread`) with what the assistant needs:

- scripted multi-round tool use: a `Script` is chosen by a phrase of the conversation's last
  user message, and its round is the number of assistant turns after that message, so round 1
  answers with tool calls and round 2 (after the tool results) with text;
- the intent router: requests for the router model answer the scripted intent;
- streaming (`stream: true`): Server-Sent Events with content deltas, tool-call deltas split
  over several chunks (id and name first, the arguments in pieces), `[DONE]`, and a usage chunk
  when `stream_options.include_usage` asks for it;
- usage tokens on every answer (a rough count: 4 characters a token).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from listings.openai_fake import FakeOpenAI, ServerThread
from PIL import Image, ImageDraw
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["ChatFake", "Round", "Script", "ServerThread", "tool_call"]


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any] | str


def tool_call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(name, arguments)


@dataclass
class Round:
    """One answer of the model: text, tool calls, or both (text first, as models do)."""

    text: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    # Computed from the request (e.g. ids that only exist once the test ran the first round).
    make: Callable[[dict[str, Any]], Round] | None = None
    status: int = 200
    # Streaming stops after the first half of the text until the test sets it.
    hold: threading.Event | None = None


@dataclass
class Script:
    phrase: str
    rounds: list[Round]


def _tokens(value: object) -> int:
    return max(1, len(json.dumps(value, ensure_ascii=False)) // 4)


def _last_user_turn(messages: list[dict[str, Any]]) -> tuple[str, int]:
    """The last user message and how many assistant turns followed it."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "user":
            after = messages[index + 1 :]
            content = messages[index].get("content") or ""
            if isinstance(content, list):
                content = " ".join(part.get("text", "") for part in content)
            return content, sum(1 for m in after if m.get("role") == "assistant")
    return "", 0


class ChatFake(FakeOpenAI):
    def __init__(self, *, router_model: str = "router-mini", default_text: str = "Gern.") -> None:
        super().__init__()
        self.router_model = router_model
        self.default_text = default_text
        self.scripts: list[Script] = []
        self.intents: dict[str, str] = {}
        self.chats: list[dict[str, Any]] = []
        self.image_edits: list[dict[str, Any]] = []
        # The image model made slow: while `image_gate` is set to an unset Event, an image
        # request waits until the test sets it (`images_waiting` counts those held), like a
        # provider that takes longer than any proxy's timeout.
        self.image_gate: threading.Event | None = None
        self.images_waiting = 0
        # The image model failing: each request first takes the next HTTP status from here
        # (e.g. 503 for a busy provider, 400 for a refusal) until the list is empty.
        self.image_failures: list[int] = []
        self.image_attempts = 0

    # --- scripting -----------------------------------------------------------------------------

    def script(self, phrase: str, *rounds: Round, intent: str = "crm") -> None:
        self.scripts.insert(0, Script(phrase.lower(), list(rounds)))
        self.intents[phrase.lower()] = intent

    def route(self, phrase: str, intent: str) -> None:
        self.intents[phrase.lower()] = intent

    def calls_to(self, model: str) -> list[dict[str, Any]]:
        return [body for body in self.chats if body["model"] == model]

    def _answer(self, body: dict[str, Any]) -> Round:
        messages = body.get("messages", [])
        user_text, turn = _last_user_turn(messages)
        lowered = user_text.lower()
        if body["model"] == self.router_model and not body.get("tools"):
            system = " ".join(str(m.get("content")) for m in messages if m["role"] == "system")
            if "intent" in system.lower():
                intent = next((i for p, i in self.intents.items() if p in lowered), "smalltalk")
                return Round(text=intent)
        for script in self.scripts:
            if script.phrase in lowered:
                chosen = script.rounds[min(turn, len(script.rounds) - 1)]
                return chosen.make(body) if chosen.make else chosen
        return Round(text=self.default_text)

    # --- image edits: OpenAI's /v1/images/edits (multipart) and Gemini's generateContent ----

    def _furnished(self, image: bytes) -> str:
        """The room "furnished": the same picture with a sofa-coloured block in it."""
        with Image.open(io.BytesIO(image)) as room:
            picture = room.convert("RGB")
        ImageDraw.Draw(picture).rectangle(
            (
                picture.width // 4,
                picture.height // 2,
                picture.width * 3 // 4,
                picture.height * 4 // 5,
            ),
            fill=(120, 60, 40),
        )
        out = io.BytesIO()
        picture.save(out, "PNG")
        return base64.b64encode(out.getvalue()).decode()

    async def _image_turn(self) -> Response | None:
        """A scripted failure, or None after waiting for the gate (if any)."""
        self.image_attempts += 1
        if self.image_failures:
            status = self.image_failures.pop(0)
            return JSONResponse(
                {"error": {"message": f"scripted failure {status}", "type": "image_error"}},
                status_code=status,
            )
        gate = self.image_gate
        if gate is not None:
            self.images_waiting += 1
            try:
                await asyncio.to_thread(gate.wait, 120)
            finally:
                self.images_waiting -= 1
        return None

    async def image_edit(self, request: Request) -> Response:
        if failed := await self._image_turn():
            return failed
        form = await request.form()
        upload = form["image"]
        assert not isinstance(upload, str)
        image = await upload.read()
        self.image_edits.append({"model": form["model"], "prompt": form["prompt"], "image": image})
        return JSONResponse(
            {"created": int(time.time()), "data": [{"b64_json": self._furnished(image)}]}
        )

    async def gemini(self, request: Request) -> Response:
        if failed := await self._image_turn():
            return failed
        body = await request.json()
        parts = body["contents"][0]["parts"]
        image = base64.b64decode(
            next(p for p in parts if "inline_data" in p)["inline_data"]["data"]
        )
        prompt = next(p["text"] for p in parts if "text" in p)
        self.image_edits.append(
            {
                "model": request.path_params["model"],
                "prompt": prompt,
                "image": image,
                "key": request.headers.get("x-goog-api-key"),
            }
        )
        furnished = {"inlineData": {"mimeType": "image/png", "data": self._furnished(image)}}
        return JSONResponse(
            {"candidates": [{"content": {"parts": [{"text": "Fertig."}, furnished]}}]}
        )

    def app(self) -> Starlette:
        app = super().app()
        app.router.routes.append(Route("/v1/images/edits", self.image_edit, methods=["POST"]))
        app.router.routes.append(
            Route("/v1beta/models/{model}:generateContent", self.gemini, methods=["POST"])
        )
        return app

    # --- the API -------------------------------------------------------------------------------

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(("chat", body, dict(request.headers)))
        self.chats.append(body)
        answer = self._answer(body)
        if answer.status != 200:
            return JSONResponse(
                {"error": {"message": "scripted failure", "type": "server_error"}}, answer.status
            )
        calls = [
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {
                    "name": c.name,
                    "arguments": c.arguments
                    if isinstance(c.arguments, str)
                    else json.dumps(c.arguments, ensure_ascii=False),
                },
            }
            for c in answer.calls
        ]
        usage = {
            "prompt_tokens": _tokens(body.get("messages")) + _tokens(body.get("tools") or []),
            "completion_tokens": _tokens(answer.text) + (_tokens(calls) if calls else 0),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                self._chunks(
                    body["model"],
                    answer.text,
                    calls,
                    usage if include_usage else None,
                    answer.hold,
                ),
                media_type="text/event-stream",
            )
        message: dict[str, Any] = {"role": "assistant", "content": answer.text or None}
        if calls:
            message["tool_calls"] = calls
        return JSONResponse(
            {
                "id": "chatcmpl-" + uuid.uuid4().hex[:8],
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if calls else "stop",
                    }
                ],
                "usage": usage,
            }
        )

    async def _chunks(
        self,
        model: str,
        text: str,
        calls: list[dict[str, Any]],
        usage: dict[str, int] | None,
        hold: threading.Event | None = None,
    ) -> AsyncIterator[bytes]:
        ident = "chatcmpl-" + uuid.uuid4().hex[:8]
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            payload = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()

        yield chunk({"role": "assistant", "content": ""})
        words = text.split(" ")
        for i, word in enumerate(words):
            if hold is not None and i == len(words) // 2:
                await asyncio.to_thread(hold.wait, 60)
            if word or i:
                yield chunk({"content": word if i == 0 else " " + word})
        for index, call in enumerate(calls):
            yield chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["function"]["name"], "arguments": ""},
                        }
                    ]
                }
            )
            arguments = call["function"]["arguments"]
            step = max(1, len(arguments) // 3)
            for start in range(0, len(arguments), step):
                piece = arguments[start : start + step]
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        yield chunk({}, "tool_calls" if calls else "stop")
        if usage is not None:
            payload = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
            yield f"data: {json.dumps(payload)}\n\n".encode()
        yield b"data: [DONE]\n\n"
