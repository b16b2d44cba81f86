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

from pix_gateway.pages import UI, PageError

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("Assistent", "Assistant"),
    "lead": (
        "Fragen Sie nach Anfragen, Objekten und Exposés. Änderungen schlägt der Assistent vor; "
        "ausgeführt wird erst nach Ihrer Bestätigung.",
        "Ask about leads, listings and exposés. The assistant proposes changes; nothing runs "
        "until you confirm.",
    ),
    "conversations": ("Unterhaltungen", "Conversations"),
    "new": ("Neue Unterhaltung", "New conversation"),
    "none": ("Noch keine Unterhaltung.", "No conversation yet."),
    "placeholder": (
        "z. B. Welche neuen Leads für die Wohnung in der Lindenallee haben eine Finanzierung?",
        "e.g. Which new leads for the flat in Lindenallee have financing?",
    ),
    "send": ("Senden", "Send"),
    "confirm": ("Bestätigen", "Confirm"),
    "reject": ("Ablehnen", "Reject"),
    "undo": ("Rückgängig", "Undo"),
    "undone": ("Rückgängig gemacht", "Undone"),
    "pending": ("Wartet auf Ihre Bestätigung", "Awaiting your confirmation"),
    "done": ("Ausgeführt", "Done"),
    "failed": ("Fehlgeschlagen", "Failed"),
    "rejected": ("Abgelehnt", "Rejected"),
    "expired": ("Abgelaufen", "Expired"),
    "import": ("Leads oder Objekte aus CSV/Excel", "Leads or listings from CSV/Excel"),
    "import_rows": ("Zeilen erkannt", "rows recognised"),
    "good": ("Hilfreich", "Helpful"),
    "bad": ("Nicht hilfreich", "Not helpful"),
    "error": (
        "Das hat nicht geklappt. Bitte erneut versuchen.",
        "That did not work. Please retry.",
    ),
    "unavailable": (
        "Der Assistent ist gerade nicht erreichbar.",
        "The assistant is not reachable right now.",
    ),
    "costs": ("KI-Kosten", "AI costs"),
    "costs_lead": (
        "Jeder Modellaufruf des Assistenten mit Tokens, Kosten und Ergebnis, je Organisation, "
        "Funktion und Tag.",
        "Every model call of the assistant with tokens, cost and outcome, per organisation, "
        "feature and day.",
    ),
    "day": ("Tag", "Day"),
    "organisation": ("Organisation", "Organisation"),
    "feature": ("Funktion", "Feature"),
    "calls": ("Aufrufe", "Calls"),
    "tokens": ("Tokens ein/aus", "Tokens in/out"),
    "cost": ("Kosten", "Cost"),
    "errors": ("Fehler", "Errors"),
    "total": ("Summe", "Total"),
    "recent": ("Letzte Aufrufe", "Recent calls"),
    "model": ("Modell", "Model"),
    "latency": ("Dauer", "Latency"),
    "outcome": ("Ergebnis", "Outcome"),
    "budget": ("Monatsbudget setzen", "Set a monthly budget"),
    "budget_eur": ("Budget (€ je Monat)", "Budget (€ per month)"),
    "save": ("Speichern", "Save"),
    "saved": ("Gespeichert.", "Saved."),
    "off_title": ("Der Assistent ist nicht eingerichtet", "The assistant is not set up"),
    "off_text": (
        "Es ist kein Sprachmodell konfiguriert. Setzen Sie für den Dienst assistant:",
        "No language model is configured. Set for the assistant service:",
    ),
    "off_hint": (
        "Jeder OpenAI-kompatible Anbieter funktioniert, auch EU-gehostete. Anleitung: "
        "README, Abschnitt „Assistant“.",
        "Any OpenAI-compatible provider works, EU-hosted ones included. See the README, "
        "section “Assistant”.",
    ),
}
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
        de, en = TEXTS[key]
        return de if locale == "de" else en

    code, status = await _api(ui, me, "GET", "/status")
    context: dict[str, Any] = {
        "page": "assistant",
        "at": at,
        "texts": {key: at(key) for key in TEXTS},
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
        de, en = TEXTS[key]
        return de if locale == "de" else en

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
