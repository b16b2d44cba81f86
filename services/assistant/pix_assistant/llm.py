"""Chat Completions through the official `openai` client, against any OpenAI-compatible endpoint.

One round is one model call: streamed, its text deltas handed on as they come, its tool calls
assembled from their deltas, its usage read from the last chunk. What the user sees passes
through `AnswerFilter`: no raw JSON, no reasoning blocks.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from openai import NOT_GIVEN, AsyncOpenAI

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")


@dataclass
class ToolCallRequest:
    id: str
    name: str
    arguments: str

    def as_message(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass
class RoundResult:
    text: str = ""
    calls: list[ToolCallRequest] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int = 0


@dataclass
class TextPiece:
    text: str


class ModelClient:
    def __init__(
        self, *, base_url: str | None, api_key: str, timeout: float, max_completion_tokens: int
    ) -> None:
        self._client = AsyncOpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=1
        )
        self._max_tokens = max_completion_tokens

    async def aclose(self) -> None:
        await self._client.close()

    async def complete(
        self, model: str, messages: list[dict[str, Any]], *, max_tokens: int | None = None
    ) -> RoundResult:
        started = time.monotonic()
        wire: Any = messages
        response = await self._client.chat.completions.create(
            model=model,
            messages=wire,
            max_completion_tokens=max_tokens or self._max_tokens,
        )
        usage = response.usage
        return RoundResult(
            text=(response.choices[0].message.content or "") if response.choices else "",
            tokens_in=usage.prompt_tokens if usage else 0,
            tokens_out=usage.completion_tokens if usage else 0,
            latency_ms=int((time.monotonic() - started) * 1000),
        )

    async def stream(
        self,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        result: RoundResult,
    ) -> AsyncIterator[TextPiece]:
        """Yield the round's text as it comes; `result` holds the whole round afterwards."""
        started = time.monotonic()
        # Plain dicts, as the API takes them; the client's TypedDicts add nothing here.
        wire: Any = messages
        offered: Any = tools or NOT_GIVEN
        chunks = await self._client.chat.completions.create(
            model=model,
            messages=wire,
            max_completion_tokens=self._max_tokens,
            stream=True,
            stream_options={"include_usage": True},
            tools=offered,
        )
        calls: dict[int, ToolCallRequest] = {}
        text: list[str] = []
        async for chunk in chunks:
            if chunk.usage is not None:
                result.tokens_in = chunk.usage.prompt_tokens
                result.tokens_out = chunk.usage.completion_tokens
            for choice in chunk.choices:
                delta = choice.delta
                if delta.content:
                    text.append(delta.content)
                    yield TextPiece(delta.content)
                for call in delta.tool_calls or ():
                    known = calls.setdefault(call.index, ToolCallRequest("", "", ""))
                    if call.id:
                        known.id = call.id
                    if call.function is not None:
                        known.name += call.function.name or ""
                        known.arguments += call.function.arguments or ""
        result.text = "".join(text)
        result.calls = [calls[i] for i in sorted(calls)]
        for index, assembled in enumerate(result.calls):
            assembled.id = assembled.id or f"call_{index}"
        result.latency_ms = int((time.monotonic() - started) * 1000)


def _is_json(text: str) -> bool:
    body = _FENCE.sub("", text.strip())
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


class AnswerFilter:
    """What of the model's text reaches the user.

    Reasoning (`<think>…</think>`) is dropped wherever it appears. A text that begins like
    JSON or a code fence is held back to the end of the round and dropped if it is JSON (a
    model writing its tool call as text); anything else passes as it streams.
    """

    def __init__(self) -> None:
        self._pending = ""
        self._thinking = False
        self._started = False
        self._holding = False
        self._held: list[str] = []

    def feed(self, piece: str) -> str:
        self._pending += piece
        out: list[str] = []
        while self._pending:
            if self._thinking:
                end = self._pending.find(THINK_CLOSE)
                if end < 0:
                    self._pending = self._pending[-len(THINK_CLOSE) :]
                    break
                self._pending = self._pending[end + len(THINK_CLOSE) :]
                self._thinking = False
                continue
            start = self._pending.find(THINK_OPEN)
            if start >= 0:
                out.append(self._pending[:start])
                self._pending = self._pending[start + len(THINK_OPEN) :]
                self._thinking = True
                continue
            # Keep back a tail that may be the start of a `<think>` still to come.
            keep = next(
                (
                    n
                    for n in range(len(THINK_OPEN) - 1, 0, -1)
                    if self._pending.endswith(THINK_OPEN[:n])
                ),
                0,
            )
            out.append(self._pending[: len(self._pending) - keep])
            self._pending = self._pending[len(self._pending) - keep :]
            break
        return self._route("".join(out))

    def _route(self, text: str) -> str:
        if not text:
            return ""
        if not self._started:
            stripped = text.lstrip()
            if not stripped:
                self._held.append(text)
                return ""
            self._started = True
            self._holding = stripped[0] in "{[" or stripped.startswith("```")
            if self._held:
                text = "".join(self._held) + text
                self._held = []
        if self._holding:
            self._held.append(text)
            return ""
        return text

    def finish(self) -> str:
        rest = "" if self._thinking else self._pending
        self._pending = ""
        tail = self._route(rest)
        if self._holding:
            held = "".join(self._held)
            self._held = []
            return "" if _is_json(held) else held
        return tail
