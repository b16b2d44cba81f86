"""Lead pages: the inbox (new first, filters, search, score badge with its reasons), a lead's
page (timeline, reply box, status buttons, notes, planned follow-ups) and the intake settings
(the address portals forward to, the website snippet). Names and contact data come from the
leads API; events never carry them."""

import uuid
from collections.abc import Awaitable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.clients.base import NotFound, ServiceError
from pix_gateway.clients.leads import LeadsClient
from pix_gateway.clients.leads_models import ExperimentResults, LeadStats, LeadSummary
from pix_gateway.pages import UI, PageError, PageUI, served

Answer = TypeVar("Answer")

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


def score_reasons(lead: LeadSummary, ui_t: Any) -> str:
    """The score badge's tooltip: each factor's points out of its maximum."""
    parts = []
    for key, factor in lead.score_factors.items():
        parts.append(f"{ui_t('leads.factor.' + key)}: {factor.points}/{factor.max}")
    return " · ".join(parts)


class FoundLead(LeadSummary):
    """A lead found by meaning, with how close its wishes are to the search words."""

    similarity: float


router = APIRouter()


# The leads service's answer: its refusals are the page's to show, its failures a 503 page.
leads = served


async def leads_or_none(answer: Awaitable[Answer]) -> Answer | None:
    try:
        return await leads(answer)
    except ServiceError:
        return None


