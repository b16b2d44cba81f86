"""A local server speaking OpenAI's `/v1/embeddings` and `/v1/chat/completions`, for the real
`openai` client. Embeddings are deterministic (hashed words, normalised); chat answers with
scripted bodies, or a valid description draft."""

from __future__ import annotations

import hashlib
import json
import math
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

GOOD_DRAFT = {
    "description_de": "Lichtdurchflutete Altbauwohnung mit Südbalkon in ruhiger Lage.",
    "description_en": "Light-filled period apartment with a south-facing balcony.",
}


def hashed_vector(text: str, dim: int) -> list[float]:
    vector = [0.0] * dim
    for word in text.lower().split():
        digest = hashlib.sha256(word.encode()).digest()
        vector[int.from_bytes(digest[:4], "big") % dim] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


@dataclass
class FakeOpenAI:
    dim: int = 64
    chat_answers: deque[tuple[int, str]] = field(default_factory=deque)
    embedding_status: deque[int] = field(default_factory=deque)
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    url: str = ""

    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(("embeddings", body, dict(request.headers)))
        if self.embedding_status:
            status = self.embedding_status.popleft()
            return JSONResponse({"error": {"message": "overloaded", "type": "server"}}, status)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dim = body.get("dimensions") or self.dim
        return JSONResponse(
            {
                "object": "list",
                "model": body["model"],
                "data": [
                    {"object": "embedding", "index": i, "embedding": hashed_vector(t, dim)}
                    for i, t in enumerate(texts)
                ],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        )

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(("chat", body, dict(request.headers)))
        status, content = (
            self.chat_answers.popleft() if self.chat_answers else (200, json.dumps(GOOD_DRAFT))
        )
        if status != 200:
            return JSONResponse({"error": {"message": content, "type": "server"}}, status)
        return JSONResponse(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
            ]
        )


class ServerThread:
    """uvicorn on a free loopback port in a daemon thread."""

    def __init__(self, fake: FakeOpenAI) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        fake.url = f"http://127.0.0.1:{self.port}/v1"
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
                raise RuntimeError("fake OpenAI did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
