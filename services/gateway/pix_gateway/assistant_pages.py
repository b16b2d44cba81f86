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


async def _api(
    ui: UI, me: Identity, method: str, path: str, json: object = None
) -> tuple[int, Any]:
    try:
        response = await ui.backend.call(method, "assistant", path, identity=me, json=json)
    except httpx.HTTPError:
        return 503, {}
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response.status_code, body


@router.get("/assistant", response_class=HTMLResponse)
async def assistant_page(request: Request) -> Response:
    ui = _ui(request)
    me = await ui.signed_in(request)
    locale = ui.locale(request, me)

    def at(key: str) -> str:
        return translate(f"assistant.{key}", locale)

    code, status = await _api(ui, me, "GET", "/status")
    context: dict[str, Any] = {
        "page": "assistant",
        "at": at,
        "texts": {key: at(key) for key in TEXT_KEYS},
        "reachable": code == 200,
        "model_status": status if code == 200 else {},
        "settings_help": SETTINGS_HELP,
        "conversations": [],
        "current": None,
        "messages": [],
        "pending": [],
    }
    if code == 200 and status.get("configured"):
        _, found = await _api(ui, me, "GET", "/conversations")
        conversations = found if isinstance(found, list) else []
        wanted = request.query_params.get("c") or (conversations[0]["id"] if conversations else "")
        if wanted:
            try:
                uuid.UUID(wanted)
            except ValueError as exc:
                raise PageError(404, "error.404") from exc
            got, detail = await _api(ui, me, "GET", f"/conversations/{wanted}")
            if got == 404:
                raise PageError(404, "error.404")
            if got == 200:
                context.update(
                    current=detail["conversation"],
                    messages=detail["messages"],
                    pending=detail["pending"],
                )
        context["conversations"] = conversations
    return ui.render(request, "assistant/chat.html", me, **context)


@router.post("/assistant/new")
async def new_conversation(request: Request) -> Response:
    ui = _ui(request)
    await ui.form_of(request)
    me = await ui.signed_in(request)
    code, created = await _api(ui, me, "POST", "/conversations", {})
    if code != 201:
        raise PageError(503, "error.503")
    return RedirectResponse(f"/assistant?c={created['id']}", status_code=303)


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

    code, rows = await _api(ui, me, "GET", "/admin/costs")
    _, calls = await _api(ui, me, "GET", "/admin/calls?limit=50")
    rows = rows if code == 200 and isinstance(rows, list) else []
    return ui.render(
        request,
        "assistant/costs.html",
        me,
        page="admin",
        at=at,
        reachable=code == 200,
        rows=rows,
        calls=calls if isinstance(calls, list) else [],
        total=sum(float(row["cost_eur"]) for row in rows),
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
    code, _ = await _api(ui, me, "PUT", f"/admin/budgets/{org_id}", {"monthly_eur": monthly})
    if code != 200:
        raise PageError(422 if code == 422 else 503, "error.title" if code == 422 else "error.503")
    return RedirectResponse("/assistant/costs?saved=1", status_code=303)
