"""Pure parts: the history handed to the model, the answer filter, the intent parser."""

from __future__ import annotations

from typing import Any

from pix_assistant.listing_import import number
from pix_assistant.llm import AnswerFilter
from pix_assistant.service import for_model, parse_intent
from pix_assistant.store import StoredMessage


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
