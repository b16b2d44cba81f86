"""The chat: routed by intent, answered with tools over the real leads and listings APIs as the
user, streamed without JSON or tool internals, writes only after a yes, one organisation's
data never reaching another's assistant."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from assistant_helpers import MODEL, ROUTER, AssistantStack, person
from chat_fake import Round, tool_call
from pix_assistant.models import inbox, licences
from pix_contracts.billing import SubscriptionChanged
from pix_runtime.identity import Identity
from pix_runtime.licences import Licences


def _of(who: Identity) -> dict[str, str]:
    return {"org_id": str(who.org_id)}


QUESTION = "Welche neuen Leads für die Wohnung in der Lindenallee haben eine Finanzierung?"


def _tool_results(body: dict[str, Any]) -> list[Any]:
    return [
        json.loads(m["content"].split(" …(gekürzt)")[0])
        for m in body["messages"]
        if m["role"] == "tool"
    ]


def _leads_round(body: dict[str, Any]) -> Round:
    """Round 2: the model read the listing search's result and asks for its new, financed leads."""
    listings = _tool_results(body)[-1]
    linden = next(item for item in listings if "Lindenallee" in item["title"])
    return Round(
        calls=[
            tool_call("search_leads", listing_id=linden["id"], status="NEW", financing="confirmed")
        ]
    )


def _final_round(body: dict[str, Any]) -> Round:
    found = _tool_results(body)[-1]["leads"]
    names = ", ".join(lead["name"] for lead in found)
    return Round(
        text=f"Für die Wohnung in der Lindenallee haben {len(found)} neue Leads eine "
        f"bestätigte Finanzierung: {names}."
    )


async def test_new_financed_leads_of_a_listing_through_two_tool_rounds(
    stack: AssistantStack,
) -> None:
    agent = person()
    linden = await stack.listing(agent, title="Altbauwohnung Lindenallee", street="Lindenallee 5a")
    other = await stack.listing(
        agent, title="Neubau am Park", street="Parkstraße 9", postcode="10117"
    )
    anna = await stack.lead(agent, "Anna Berg", linden["id"], financing="confirmed")
    await stack.lead(agent, "Bernd Kurz", linden["id"], financing="none")
    clara = await stack.lead(agent, "Clara Lang", linden["id"], financing="confirmed")
    await stack.leads.post(
        f"/leads/{clara['id']}/status", json={"status": "CONTACTED"}, headers=stack.headers(agent)
    )
    await stack.lead(agent, "Dora Fink", other["id"], financing="confirmed")
    stack.chat.script(
        "neuen leads für die wohnung in der lindenallee",
        Round(calls=[tool_call("search_listings", query="Lindenallee")]),
        Round(make=_leads_round),
        Round(make=_final_round),
        intent="crm",
    )
    conversation = await stack.conversation(agent)
    before = len(stack.chat.chats)

    answer = await stack.ask(agent, conversation, QUESTION)

    assert [e["name"] for e in answer.of("tool_start")] == ["search_listings", "search_leads"]
    assert all(e["ok"] for e in answer.of("tool_end"))
    assert answer.of("done")[0]["intent"] == "crm"
    assert answer.of("done")[0]["rounds"] == 3
    assert "Anna Berg" in answer.text
    for other_name in ("Bernd Kurz", "Clara Lang", "Dora Fink"):
        assert other_name not in answer.text
    # What the model was given after the second round: exactly the new, financed lead.
    calls = stack.chat.chats[before:]
    assert [c["model"] for c in calls] == [ROUTER, MODEL, MODEL, MODEL]
    leads_result = _tool_results(calls[-1])[-1]
    assert [lead["id"] for lead in leads_result["leads"]] == [anna["id"]]
    # The router sees no tools; the answering model gets the crm subset, the new parameter name.
    assert "tools" not in calls[0]
    offered = {tool["function"]["name"] for tool in calls[1]["tools"]}
    assert {"search_leads", "search_listings", "change_lead_status"} <= offered
    assert "remember" not in offered
    assert "create_expose" not in offered
    assert all("max_completion_tokens" in c and "max_tokens" not in c for c in calls)
    schema = next(t for t in calls[1]["tools"] if t["function"]["name"] == "search_leads")
    assert schema["function"]["parameters"]["properties"]["financing"]["anyOf"][0]["enum"] == [
        "confirmed",
        "in_progress",
        "none",
        "unknown",
    ]
    # The conversation as the user reads it again: question and answer, no tool traffic.
    detail = (await stack.call(agent, "GET", f"/conversations/{conversation}")).json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
    assert "Anna Berg" in detail["messages"][1]["content"]
    trail = (await stack.call(agent, "GET", f"/conversations/{conversation}/audit")).json()
    assert [(e["kind"], e["name"]) for e in trail] == [
        ("tool_call", "search_listings"),
        ("tool_call", "search_leads"),
    ]


