"""The assistant's page ("Assistent"): conversations, the chat with answers streaming in (the
browser reads `/api/assistant/.../messages` as server-sent events through the proxy), live tool
tags, confirm/reject buttons for proposed changes, a file drop for lead imports. Without a
model configured the page names the settings to set, and nothing else depends on it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.clients.assistant import AssistantClient
from pix_gateway.clients.assistant_models import CostRow, Status
from pix_gateway.clients.base import NotFound, ServiceError, part
from pix_gateway.i18n import translate
from pix_gateway.pages import UI, PageError

# The pages' texts are assistant.<key> in the gateway's catalogues (locale/*/messages.po);
# the chat's script gets these as data-t-<key> attributes.
TEXT_KEYS = (
    "title",
    "lead",
    "conversations",
    "new",
    "none",
    "placeholder",
    "send",
    "confirm",
    "reject",
    "undo",
    "undone",
    "pending",
    "done",
    "failed",
    "rejected",
    "expired",
    "import",
    "import_rows",
    "good",
    "bad",
    "error",
    "unavailable",
    "costs",
    "costs_lead",
    "day",
    "organisation",
    "feature",
    "calls",
    "tokens",
    "cost",
    "errors",
    "total",
    "recent",
    "model",
    "latency",
    "outcome",
    "budget",
    "budget_eur",
    "save",
    "saved",
    "off_title",
    "off_text",
    "off_hint",
)
SETTINGS_HELP = {
    "PIX_ASSISTANT_MODEL": "gpt-5.2, mistral-large-latest, …",
    "PIX_ASSISTANT_API_KEY": "sk-… (oder/or OPENAI_API_KEY)",
    "PIX_ASSISTANT_BASE_URL": (
        "https://api.mistral.ai/v1, https://<resource>.openai.azure.com/openai/v1, …"
    ),
    "PIX_ASSISTANT_ROUTER_MODEL": "gpt-5-mini, mistral-small-latest, …",
}

router = APIRouter()


def _ui(request: Request) -> UI:
    ui: UI = request.app.state.ui
    return ui


def _assistant(ui: UI, me: Identity) -> AssistantClient:
    return AssistantClient(ui.backend, me)


@router.get("/assistant", response_class=HTMLResponse)
async def assistant_page(request: Request) -> Response:
    ui = _ui(request)
    me = await ui.signed_in(request)
    locale = ui.locale(request, me)

    def at(key: str) -> str:
        return translate(f"assistant.{key}", locale)

    assistant = _assistant(ui, me)
    try:
        status: Status | None = await assistant.status()
    except (httpx.HTTPError, ServiceError):
        status = None
    context: dict[str, Any] = {
        "page": "assistant",
        "at": at,
        "texts": {key: at(key) for key in TEXT_KEYS},
        "reachable": status is not None,
        "model_status": status or {},
        "settings_help": SETTINGS_HELP,
        "conversations": [],
        "current": None,
        "messages": [],
        "pending": [],
    }
    if status is not None and status.configured:
        conversations = await part(assistant.conversations(), [])
        wanted = request.query_params.get("c") or (conversations[0].id if conversations else "")
        if wanted:
            try:
                uuid.UUID(wanted)
            except ValueError as exc:
                raise PageError(404, "error.404") from exc
            try:
                detail = await assistant.conversation(wanted)
            except NotFound as exc:
                raise PageError(404, "error.404") from exc
            except (httpx.HTTPError, ServiceError):
                detail = None
            if detail is not None:
                context.update(
                    current=detail.conversation,
                    messages=detail.messages,
                    pending=detail.pending,
                )
        context["conversations"] = conversations
    return ui.render(request, "assistant/chat.html", me, **context)


@router.post("/assistant/new")
async def new_conversation(request: Request) -> Response:
    ui = _ui(request)
    await ui.form_of(request)
    me = await ui.signed_in(request)
    try:
        created = await _assistant(ui, me).new_conversation()
    except (httpx.HTTPError, ServiceError) as exc:
        raise PageError(503, "error.503") from exc
    return RedirectResponse(f"/assistant?c={created.id}", status_code=303)


@router.get("/assistant/costs", response_class=HTMLResponse)
async def costs_page(request: Request) -> Response:
    """Admins: what the assistant's model calls cost, per organisation, feature and day."""
    ui = _ui(request)
    me = await ui.signed_in(request)
    if not me.is_admin:
        raise PageError(404, "error.404")
    locale = ui.locale(request, me)

    def at(key: str) -> str:
        return translate(f"assistant.{key}", locale)

    assistant = _assistant(ui, me)
    try:
        rows: list[CostRow] | None = await assistant.costs()
    except (httpx.HTTPError, ServiceError):
        rows = None
    calls = await part(assistant.calls(limit=50), [])
    return ui.render(
        request,
        "assistant/costs.html",
        me,
        page="admin",
        at=at,
        reachable=rows is not None,
        rows=rows or [],
        calls=calls,
        total=sum(row.cost_eur for row in rows or []),
        saved=request.query_params.get("saved") == "1",
    )


@router.post("/assistant/costs/budget")
async def set_budget(request: Request) -> Response:
    ui = _ui(request)
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    if not me.is_admin:
        raise PageError(404, "error.404")
    try:
        org_id = uuid.UUID(form.get("org_id", "").strip())
        monthly = float(form.get("monthly_eur", "").replace(",", "."))
    except ValueError as exc:
        raise PageError(422, "error.title") from exc
    try:
        await _assistant(ui, me).set_budget(str(org_id), monthly)
    except ServiceError as refusal:
        if refusal.status == 422:
            raise PageError(422, "error.title") from refusal
        raise PageError(503, "error.503") from refusal
    except httpx.HTTPError as exc:
        raise PageError(503, "error.503") from exc
    return RedirectResponse("/assistant/costs?saved=1", status_code=303)
