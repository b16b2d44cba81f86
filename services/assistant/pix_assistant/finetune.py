"""The fine-tuning export (seed: "Fine-Tuning Data Export"): conversations their users rated good,
in OpenAI's chat fine-tuning JSONL (one `{"messages": [...]}` per line, tool calls included),
anonymised: email addresses, phone numbers and the names the tools returned are replaced."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from pix_runtime.errors import Forbidden
from pix_runtime.identity import Identity

from pix_assistant.service import for_model
from pix_assistant.store import Conversations

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE = re.compile(r"(?<![\w])\+?\d[\d /().-]{6,}\d")
NAME_KEYS = ("name", "contact_name", "salutation")


def _names(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in NAME_KEYS and isinstance(inner, str) and len(inner.strip()) > 2:
                found.add(inner.strip())
            else:
                _names(inner, found)
    elif isinstance(value, list):
        for inner in value:
            _names(inner, found)


class Anonymiser:
    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def learn(self, tool_result: str) -> None:
        found: set[str] = set()
        try:
            _names(json.loads(tool_result), found)
        except ValueError:
            return
        for name in sorted(found, key=len, reverse=True):
            self._names.setdefault(name, f"Person {len(self._names) + 1}")

    def clean(self, text: str) -> str:
        for name, alias in sorted(self._names.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(name, alias)
            # A surname alone ("Frau Berg") goes too.
            parts = name.split()
            if len(parts) > 1 and len(parts[-1]) > 2:
                text = re.sub(rf"\b{re.escape(parts[-1])}\b", alias, text)
        text = EMAIL.sub("person@example.com", text)
        return PHONE.sub("+49 30 0000000", text)


SYSTEM = (
    "You are Jarvis, the assistant of pix.immo for real-estate agents. Use the tools to look "
    "things up; changes are proposed and the user confirms them. Answer briefly in the user's "
    "language, without JSON or reasoning."
)


async def export_jsonl(
    conversations: Conversations, viewer: Identity, *, system: str = SYSTEM
) -> AsyncIterator[str]:
    """Admins export every organisation's good conversations; others are refused."""
    if not viewer.is_admin:
        raise Forbidden("only platform admins export training data")
    for conversation_id in await conversations.rated_good(None):
        yield await _line(conversations, conversation_id, system)


async def _line(conversations: Conversations, conversation_id: uuid.UUID, system: str) -> str:
    history = await conversations.history(conversation_id)
    anonymiser = Anonymiser()
    for message in history:
        if message.role == "tool":
            anonymiser.learn(message.content)
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    for turn in for_model(history):
        cleaned = dict(turn)
        if isinstance(cleaned.get("content"), str):
            cleaned["content"] = anonymiser.clean(cleaned["content"])
        if cleaned.get("tool_calls"):
            cleaned["tool_calls"] = [
                {
                    **call,
                    "function": {
                        **call["function"],
                        "arguments": anonymiser.clean(call["function"]["arguments"]),
                    },
                }
                for call in cleaned["tool_calls"]
            ]
        messages.append(cleaned)
    return json.dumps({"messages": messages}, ensure_ascii=False) + "\n"