async def test_a_status_change_is_proposed_and_runs_only_after_the_yes(
    stack: AssistantStack,
) -> None:
    agent = person()
    lead = await stack.lead(agent, "Emil Sommer")
    stack.chat.script(
        "markiere emil sommer als kontaktiert",
        Round(
            text="Ich schlage vor, Emil Sommer als kontaktiert zu markieren.",
            calls=[tool_call("change_lead_status", lead_id=lead["id"], status="CONTACTED")],
        ),
        Round(text="Bitte bestätigen Sie die Änderung."),
    )
    conversation = await stack.conversation(agent)

    answer = await stack.ask(agent, conversation, "Markiere Emil Sommer als kontaktiert")

    [proposed] = answer.of("action")
    action = proposed["action"]
    assert action["status"] == "pending"
    assert action["kind"] == "change_lead_status"
    assert action["summary"] == "Status von Emil Sommer von NEW auf CONTACTED"
    assert await stack.lead_status(agent, lead["id"]) == "NEW"
    pending = (await stack.call(agent, "GET", f"/conversations/{conversation}")).json()["pending"]
    assert [p["id"] for p in pending] == [action["id"]]

    confirmed = await stack.call(agent, "POST", f"/actions/{action['id']}/confirm")

    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "done"
    assert await stack.lead_status(agent, lead["id"]) == "CONTACTED"
    # A status only moves forward: nothing to take back.
    undo = await stack.call(agent, "POST", f"/actions/{action['id']}/undo")
    assert undo.status_code == 409
    assert undo.json()["error"]["code"] == "not_undoable"
    again = await stack.call(agent, "POST", f"/actions/{action['id']}/confirm")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "decided"
    trail = (await stack.call(agent, "GET", f"/conversations/{conversation}/audit")).json()
    assert [e["kind"] for e in trail] == ["action_proposed", "tool_call", "action_confirmed"]
    messages = (await stack.call(agent, "GET", f"/conversations/{conversation}")).json()["messages"]
    assert messages[-1]["content"].startswith("✓ Status von Emil Sommer")


async def test_a_rejected_or_expired_proposal_changes_nothing(stack: AssistantStack) -> None:
    agent = person()
    first = await stack.lead(agent, "Frieda Winter")
    second = await stack.lead(agent, "Gustav Herbst")
    conversation = await stack.conversation(agent)
    for lead, phrase in ((first, "frieda winter verloren"), (second, "gustav herbst gebucht")):
        stack.chat.script(
            phrase,
            Round(calls=[tool_call("change_lead_status", lead_id=lead["id"], status="BOOKED")]),
            Round(text="Zur Bestätigung vorgelegt."),
        )
    rejected = (await stack.ask(agent, conversation, "Frieda Winter verloren")).of("action")[0]
    expiring = (await stack.ask(agent, conversation, "Gustav Herbst gebucht")).of("action")[0]

    response = await stack.call(agent, "POST", f"/actions/{rejected['action']['id']}/reject")
    assert response.json()["status"] == "rejected"
    stack.runtime.clock.advance(timedelta(hours=2))
    try:
        late = await stack.call(agent, "POST", f"/actions/{expiring['action']['id']}/confirm")
        assert late.status_code == 409
        assert late.json()["error"]["code"] == "expired"
        await stack.runtime.jobs.run_due()
        swept = await stack.call(agent, "GET", f"/actions/{expiring['action']['id']}")
        assert swept.json()["status"] == "expired"
    finally:
        stack.runtime.clock.advance(-timedelta(hours=2))
    assert await stack.lead_status(agent, first["id"]) == "NEW"
    assert await stack.lead_status(agent, second["id"]) == "NEW"


