"""HTTP routes of the assistant (the gateway proxies /api/assistant/*). Thin: take the caller
from the signed identity, call the domain, shape the answer; chat answers stream as
server-sent events (`event: <type>`, `data: <json>`)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pix_runtime.errors import Forbidden, Invalid, NotFound, TooLarge, Unavailable
from pix_runtime.http import CurrentIdentity, read_limited_body
from pix_runtime.identity import IDENTITY_HEADER
from pix_runtime.logging import get_logger
from pydantic import BaseModel, ConfigDict, Field

from pix_assistant.accounts import AuditEntry, Budget, CostRow, UsageEntry
from pix_assistant.actions import Action
from pix_assistant.finetune import export_jsonl
from pix_assistant.imports import IMPORT_LEADS, ImportPreview, preview
from pix_assistant.listing_import import IMPORT_LISTINGS
from pix_assistant.platform import Caller
from pix_assistant.service import AnswerFailed, Assistant, ChatEvent, Status
from pix_assistant.settings import AssistantSettings
from pix_assistant.staging import Staging, StagingDesk, Style
from pix_assistant.store import ChatMessage, Conversation, Memory

log = get_logger(__name__)


def _assistant(request: Request) -> Assistant:
    found: Assistant = request.app.state.assistant
    return found


def _settings(request: Request) -> AssistantSettings:
    found: AssistantSettings = request.app.state.settings
    return found


async def _caller(request: Request, identity: CurrentIdentity) -> Caller:
    return Caller(identity=identity, signed=request.headers[IDENTITY_HEADER])


AssistantDep = Annotated[Assistant, Depends(_assistant)]
SettingsDep = Annotated[AssistantSettings, Depends(_settings)]
CallerDep = Annotated[Caller, Depends(_caller)]

router = APIRouter()


class NewConversation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="", max_length=200)


class UserMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=8000)


class Rating(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: int = Field(ge=-1, le=1)


class NewMemory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fact: str = Field(min_length=1, max_length=500)


class BudgetChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    monthly_eur: float = Field(ge=0, le=1_000_000)


class ConversationDetail(BaseModel):
    conversation: Conversation
    messages: list[ChatMessage]
    pending: list[Action]


class ImportProposal(BaseModel):
    preview: ImportPreview
    action: Action


@router.get("/status")
async def status(assistant: AssistantDep, caller: CallerDep) -> Status:
    return assistant.status()


# --- conversations -----------------------------------------------------------------------------


@router.get("/conversations")
async def list_conversations(assistant: AssistantDep, caller: CallerDep) -> list[Conversation]:
    return await assistant.conversations.mine(caller)


@router.post("/conversations", status_code=201)
async def start_conversation(
    assistant: AssistantDep, caller: CallerDep, body: NewConversation
) -> Conversation:
    return await assistant.conversations.start(caller, body.title)


@router.get("/conversations/{conversation_id}")
async def get_conversation(
    assistant: AssistantDep, caller: CallerDep, conversation_id: uuid.UUID
) -> ConversationDetail:
    return ConversationDetail(
        conversation=await assistant.conversations.get(caller, conversation_id),
        messages=await assistant.conversations.transcript(caller, conversation_id),
        pending=await assistant.actions.pending(caller, conversation_id),
    )


@router.delete("/conversations/{conversation_id}", status_code=204)
async def delete_conversation(
    assistant: AssistantDep, caller: CallerDep, conversation_id: uuid.UUID
) -> Response:
    await assistant.conversations.delete(caller, conversation_id)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/rating")
async def rate_conversation(
    assistant: AssistantDep, caller: CallerDep, conversation_id: uuid.UUID, body: Rating
) -> Conversation:
    return await assistant.conversations.rate(caller, conversation_id, body.rating)


@router.get("/conversations/{conversation_id}/audit")
async def conversation_audit(
    assistant: AssistantDep, caller: CallerDep, conversation_id: uuid.UUID
) -> list[AuditEntry]:
    await assistant.conversations.get(caller, conversation_id)
    return await assistant.accounts.trail(conversation_id)


HEARTBEAT = b": still working\n\n"


async def with_heartbeats(events: AsyncIterator[bytes], seconds: float) -> AsyncIterator[bytes]:
    """The events, and an SSE comment whenever none came for `seconds`: a model thinking or a
    slow tool must not look like a dead connection to a proxy's read timeout (the gateway's
    is 30 s). Browsers ignore comments."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def produce() -> None:
        try:
            async for chunk in events:
                await queue.put(chunk)
        finally:
            await queue.put(None)

    producer = asyncio.create_task(produce())
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(queue.get(), seconds)
            except TimeoutError:
                yield HEARTBEAT
                continue
            if chunk is None:
                break
            yield chunk
        await producer
    finally:
        # The client went away: the answer stops with it.
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer


def _sse(event: ChatEvent) -> bytes:
    return f"event: {event.type}\ndata: {event.model_dump_json()}\n\n".encode()


