"""Lead pages: the inbox (new first, filters, search, score badge with its reasons), a lead's
page (timeline, reply box, status buttons, notes, planned follow-ups) and the intake settings
(the address portals forward to, the website snippet). Names and contact data come from the
leads API; events never carry them."""

import uuid
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.pages import UI, PageError, PageUI

STATUSES = ("NEW", "CONTACTED", "CONVERSATION", "BOOKED", "LOST")
SOURCES = ("immoscout24", "immowelt", "kleinanzeigen", "willhaben", "website", "email", "manual")
FILTERS = ("status", "source", "listing_id", "min_score", "assignee", "needs_review", "q")
NEXT_STATUSES = {
    "NEW": ("CONTACTED", "CONVERSATION", "BOOKED"),
    "CONTACTED": ("CONVERSATION", "BOOKED"),
    "CONVERSATION": ("BOOKED",),
    "BOOKED": (),
    "LOST": (),
}


def score_reasons(lead: dict[str, Any], ui_t: Any) -> str:
    """The score badge's tooltip: each factor's points out of its maximum."""
    parts = []
    for key, factor in (lead.get("score_factors") or {}).items():
        parts.append(f"{ui_t('leads.factor.' + key)}: {factor['points']}/{factor['max']}")
    return " · ".join(parts)


router = APIRouter()


async def api(ui: UI, me: Identity, method: str, path: str, json: object = None) -> tuple[int, Any]:
    response = await ui.backend.call(method, "leads", path, identity=me, json=json)
    if response.status_code >= 500:
        raise PageError(503, "error.503")
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response.status_code, body