async def test_another_organisation_gets_nothing_through_the_assistant(
    stack: AssistantStack,
) -> None:
    owner = person()
    lead = await stack.lead(owner, "Hanna Vogel")
    listing = await stack.listing(owner, title="Villa Vogelsang", street="Vogelsang 3")
    stack.chat.script(
        "zeig mir hanna vogel",
        Round(calls=[tool_call("change_lead_status", lead_id=lead["id"], status="CONTACTED")]),
        Round(
            calls=[
                tool_call("get_lead", lead_id=lead["id"]),
                tool_call("search_leads", query="Hanna Vogel"),
                tool_call("search_listings", query="Vogelsang"),
                tool_call("get_listing", listing_id=listing["id"]),
            ]
        ),
        Round(text="Dazu finde ich nichts."),
    )
    owner_conversation = await stack.conversation(owner)
    own = await stack.ask(owner, owner_conversation, "Zeig mir Hanna Vogel")
    owners_action = own.of("action")[0]["action"]["id"]
    stranger = person()
    conversation = await stack.conversation(stranger)
    before = len(stack.chat.chats)

    answer = await stack.ask(stranger, conversation, "Zeig mir Hanna Vogel")

    # The proposal failed (the lead is not theirs), every read came back empty or not found.
    assert answer.of("action") == []
    ends = answer.of("tool_end")
    assert [e["ok"] for e in ends] == [False, False, True, True, False]
    assert len(stack.chat.chats) == before + 4
    results = [m["content"] for m in stack.chat.chats[-1]["messages"] if m["role"] == "tool"]
    seen = " ".join(results)
    assert "Hanna" not in seen
    assert "Vogel" not in seen
    assert lead["id"] not in seen
    assert seen.count('"error": "not_found"') == 3
    # Nor the other user's conversation, proposals or memory.
    assert (
        await stack.call(stranger, "GET", f"/conversations/{owner_conversation}")
    ).status_code == 404
    assert (
        await stack.call(stranger, "POST", f"/actions/{owners_action}/confirm")
    ).status_code == 404
    assert (await stack.call(stranger, "GET", "/conversations")).json() == [
        (await stack.call(stranger, "GET", f"/conversations/{conversation}")).json()["conversation"]
    ]
    assert await stack.lead_status(owner, lead["id"]) == "NEW"


async def test_streamed_text_carries_no_json_reasoning_or_tool_internals(
    stack: AssistantStack,
) -> None:
    agent = person()
    stack.chat.script(
        "was gibt es neues bei den anfragen",
        Round(
            text="<think>Ich rufe search_leads mit status NEW auf.</think>",
            calls=[tool_call("search_leads", status="NEW")],
        ),
        Round(text='{"leads": [], "count": 0}'),
    )
    stack.chat.script(
        "kurzer überblick bitte",
        Round(
            text="<think>erst nachdenken</think>Heute sind keine neuen Anfragen eingegangen, "
            "alles ist ruhig und es gibt nichts zu tun."
        ),
    )
    conversation = await stack.conversation(agent)

    leaked = await stack.ask(agent, conversation, "Was gibt es Neues bei den Anfragen?")
    plain = await stack.ask(agent, conversation, "Kurzer Überblick bitte")

    for answer in (leaked, plain):
        assert "{" not in answer.text
        assert "}" not in answer.text
        assert "<think>" not in answer.text
        assert "search_leads" not in answer.text
        assert "call_" not in answer.text
        assert "nachdenken" not in answer.text
        assert "tool_calls" not in answer.raw
        assert "arguments" not in answer.raw
    assert leaked.text == "Erledigt."
    assert plain.text.startswith("Heute sind keine neuen Anfragen")
    # Token by token, not one block at the end.
    assert len(plain.of("delta")) > 5
    assert [e["label"] for e in leaked.of("tool_start")] == ["Leads suchen"]


async def test_smalltalk_goes_to_the_cheap_model_without_tools(stack: AssistantStack) -> None:
    agent = person(locale="en")
    conversation = await stack.conversation(agent)
    before = len(stack.chat.chats)

    answer = await stack.ask(agent, conversation, "Hallo Jarvis, schönen Tag noch!")

    calls = stack.chat.chats[before:]
    assert [c["model"] for c in calls] == [ROUTER, ROUTER]
    assert calls[1]["stream"] is True
    assert "tools" not in calls[1]
    assert answer.text == stack.chat.default_text
    assert answer.of("done")[0]["intent"] == "smalltalk"