@router.post(
    "/conversations/{conversation_id}/messages",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def send_message(
    request: Request,
    assistant: AssistantDep,
    caller: CallerDep,
    conversation_id: uuid.UUID,
    body: UserMessage,
) -> StreamingResponse:
    assistant.ready()
    await assistant.conversations.get(caller, conversation_id)

    async def events() -> AsyncIterator[bytes]:
        try:
            async for event in assistant.answer(caller, conversation_id, body.text):
                yield _sse(event)
        except Exception as exc:
            # The stream has begun: the error can only travel as an event.
            log.error("assistant.answer_failed", exc_info=exc)
            yield _sse(AnswerFailed(code="internal", message="internal error"))

    return StreamingResponse(
        with_heartbeats(events(), request.app.state.settings.heartbeat_seconds),
        media_type="text/event-stream",
        # No proxy may hold the stream back (nginx honours X-Accel-Buffering).
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


@router.post("/conversations/{conversation_id}/imports", status_code=201)
async def import_file(
    request: Request,
    assistant: AssistantDep,
    settings: SettingsDep,
    caller: CallerDep,
    conversation_id: uuid.UUID,
    filename: Annotated[str, Query(min_length=1, max_length=200)],
) -> ImportProposal:
    await assistant.conversations.get(caller, conversation_id)
    try:
        data = await read_limited_body(request, settings.import_max_bytes)
    except TooLarge as exc:
        raise TooLarge("too_large", exc.message, "file") from exc
    found = preview(filename, data, max_rows=settings.import_max_rows)
    if not found.count:
        raise Invalid("empty", "no row to import", "file")
    what = {"leads": ("Leads", "leads"), "listings": ("Objekte", "listings")}[found.kind]
    summary = (
        f"{found.count} {what[0]} aus {filename} importieren"
        if caller.identity.locale == "de"
        else f"Import {found.count} {what[1]} from {filename}"
    )
    arguments = (
        {"rows": [row.model_dump(mode="json") for row in found.rows]}
        if found.kind == "leads"
        else {"listings": [row.model_dump(mode="json") for row in found.listings]}
    )
    kind = IMPORT_LEADS if found.kind == "leads" else IMPORT_LISTINGS
    action = await assistant.actions.propose(caller, conversation_id, kind, summary, arguments)
    return ImportProposal(preview=found, action=action)


class StagingOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    listing_id: uuid.UUID
    media_id: uuid.UUID
    style: Style = "modern"


def _stagings(request: Request) -> StagingDesk:
    found: StagingDesk | None = request.app.state.stagings
    if found is None:
        raise Unavailable(
            "not_configured", "virtual staging is off: set PIX_ASSISTANT_STAGING_PROVIDER"
        )
    return found


StagingsDep = Annotated[StagingDesk, Depends(_stagings)]


@router.post("/staging", status_code=202)
async def stage_photo(stagings: StagingsDep, caller: CallerDep, body: StagingOrder) -> Staging:
    """Furnish a listing's empty room photo (the pages' "Virtuell einrichten"): the photo is
    checked now, the image model runs in a job; poll GET /staging/{id} for the result."""
    return await stagings.request(caller, body.listing_id, body.media_id, body.style)


@router.get("/staging/{staging_id}")
async def get_staging(stagings: StagingsDep, caller: CallerDep, staging_id: uuid.UUID) -> Staging:
    return await stagings.get(caller, staging_id)


# --- proposed actions --------------------------------------------------------------------------


@router.get("/actions/{action_id}")
async def get_action(assistant: AssistantDep, caller: CallerDep, action_id: uuid.UUID) -> Action:
    return await assistant.actions.get(caller, action_id)


@router.post("/actions/{action_id}/confirm")
async def confirm_action(
    assistant: AssistantDep, caller: CallerDep, action_id: uuid.UUID
) -> Action:
    return await assistant.actions.confirm(caller, action_id)


@router.post("/actions/{action_id}/undo")
async def undo_action(assistant: AssistantDep, caller: CallerDep, action_id: uuid.UUID) -> Action:
    return await assistant.actions.undo(caller, action_id)


@router.post("/actions/{action_id}/reject")
async def reject_action(assistant: AssistantDep, caller: CallerDep, action_id: uuid.UUID) -> Action:
    return await assistant.actions.reject(caller, action_id)


# --- memory ------------------------------------------------------------------------------------


@router.get("/memories")
async def list_memories(assistant: AssistantDep, caller: CallerDep) -> list[Memory]:
    return await assistant.memory.mine(caller)


@router.post("/memories", status_code=201)
async def add_memory(assistant: AssistantDep, caller: CallerDep, body: NewMemory) -> list[Memory]:
    await assistant.memory.remember(caller, body.fact)
    return await assistant.memory.mine(caller)


@router.delete("/memories/{memory_id}", status_code=204)
async def forget_memory(
    assistant: AssistantDep, caller: CallerDep, memory_id: uuid.UUID
) -> Response:
    if not await assistant.memory.forget(caller, memory_id):
        raise NotFound("memory")
    return Response(status_code=204)


# --- accounts ----------------------------------------------------------------------------------


@router.get("/usage")
async def own_budget(assistant: AssistantDep, caller: CallerDep) -> Budget:
    return await assistant.accounts.budget(caller.identity.org_id)


@router.get("/admin/costs")
async def costs(
    assistant: AssistantDep,
    caller: CallerDep,
    since: date | None = None,
    org_id: uuid.UUID | None = None,
) -> list[CostRow]:
    return await assistant.accounts.costs(caller.identity, since=since, org_id=org_id)


@router.get("/admin/calls")
async def model_calls(
    assistant: AssistantDep,
    caller: CallerDep,
    org_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[UsageEntry]:
    return await assistant.accounts.calls(caller.identity, org_id=org_id, limit=limit)


@router.put("/admin/budgets/{org_id}")
async def set_budget(
    assistant: AssistantDep, caller: CallerDep, org_id: uuid.UUID, body: BudgetChange
) -> Budget:
    return await assistant.accounts.set_budget(caller.identity, org_id, body.monthly_eur)


@router.get("/admin/finetune.jsonl", response_class=StreamingResponse)
async def finetune_export(assistant: AssistantDep, caller: CallerDep) -> StreamingResponse:
    if not caller.identity.is_admin:
        raise Forbidden("only platform admins export training data")
    lines: Any = export_jsonl(assistant.conversations, caller.identity)
    return StreamingResponse(
        lines,
        media_type="application/jsonl",
        headers={"content-disposition": 'attachment; filename="assistant-finetune.jsonl"'},
    )
