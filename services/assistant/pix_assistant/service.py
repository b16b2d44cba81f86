"""The assistant's chat: route the message, answer it with tools over the platform's APIs, and
hand on what happens as typed events (text deltas, tools starting and ending, proposed actions).

Knows nothing of HTTP: the API turns the events into server-sent events.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any, Literal

from openai import APIError
from pix_runtime.clock import Clock
from pix_runtime.errors import Unavailable
from pix_runtime.logging import get_logger
from pydantic import BaseModel, ValidationError

from pix_assistant.accounts import Accounts, ModelCall, Outcome
from pix_assistant.actions import Action, ActionDesk
from pix_assistant.llm import AnswerFilter, ModelClient, RoundResult, ToolCallRequest
from pix_assistant.platform import Caller, PlatformApis, ServiceError
from pix_assistant.settings import AssistantSettings
from pix_assistant.staging import Stager
from pix_assistant.store import Conversations, MemoryStore, StoredMessage
from pix_assistant.tools import (
    BY_NAME,
    INTENTS,
    Intent,
    Read,
    Tool,
    ToolContext,
    Write,
    result_text,
    tools_for,
)

log = get_logger(__name__)


class TextDelta(BaseModel):
    type: Literal["delta"] = "delta"
    text: str


class ToolStarted(BaseModel):
    type: Literal["tool_start"] = "tool_start"
    call_id: str
    name: str
    label: str


class ToolFinished(BaseModel):
    type: Literal["tool_end"] = "tool_end"
    call_id: str
    name: str
    label: str
    ok: bool


class ActionProposed(BaseModel):
    type: Literal["action"] = "action"
    action: Action


class AnswerFailed(BaseModel):
    type: Literal["error"] = "error"
    code: str
    message: str


class AnswerDone(BaseModel):
    type: Literal["done"] = "done"
    intent: str
    rounds: int


ChatEvent = TextDelta | ToolStarted | ToolFinished | ActionProposed | AnswerFailed | AnswerDone


class Status(BaseModel):
    configured: bool
    model: str | None
    router_model: str | None
    base_url: str | None
    missing: list[str]
    # Virtual staging has its own image model (PIX_ASSISTANT_STAGING_PROVIDER and friends).
    staging: bool = False
    staging_model: str | None = None


WORDS = {
    "de": {
        "budget": "Das monatliche KI-Budget Ihrer Organisation ({spent:.2f} € von {limit:.2f} €) "
        "ist aufgebraucht. Bitte wenden Sie sich an die Verwaltung; bis dahin antworte ich nicht.",
        "model_error": "Das Sprachmodell ist gerade nicht erreichbar. Bitte versuchen Sie es "
        "gleich noch einmal.",
        "rounds": "Ich habe nach {rounds} Schritten aufgehört, ohne fertig zu werden. Bitte "
        "stellen Sie die Frage enger.",
        "empty": "Erledigt.",
    },
    "en": {
        "budget": "Your organisation's monthly AI budget ({spent:.2f} € of {limit:.2f} €) is "
        "used up. Please contact your administrator; until then I cannot answer.",
        "model_error": "The language model is not reachable right now. Please try again in a "
        "moment.",
        "rounds": "I stopped after {rounds} steps without finishing. Please narrow the question.",
        "empty": "Done.",
    },
}

ROUTER_PROMPT = (
    "Classify the intent of the user's last message for a real-estate CRM assistant. Answer "
    "with exactly one word: smalltalk (greetings, thanks, chit-chat, general questions), crm "
    "(leads, listings, matching, statuses), email (reading or drafting messages to leads), "
    "calendar (appointments, viewings), expose (exposés, photos, captions, galleries, orders), "
    "memory (remember, forget, what do you know about me), multi (several of these)."
)


def system_prompt(
    caller: Caller, today: date, facts: list[str], summary: str, *, tools: bool
) -> str:
    who = caller.identity
    lines = [
        f"You are Jarvis, the assistant of pix.immo for the real-estate agent {who.name}.",
        f"Answer in {'German' if who.locale == 'de' else 'English'} unless the user writes "
        "in another language; be brief and concrete.",
        f"Today is {today.isoformat()}.",
        "Never show JSON, tool names, ids or your reasoning in the answer; write plain sentences "
        "and short lists.",
    ]
    if tools:
        lines += [
            "Use the tools to look things up; never invent leads, listings or ids.",
            "Tools that change data (status, exposé, captions) only propose the change: the "
            "user confirms it with a button in the chat. Say briefly that it awaits their yes.",
            "Calendar and mailbox are not connected yet: say so when asked to book or send.",
        ]
    if facts:
        lines.append("What the user asked you to remember: " + "; ".join(facts))
    if summary:
        lines.append("Summary of the conversation so far: " + summary)
    return "\n".join(lines)


def parse_intent(text: str) -> Intent:
    lowered = text.strip().lower()
    for intent in INTENTS:
        if lowered.startswith(intent):
            return intent
    return next((intent for intent in INTENTS if intent in lowered), "multi")


class Assistant:
    def __init__(
        self,
        settings: AssistantSettings,
        model: ModelClient | None,
        apis: PlatformApis,
        conversations: Conversations,
        memory: MemoryStore,
        actions: ActionDesk,
        accounts: Accounts,
        *,
        clock: Clock,
        stager: Stager | None = None,
    ) -> None:
        self._settings = settings
        self.stager = stager
        self._model = model
        self._apis = apis
        self.conversations = conversations
        self.memory = memory
        self.actions = actions
        self.accounts = accounts
        self._clock = clock

    def status(self) -> Status:
        settings = self._settings
        missing = [] if settings.model else ["PIX_ASSISTANT_MODEL"]
        if settings.api_key is None and settings.base_url is None:
            missing.append("PIX_ASSISTANT_API_KEY")
        return Status(
            configured=self._model is not None,
            model=settings.model,
            router_model=settings.effective_router_model or None,
            base_url=settings.base_url,
            missing=missing,
            staging=self.stager is not None,
            staging_model=self.stager.editor.model if self.stager else None,
        )

    def ready(self) -> ModelClient:
        if self._model is None:
            raise Unavailable(
                "not_configured",
                "the assistant has no model: set PIX_ASSISTANT_MODEL (and PIX_ASSISTANT_BASE_URL, "
                "PIX_ASSISTANT_API_KEY for your provider)",
            )
        return self._model

    # --- one model call, on the books -------------------------------------------------------

    async def _book(
        self,
        caller: Caller,
        conversation_id: uuid.UUID | None,
        feature: str,
        model: str,
        result: RoundResult,
        outcome: Outcome,
        error: str | None = None,
    ) -> None:
        who = caller.identity
        await self.accounts.record(
            ModelCall(
                org_id=who.org_id,
                user_id=who.user_id,
                conversation_id=conversation_id,
                feature=feature,
                model=model,
                tokens_in=result.tokens_in,
                tokens_out=result.tokens_out,
                latency_ms=result.latency_ms,
                outcome=outcome,
                error=error,
            )
        )

    async def _over_budget(self, caller: Caller, conversation_id: uuid.UUID) -> str | None:
        budget = await self.accounts.budget(caller.identity.org_id)
        if not budget.exhausted:
            return None
        await self._book(
            caller, conversation_id, "chat", "", RoundResult(), "budget_exhausted", None
        )
        words = WORDS[caller.identity.locale]
        return words["budget"].format(spent=budget.spent_eur, limit=budget.monthly_eur)

    # --- the answer ---------------------------------------------------------------------------

    async def answer(
        self, caller: Caller, conversation_id: uuid.UUID, text: str
    ) -> AsyncIterator[ChatEvent]:
        """Answer `text` in the conversation (the caller's own: checked before this is called)."""
        model = self.ready()
        words = WORDS[caller.identity.locale]
        await self.conversations.append(caller, conversation_id, "user", text)
        # Checked once an answer: an answer begun within the budget is finished.
        refusal = await self._over_budget(caller, conversation_id)
        if refusal is not None:
            await self.conversations.append(caller, conversation_id, "assistant", refusal)
            yield TextDelta(text=refusal)
            yield AnswerDone(intent="none", rounds=0)
            return
        try:
            await self._summarise_if_long(model, caller, conversation_id)
            intent = await self._route(model, caller, conversation_id, text)
        except APIError as exc:
            yield AnswerFailed(code="model_unavailable", message=words["model_error"])
            log.warning("assistant.model_failed", error=str(exc)[:200])
            return
        facts = [fact for _, fact in await self.memory.facts(caller)]
        summary = (await self.conversations.get(caller, conversation_id)).summary
        staging = self.stager is not None
        tools = [] if intent == "smalltalk" else tools_for(intent, staging=staging)
        prompt = system_prompt(caller, self._clock.now().date(), facts, summary, tools=bool(tools))
        chosen_model = (
            self._settings.effective_router_model if intent == "smalltalk" else self._settings.model
        )
        assert chosen_model
        feature = "chat.smalltalk" if intent == "smalltalk" else "chat"
        schemas = [tool.schema() for tool in tools]
        rounds = 0
        while rounds < self._settings.max_rounds:
            rounds += 1
            upto = await self.conversations.summarised_upto(conversation_id)
            history = await self.conversations.history(conversation_id, after=upto)
            messages = [{"role": "system", "content": prompt}, *for_model(history)]
            result = RoundResult()
            shown = AnswerFilter()
            said: list[str] = []
            try:
                async for piece in model.stream(chosen_model, messages, schemas or None, result):
                    visible = shown.feed(piece.text)
                    if visible:
                        said.append(visible)
                        yield TextDelta(text=visible)
            except APIError as exc:
                await self._book(
                    caller, conversation_id, feature, chosen_model, result, "error", str(exc)
                )
                yield AnswerFailed(code="model_unavailable", message=words["model_error"])
                return
            tail = shown.finish()
            if tail:
                said.append(tail)
                yield TextDelta(text=tail)
            await self._book(caller, conversation_id, feature, chosen_model, result, "ok")
            spoken = "".join(said).strip()
            # Without tools on offer (smalltalk) a call is ignored; a call of a tool outside the
            # offered subset gets an error result, so the model can choose again.
            calls = result.calls if tools else []
            if not calls:
                if not spoken:
                    spoken = words["empty"]
                    yield TextDelta(text=spoken)
                await self.conversations.append(caller, conversation_id, "assistant", spoken)
                yield AnswerDone(intent=intent, rounds=rounds)
                return
            await self.conversations.append(
                caller,
                conversation_id,
                "assistant",
                spoken,
                tool_calls=[call.as_message() for call in calls],
            )
            offered = {tool.name for tool in tools}
            for call in calls:
                if call.name not in offered:
                    await self.conversations.append(
                        caller,
                        conversation_id,
                        "tool",
                        result_text({"error": "unknown_tool", "offered": sorted(offered)}),
                        tool_call_id=call.id,
                    )
                    continue
                async for event in self._run_tool(caller, conversation_id, call):
                    yield event
        else:
            stopped = words["rounds"].format(rounds=rounds)
            await self.conversations.append(caller, conversation_id, "assistant", stopped)
            yield TextDelta(text=stopped)
        yield AnswerDone(intent=intent, rounds=rounds)

    async def _run_tool(
        self, caller: Caller, conversation_id: uuid.UUID, call: ToolCallRequest
    ) -> AsyncIterator[ChatEvent]:
        tool: Tool = BY_NAME[call.name]
        label = tool.label(caller.identity.locale)
        yield ToolStarted(call_id=call.id, name=tool.name, label=label)
        context = ToolContext(self._apis, caller, self.memory, caller.identity.locale, self.stager)
        outcome: Any
        ok = True
        try:
            arguments = tool.arguments.model_validate(json.loads(call.arguments or "{}"))
            if isinstance(tool, Write):
                proposal = await tool.propose(context, arguments)
                action = await self.actions.propose(
                    caller, conversation_id, tool.name, proposal.summary, proposal.arguments
                )
                yield ActionProposed(action=action)
                outcome = {
                    "proposed": True,
                    "action_id": str(action.id),
                    "summary": proposal.summary,
                    "note": "Not done yet: it runs when the user confirms it in the chat.",
                }
            else:
                assert isinstance(tool, Read)
                outcome = await tool.run(context, arguments)
        except (ValueError, ValidationError) as exc:
            ok = False
            outcome = {"error": "invalid_arguments", "message": str(exc)[:500]}
        except ServiceError as exc:
            ok = False
            outcome = {"error": exc.code, "message": exc.message, "status": exc.status}
        await self.accounts.audit(
            caller.identity,
            conversation_id,
            "tool_call",
            tool.name,
            {"arguments": call.arguments[:2000], "ok": ok},
        )
        await self.conversations.append(
            caller, conversation_id, "tool", result_text(outcome), tool_call_id=call.id
        )
        yield ToolFinished(call_id=call.id, name=tool.name, label=label, ok=ok)

    async def _route(
        self, model: ModelClient, caller: Caller, conversation_id: uuid.UUID, text: str
    ) -> Intent:
        router = self._settings.effective_router_model
        messages = [
            {"role": "system", "content": ROUTER_PROMPT},
            {"role": "user", "content": text[:4000]},
        ]
        try:
            result = await model.complete(router, messages, max_tokens=16)
        except APIError as exc:
            await self._book(
                caller, conversation_id, "router", router, RoundResult(), "error", str(exc)
            )
            raise
        await self._book(caller, conversation_id, "router", router, result, "ok")
        return parse_intent(result.text)

    async def _summarise_if_long(
        self, model: ModelClient, caller: Caller, conversation_id: uuid.UUID
    ) -> None:
        upto = await self.conversations.summarised_upto(conversation_id)
        history = await self.conversations.history(conversation_id, after=upto)
        if len(history) <= self._settings.summarise_after:
            return
        cut = len(history) - self._settings.keep_recent
        # The kept part starts with a user turn, so no tool result loses its call.
        while cut > 0 and history[cut].role != "user":
            cut -= 1
        if cut <= 0:
            return
        folded = history[:cut]
        summary = (await self.conversations.get(caller, conversation_id)).summary
        transcript = "\n".join(
            f"{message.role}: {message.content[:1500]}" for message in folded if message.content
        )
        messages = [
            {
                "role": "system",
                "content": "Summarise this conversation between a real-estate agent and their "
                "assistant in at most eight sentences. Keep names, ids, numbers and decisions.",
            },
            {"role": "user", "content": f"Earlier summary: {summary}\n\n{transcript}"},
        ]
        main = self._settings.model or ""
        try:
            result = await model.complete(main, messages, max_tokens=600)
        except APIError as exc:
            await self._book(
                caller, conversation_id, "summary", main, RoundResult(), "error", str(exc)
            )
            raise
        await self._book(caller, conversation_id, "summary", main, result, "ok")
        await self.conversations.fold(conversation_id, result.text.strip(), folded[-1].id)


def for_model(history: list[StoredMessage]) -> list[dict[str, Any]]:
    """The history as the model takes it. The API refuses a tool call without its result and
    a result without its call: a result whose call fell out (summarised) is dropped, and an
    answer cut off between its calls and their results (a failed model or tool, a restart)
    keeps only its text."""
    answered = {m.tool_call_id for m in history if m.role == "tool" and m.tool_call_id}
    messages: list[dict[str, Any]] = []
    open_calls: set[str] = set()
    for message in history:
        if message.role == "tool":
            if message.tool_call_id not in open_calls:
                continue
            open_calls.discard(message.tool_call_id)
        elif message.tool_calls:
            calls = {call["id"] for call in message.tool_calls}
            if not calls <= answered:
                if message.content:
                    messages.append({"role": "assistant", "content": message.content})
                open_calls = set()
                continue
            open_calls = calls
        messages.append(message.for_model())
    return messages