async def test_memory_is_kept_per_user_listed_and_deletable(stack: AssistantStack) -> None:
    agent = person()
    colleague = person(org_id=agent.org_id)
    stack.chat.script(
        "ich besichtigungen nur vormittags mache",
        Round(calls=[tool_call("remember", fact="Besichtigungen nur vormittags")]),
        Round(text="Gemerkt."),
        intent="memory",
    )
    conversation = await stack.conversation(agent)
    await stack.ask(agent, conversation, "Merke dir, dass ich Besichtigungen nur vormittags mache")

    memories = (await stack.call(agent, "GET", "/memories")).json()
    assert [m["fact"] for m in memories] == ["Besichtigungen nur vormittags"]
    assert (await stack.call(colleague, "GET", "/memories")).json() == []
    # Later answers know it (the system prompt carries it).
    stack.chat.route("wann kann ich besichtigen", "smalltalk")
    await stack.ask(agent, conversation, "Wann kann ich besichtigen?")
    assert "Besichtigungen nur vormittags" in stack.chat.chats[-1]["messages"][0]["content"]
    gone = await stack.call(colleague, "DELETE", f"/memories/{memories[0]['id']}")
    assert gone.status_code == 404
    deleted = await stack.call(agent, "DELETE", f"/memories/{memories[0]['id']}")
    assert deleted.status_code == 204
    assert (await stack.call(agent, "GET", "/memories")).json() == []


async def test_every_call_is_on_the_books_and_admins_see_cost_per_org_feature_day(
    stack: AssistantStack,
) -> None:
    agent = person()
    admin = person("admin")
    stack.chat.script("wie viele leads habe ich", Round(text="Sie haben einige Leads."))
    conversation = await stack.conversation(agent)
    await stack.ask(agent, conversation, "Wie viele Leads habe ich?")

    refused = await stack.call(agent, "GET", "/admin/costs")
    assert refused.status_code == 403
    rows = (
        await stack.call(admin, "GET", "/admin/costs", params={"org_id": str(agent.org_id)})
    ).json()
    by_feature = {row["feature"]: row for row in rows}
    assert set(by_feature) == {"router", "chat"}
    assert by_feature["chat"]["calls"] == 1
    assert by_feature["chat"]["tokens_in"] > 0
    assert by_feature["chat"]["cost_eur"] > 0
    calls = (
        await stack.call(admin, "GET", "/admin/calls", params={"org_id": str(agent.org_id)})
    ).json()
    assert {c["model"] for c in calls} == {MODEL, ROUTER}
    assert all(c["outcome"] == "ok" and c["user_id"] == str(agent.user_id) for c in calls)
    own = (await stack.call(agent, "GET", "/usage")).json()
    assert own["spent_eur"] == pytest.approx(sum(r["cost_eur"] for r in rows))


async def test_an_exhausted_budget_answers_without_calling_the_model(
    stack: AssistantStack,
) -> None:
    agent = person()
    admin = person("admin")
    budget = await stack.call(
        admin, "PUT", f"/admin/budgets/{agent.org_id}", {"monthly_eur": 0.0001}
    )
    assert budget.status_code == 200, budget.text
    stack.chat.script("erste frage des monats", Round(text="Gern beantwortet."))
    conversation = await stack.conversation(agent)
    first = await stack.ask(agent, conversation, "Erste Frage des Monats")
    assert first.text == "Gern beantwortet."
    before = len(stack.chat.chats)

    second = await stack.ask(agent, conversation, "Erste Frage des Monats, noch einmal")

    assert len(stack.chat.chats) == before
    assert "Budget" in second.text
    assert "aufgebraucht" in second.text
    calls = (
        await stack.call(admin, "GET", "/admin/calls", params={"org_id": str(agent.org_id)})
    ).json()
    assert calls[0]["outcome"] == "budget_exhausted"
    assert (await stack.call(agent, "GET", "/usage")).json()["monthly_eur"] == 0.0001
    # Other organisations go on.
    other = person()
    other_conversation = await stack.conversation(other)
    assert (await stack.ask(other, other_conversation, "Erste Frage des Monats")).text == (
        "Gern beantwortet."
    )


