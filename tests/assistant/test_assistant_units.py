"""Pure parts: the history handed to the model, the answer filter, the intent parser."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

from pix_assistant.api import HEARTBEAT, with_heartbeats
from pix_assistant.listing_import import number
from pix_assistant.llm import AnswerFilter
from pix_assistant.platform import Caller
from pix_assistant.service import for_model, parse_intent
from pix_assistant.store import StoredMessage
from pix_runtime.identity import Identity, sign_identity, verify_identity


def _message(i: int, role: str, content: str = "", **kw: Any) -> StoredMessage:
    return StoredMessage(
        id=i,
        role=role,
        content=content,
        tool_calls=kw.get("tool_calls"),
        tool_call_id=kw.get("tool_call_id"),
    )


def _call(call_id: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": "get_lead", "arguments": "{}"}}


def test_the_model_never_gets_a_call_without_its_result_or_a_result_without_its_call() -> None:
    history = [
        _message(1, "tool", "{}", tool_call_id="folded"),  # its call was summarised away
        _message(2, "user", "Wer ist Anna?"),
        _message(3, "assistant", "Ich sehe nach.", tool_calls=[_call("a"), _call("b")]),
        _message(4, "tool", "{}", tool_call_id="a"),  # b never ran: the answer broke off
        _message(5, "user", "Und jetzt?"),
        _message(6, "assistant", "", tool_calls=[_call("c")]),
        _message(7, "tool", "{}", tool_call_id="c"),
        _message(8, "assistant", "Fertig."),
    ]

    messages = for_model(history)

    assert [(m["role"], m.get("tool_call_id"), bool(m.get("tool_calls"))) for m in messages] == [
        ("user", None, False),
        ("assistant", None, False),
        ("user", None, False),
        ("assistant", None, True),
        ("tool", "c", False),
        ("assistant", None, False),
    ]
    assert messages[1]["content"] == "Ich sehe nach."


def _filtered(*pieces: str) -> str:
    shown = AnswerFilter()
    return "".join(shown.feed(p) for p in pieces) + shown.finish()


def test_the_answer_filter_drops_reasoning_and_json_but_keeps_text() -> None:
    assert _filtered("<thi", "nk>geheim</th", "ink>Hallo ", "Welt") == "Hallo Welt"
    assert _filtered('  {"name": ', '"search_leads"}') == ""
    assert _filtered("```json\n[1, 2]\n```") == ""
    assert _filtered("{nicht json, ", "sondern Text}") == "{nicht json, sondern Text}"
    assert _filtered("Preis < 500.000 €") == "Preis < 500.000 €"
    assert _filtered("Text <think>kurz</think> weiter") == "Text  weiter"


def test_intents_are_read_from_the_router_answer() -> None:
    assert parse_intent("crm") == "crm"
    assert parse_intent(" Expose.") == "expose"
    assert parse_intent("Intent: memory") == "memory"
    assert parse_intent("keine Ahnung") == "multi"


def test_numbers_in_german_and_english_notation() -> None:
    assert number("450.000 €") == 450_000
    assert number("84,5 m²") == 84.5
    assert number("1.250,50") == 1250.5
    assert number("1,250.50") == 1250.5
    assert number("3.5") == 3.5
    assert number("1,200") == 1200
    assert number("k. A.") is None


async def test_a_quiet_answer_sends_heartbeats_until_the_next_event() -> None:
    release = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"first"
        await release.wait()
        yield b"second"

    stream = with_heartbeats(slow(), 0.01)
    assert await anext(stream) == b"first"
    assert await anext(stream) == HEARTBEAT
    release.set()
    rest = [chunk async for chunk in stream]
    assert rest[-1] == b"second"
    assert set(rest[:-1]) <= {HEARTBEAT}


def test_the_callers_identity_is_passed_on_as_it_came_and_renewed_only_near_its_end() -> None:
    key = b"k" * 32
    who = Identity(
        user_id=uuid.uuid4(), org_id=uuid.uuid4(), role="client", email="a@b.de", name="A"
    )
    fresh = sign_identity(who, key, ttl=60)
    assert Caller(verify_identity(fresh, key), fresh).header(key) == fresh
    ending = sign_identity(who, key, ttl=5)
    verified = verify_identity(ending, key)
    renewed = Caller(verified, ending).header(key)
    assert renewed != ending
    again = verify_identity(renewed, key)
    assert again.exp > verified.exp
    assert again.model_dump(exclude={"exp"}) == verified.model_dump(exclude={"exp"})