@router.get("/leads", response_class=HTMLResponse)
async def inbox(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    wanted = {
        k: v.strip()[:200] for k, v in request.query_params.items() if k in FILTERS and v.strip()
    }
    by_meaning = bool(wanted.get("q")) and request.query_params.get("meaning") == "1"
    if by_meaning:
        # Search by meaning (the leads' embedded wishes): the closest first, with how close.
        code, found = await api(
            ui, me, "GET", "/leads/search?" + urlencode({"q": wanted["q"], "limit": 50})
        )
        if code == 200:
            found = [{**hit["lead"], "similarity": hit["similarity"]} for hit in found]
    else:
        code, found = await api(ui, me, "GET", "/leads?" + urlencode({**wanted, "limit": 100}))

    def refused(code: int, body: Any) -> str | None:
        return ui.field_errors(request, me, stub(code, body), "q")[1]

    _, stats = await api(ui, me, "GET", "/stats")
    return ui.render(
        request,
        "leads/inbox.html",
        me,
        page="leads",
        leads=found if code == 200 else [],
        stats=stats if isinstance(stats, dict) else {},
        wanted=wanted,
        by_meaning=by_meaning,
        statuses=STATUSES,
        sources=SOURCES,
        message=None if code == 200 else ui.field_errors(request, me, stub(code, found), "q")[1],
        message_kind="error",
    )


async def lead_page(
    ui: UI, request: Request, me: Identity, lead_id: uuid.UUID, **ctx: Any
) -> Response:
    code, detail = await api(ui, me, "GET", f"/leads/{lead_id}")
    if code == 404:
        raise PageError(404, "error.404")
    _, prediction = await api(ui, me, "GET", f"/leads/{lead_id}/prediction")
    lead = detail["lead"]
    return ui.render(
        request,
        "leads/detail.html",
        me,
        page="leads",
        lead=lead,
        timeline=list(reversed(detail["timeline"])),
        planned=detail["planned"],
        prediction=prediction if isinstance(prediction, dict) else {},
        next_statuses=NEXT_STATUSES.get(lead["status"], ()),
        **ctx,
    )


@router.get("/leads/settings", response_class=HTMLResponse)
async def intake_settings(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    _, mailbox = await api(ui, me, "GET", "/settings")
    return ui.render(request, "leads/settings.html", me, page="leads", mailbox=mailbox)


@router.post("/leads/settings", response_class=HTMLResponse)
async def save_settings(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    body = {k: form[k].strip() for k in ("slug", "sender_name", "locale") if form.get(k)}
    code, mailbox = await api(ui, me, "PUT", "/settings", body)
    if code == 200:
        return RedirectResponse("/leads/settings?saved=1", status_code=303)
    _, current = await api(ui, me, "GET", "/settings")
    errors, text = ui.field_errors(request, me, stub(code, mailbox), "slug")
    return ui.render(
        request,
        "leads/settings.html",
        me,
        status=code,
        page="leads",
        mailbox=current,
        errors=errors,
        message=text,
        message_kind="error",
    )


async def mail_page(
    ui: UI, request: Request, me: Identity, status: int = 200, **ctx: Any
) -> Response:
    _, templates = await api(ui, me, "GET", "/templates")
    _, experiments = await api(ui, me, "GET", "/ab-tests")
    results = {}
    for experiment in experiments if isinstance(experiments, list) else []:
        if experiment["status"] != "draft":
            code, found = await api(ui, me, "GET", f"/ab-tests/{experiment['id']}/results")
            if code == 200:
                results[experiment["id"]] = found["variants"]
    return ui.render(
        request,
        "leads/mail.html",
        me,
        status=status,
        page="leads",
        templates=templates if isinstance(templates, list) else [],
        experiments=experiments if isinstance(experiments, list) else [],
        results=results,
        **ctx,
    )


@router.get("/leads/mail", response_class=HTMLResponse)
async def mail_settings(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    return await mail_page(ui, request, me)


@router.post("/leads/mail/templates", response_class=HTMLResponse)
async def save_template(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    kind, locale = form.get("kind", ""), form.get("locale", "")
    body = {"subject": form.get("subject", ""), "body": form.get("body", "")}
    path = f"/templates/{quote(kind, safe='')}/{quote(locale, safe='')}"
    code, answer = await api(ui, me, "PUT", path, body)
    if code == 200:
        return RedirectResponse("/leads/mail?saved=1", status_code=303)
    return await mail_page(ui, request, me, **ui.refusal(request, me, stub(code, answer), "body"))


@router.post("/leads/mail/ab-tests", response_class=HTMLResponse)
async def create_experiment(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    variants = []
    for n in ("a", "b"):
        variants.append(
            {
                "name": form.get(f"name_{n}", n.upper()).strip() or n.upper(),
                "weight": weight(form.get(f"weight_{n}", "")),
                "subject": form.get(f"subject_{n}", ""),
                "body": form.get(f"body_{n}", ""),
            }
        )
    body = {
        "name": form.get("name", ""),
        "template_kind": form.get("template_kind", ""),
        "locale": form.get("locale", "de"),
        "variants": variants,
    }
    code, answer = await api(ui, me, "POST", "/ab-tests", body)
    if code == 201:
        return RedirectResponse("/leads/mail", status_code=303)
    return await mail_page(ui, request, me, **ui.refusal(request, me, stub(code, answer), "name"))


@router.post("/leads/mail/ab-tests/{experiment_id}/{action}", response_class=HTMLResponse)
async def experiment_action(
    ui: PageUI, request: Request, experiment_id: uuid.UUID, action: str
) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    if action not in ("start", "end"):
        raise PageError(404, "error.404")
    code, answer = await api(ui, me, "POST", f"/ab-tests/{experiment_id}/{action}")
    if code == 200:
        return RedirectResponse("/leads/mail", status_code=303)
    return await mail_page(ui, request, me, **ui.refusal(request, me, stub(code, answer), "name"))


@router.get("/leads/{lead_id}", response_class=HTMLResponse)
async def lead_detail(ui: PageUI, request: Request, lead_id: uuid.UUID) -> Response:
    me = await ui.signed_in(request)
    return await lead_page(ui, request, me, lead_id)


@router.post("/leads/{lead_id}/status", response_class=HTMLResponse)
async def change_status(ui: PageUI, request: Request, lead_id: uuid.UUID) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    body = {"status": form.get("status", ""), "reason": form.get("reason", "").strip() or None}
    code, answer = await api(ui, me, "POST", f"/leads/{lead_id}/status", body)
    if code == 200:
        return RedirectResponse(f"/leads/{lead_id}", status_code=303)
    return await lead_page(
        ui, request, me, lead_id, **ui.refusal(request, me, stub(code, answer), "reason")
    )


@router.post("/leads/{lead_id}/reply", response_class=HTMLResponse)
async def reply(ui: PageUI, request: Request, lead_id: uuid.UUID) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    body = {"subject": form.get("subject", "")[:300], "text": form.get("text", "")}
    code, answer = await api(ui, me, "POST", f"/leads/{lead_id}/messages", body)
    if code == 201:
        return RedirectResponse(f"/leads/{lead_id}?sent=1", status_code=303)
    return await lead_page(
        ui, request, me, lead_id, **ui.refusal(request, me, stub(code, answer), "text")
    )


@router.post("/leads/{lead_id}/edit", response_class=HTMLResponse)
async def edit(ui: PageUI, request: Request, lead_id: uuid.UUID) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    body: dict[str, Any] = {}
    if "notes" in form:
        body["notes"] = form["notes"]
    if form.get("assign") == "me":
        body["assignee_id"] = str(me.user_id)
    elif form.get("assign") == "none":
        body["unassign"] = True
    code, answer = await api(ui, me, "PATCH", f"/leads/{lead_id}", body)
    if code == 200:
        return RedirectResponse(f"/leads/{lead_id}", status_code=303)
    return await lead_page(
        ui, request, me, lead_id, **ui.refusal(request, me, stub(code, answer), "notes")
    )


def weight(value: str) -> int | str:
    """A variant's weight as a number; anything else goes to the API, which names it."""
    value = value.strip()
    return int(value) if value.isdigit() else (value or 1)


def stub(status_code: int, body: Any) -> httpx.Response:
    """A decoded answer as the response `UI.field_errors` reads."""
    return httpx.Response(status_code, json=body)