async def test_a_failing_model_is_logged_and_answered_plainly(stack: AssistantStack) -> None:
    agent = person()
    stack.chat.script("modell kaputt", Round(status=500))
    conversation = await stack.conversation(agent)

    answer = await stack.ask(agent, conversation, "Modell kaputt?")

    assert answer.of("error")[0]["code"] == "model_unavailable"
    admin = person("admin")
    calls = (
        await stack.call(admin, "GET", "/admin/calls", params={"org_id": str(agent.org_id)})
    ).json()
    assert calls[0]["outcome"] == "error"
    assert calls[0]["model"] == MODEL


async def test_unknown_conversation_and_bad_input(stack: AssistantStack) -> None:
    agent = person()
    missing = await stack.call(
        agent, "POST", f"/conversations/{uuid.uuid4()}/messages", {"text": "x"}
    )
    assert missing.status_code == 404
    conversation = await stack.conversation(agent)
    empty = await stack.call(agent, "POST", f"/conversations/{conversation}/messages", {"text": ""})
    assert empty.status_code == 422
    assert empty.json()["error"]["field"] == "text"
    unsigned = await stack.client.get("/conversations")
    assert unsigned.status_code == 401


async def test_a_tool_outside_the_routed_subset_is_refused_to_the_model(
    stack: AssistantStack,
) -> None:
    agent = person()
    stack.chat.script(
        "merk dir nebenbei meinen lieblingskaffee",
        Round(calls=[tool_call("remember", fact="Espresso"), tool_call("no_such_tool")]),
        Round(text="Das kann ich hier nicht."),
        intent="crm",
    )
    conversation = await stack.conversation(agent)

    answer = await stack.ask(agent, conversation, "Merk dir nebenbei meinen Lieblingskaffee")

    assert answer.of("tool_start") == []
    assert answer.text == "Das kann ich hier nicht."
    results = [m for m in stack.chat.chats[-1]["messages"] if m["role"] == "tool"]
    assert [json.loads(m["content"])["error"] for m in results] == ["unknown_tool"] * 2
    assert (await stack.call(agent, "GET", "/memories")).json() == []


async def test_orders_galleries_and_captions_through_their_services(stack: AssistantStack) -> None:
    agent = person()
    stranger_gallery = str(uuid.uuid4())
    stack.chat.script(
        "welche aufträge und galerien habe ich",
        Round(
            calls=[
                tool_call("list_orders"),
                tool_call("list_galleries"),
                tool_call("gallery_captions", gallery_id=stranger_gallery),
            ]
        ),
        Round(text="Noch keine Aufträge."),
        intent="expose",
    )
    conversation = await stack.conversation(agent)

    answer = await stack.ask(agent, conversation, "Welche Aufträge und Galerien habe ich?")

    assert [(e["name"], e["ok"]) for e in answer.of("tool_end")] == [
        ("list_orders", True),
        ("list_galleries", True),
        ("gallery_captions", False),
    ]
    results = [m["content"] for m in stack.chat.chats[-1]["messages"] if m["role"] == "tool"]
    assert results[:2] == ["[]", "[]"]
    assert json.loads(results[2])["status"] == 404


async def test_without_an_active_crm_licence_the_chat_refuses_new_work_but_reads(
    stack: AssistantStack,
) -> None:
    agent = person()
    conversation = await stack.conversation(agent)
    # Billing announces a failed renewal (what its consumer does with the event, done here).
    gate = Licences(
        stack.runtime.db,
        table=licences,
        inbox=inbox,
        consumer="assistant.licences",
        billing_url="http://pix.test/billing",
    )
    await gate.licence_changed(
        SubscriptionChanged(org_id=agent.org_id, status="past_due", plan="crm")
    )
    refused = await stack.call(
        agent, "POST", f"/conversations/{conversation}/messages", {"text": "Neue Leads?"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "licence_inactive"
    assert "/billing" in refused.json()["error"]["message"]
    assert (await stack.call(agent, "GET", "/conversations")).status_code == 200
    # Another organisation is not affected.
    other = person()
    assert (await stack.call(other, "POST", "/conversations", {})).status_code == 201