@router.get("/leads", response_class=HTMLResponse)
async def inbox(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    wanted = {
        k: v.strip()[:200] for k, v in request.query_params.items() if k in FILTERS and v.strip()
    }
    by_meaning = bool(wanted.get("q")) and request.query_params.get("meaning") == "1"
    client = LeadsClient(ui.backend, me)
    found: list[LeadSummary] = []
    message = None
    try:
        if by_meaning:
            # Search by meaning (the leads' embedded wishes): the closest first, with how close.
            hits = await leads(client.search(wanted["q"]))
            found = [
                FoundLead.model_validate({**hit.lead.model_dump(), "similarity": hit.similarity})
                for hit in hits
            ]
        else:
            found = await leads(client.leads(wanted))
    except ServiceError as refusal:
        message = ui.field_errors(request, me, refusal, "q")[1]
    stats: LeadStats | None = await leads_or_none(client.stats())
    return ui.render(
        request,
        "leads/inbox.html",
        me,
        page="leads",
        leads=found,
        stats=stats,
        wanted=wanted,
        by_meaning=by_meaning,
        statuses=STATUSES,
        sources=SOURCES,
        message=message,
        message_kind="error",
    )


async def lead_page(
    ui: UI, request: Request, me: Identity, lead_id: uuid.UUID, **ctx: Any
) -> Response:
    client = LeadsClient(ui.backend, me)
    try:
        detail = await leads(client.lead(str(lead_id)))
    except NotFound as exc:
        raise PageError(404, "error.404") from exc
    except ServiceError as exc:
        raise PageError(503, "error.503") from exc
    prediction = await leads_or_none(client.prediction(str(lead_id)))
    lead = detail.lead
    return ui.render(
        request,
        "leads/detail.html",
        me,
        page="leads",
        lead=lead,
        timeline=list(reversed(detail.timeline)),
        planned=detail.planned,
        prediction=prediction,
        next_statuses=NEXT_STATUSES.get(lead.status, ()),
        **ctx,
    )


@router.get("/leads/settings", response_class=HTMLResponse)
async def intake_settings(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    mailbox = await leads_or_none(LeadsClient(ui.backend, me).mailbox())
    return ui.render(request, "leads/settings.html", me, page="leads", mailbox=mailbox)


@router.post("/leads/settings", response_class=HTMLResponse)
async def save_settings(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    body = {k: form[k].strip() for k in ("slug", "sender_name", "locale") if form.get(k)}
    client = LeadsClient(ui.backend, me)
    try:
        await leads(client.save_mailbox(body))
    except ServiceError as refusal:
        current = await leads_or_none(client.mailbox())
        errors, text = ui.field_errors(request, me, refusal, "slug")
        return ui.render(
            request,
            "leads/settings.html",
            me,
            status=refusal.status,
            page="leads",
            mailbox=current,
            errors=errors,
            message=text,
            message_kind="error",
        )
    return RedirectResponse("/leads/settings?saved=1", status_code=303)


async def mail_page(
    ui: UI, request: Request, me: Identity, status: int = 200, **ctx: Any
) -> Response:
    client = LeadsClient(ui.backend, me)
    templates = await leads_or_none(client.templates()) or []
    experiments = await leads_or_none(client.experiments()) or []
    results = {}
    for experiment in experiments:
        if experiment.status != "draft":
            found: ExperimentResults | None = await leads_or_none(
                client.experiment_results(experiment.id)
            )
            if found is not None:
                results[experiment.id] = found.variants
    return ui.render(
        request,
        "leads/mail.html",
        me,
        status=status,
        page="leads",
        templates=templates,
        experiments=experiments,
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
    try:
        await leads(
            LeadsClient(ui.backend, me).save_template(
                kind, locale, subject=form.get("subject", ""), body=form.get("body", "")
            )
        )
    except ServiceError as refusal:
        return await mail_page(ui, request, me, **ui.refusal(request, me, refusal, "body"))
    return RedirectResponse("/leads/mail?saved=1", status_code=303)


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
    try:
        await leads(LeadsClient(ui.backend, me).create_experiment(body))
    except ServiceError as refusal:
        return await mail_page(ui, request, me, **ui.refusal(request, me, refusal, "name"))
    return RedirectResponse("/leads/mail", status_code=303)


@router.post("/leads/mail/ab-tests/{experiment_id}/{action}", response_class=HTMLResponse)
async def experiment_action(
    ui: PageUI, request: Request, experiment_id: uuid.UUID, action: str
) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    if action not in ("start", "end"):
        raise PageError(404, "error.404")
    try:
        await leads(LeadsClient(ui.backend, me).start_or_end_experiment(str(experiment_id), action))
    except ServiceError as refusal:
        return await mail_page(ui, request, me, **ui.refusal(request, me, refusal, "name"))
    return RedirectResponse("/leads/mail", status_code=303)


@router.get("/leads/{lead_id}", response_class=HTMLResponse)
async def lead_detail(ui: PageUI, request: Request, lead_id: uuid.UUID) -> Response:
    me = await ui.signed_in(request)
    return await lead_page(ui, request, me, lead_id)


@router.post("/leads/{lead_id}/status", response_class=HTMLResponse)
async def change_status(ui: PageUI, request: Request, lead_id: uuid.UUID) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    try:
        await leads(
            LeadsClient(ui.backend, me).change_status(
                str(lead_id), form.get("status", ""), form.get("reason", "").strip() or None
            )
        )
    except ServiceError as refusal:
        return await lead_page(
            ui, request, me, lead_id, **ui.refusal(request, me, refusal, "reason")
        )
    return RedirectResponse(f"/leads/{lead_id}", status_code=303)


@router.post("/leads/{lead_id}/reply", response_class=HTMLResponse)
async def reply(ui: PageUI, request: Request, lead_id: uuid.UUID) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    try:
        await leads(
            LeadsClient(ui.backend, me).reply(
                str(lead_id), form.get("subject", "")[:300], form.get("text", "")
            )
        )
    except ServiceError as refusal:
        return await lead_page(ui, request, me, lead_id, **ui.refusal(request, me, refusal, "text"))
    return RedirectResponse(f"/leads/{lead_id}?sent=1", status_code=303)


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
    try:
        await leads(LeadsClient(ui.backend, me).edit(str(lead_id), body))
    except ServiceError as refusal:
        return await lead_page(
            ui, request, me, lead_id, **ui.refusal(request, me, refusal, "notes")
        )
    return RedirectResponse(f"/leads/{lead_id}", status_code=303)


def weight(value: str) -> int | str:
    """A variant's weight as a number; anything else goes to the API, which names it."""
    value = value.strip()
    return int(value) if value.isdigit() else (value or 1)
