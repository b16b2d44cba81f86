"""Privacy pages: the record of processing (GDPR Art. 30) gathered from every service's own
declarations (GET /privacy/processing on each), public as the list of processors and where they
process, downloadable in full by admins; and the agent's page that serves a lead's person
(Art. 15 export, Art. 17 erasure, Art. 21 objection) through leads' /privacy/subjects API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Literal, TypeVar

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pix_runtime.identity import Identity
from pix_runtime.logging import get_logger
from pix_runtime.personal_data import (
    ProcessingRecord,
    Processor,
    SubjectErasure,
    SubjectFindings,
)

from pix_gateway.clients.base import ServiceError
from pix_gateway.clients.leads import LeadsClient
from pix_gateway.clients.leads_models import Subject
from pix_gateway.clients.subjects import SUBJECT_HOLDERS, SubjectHolderClient
from pix_gateway.i18n import translate
from pix_gateway.pages import UI, PageError, PageUI

router = APIRouter()
log = get_logger(__name__)

SERVICES = (
    "auth",
    "orders",
    "media",
    "captioning",
    "export",
    "notify",
    "leads",
    "listings",
    "assistant",
    "billing",
)
SUBJECT_ACTIONS = ("find", "export", "erase", "object")
Answer = TypeVar("Answer")


async def gather(ui: UI) -> tuple[list[ProcessingRecord], list[str]]:
    """Every service's declarations, asked side by side; the names of those that did not
    answer."""

    async def ask(service: str) -> ProcessingRecord | None:
        try:
            response = await ui.backend.call("GET", service, "/privacy/processing")
        except httpx.TransportError as exc:
            log.warning("privacy.record_missing", service=service, error=repr(exc)[:100])
            return None
        if not response.is_success:
            return None
        return ProcessingRecord.model_validate_json(response.content)

    answers = await asyncio.gather(*(ask(service) for service in SERVICES))
    records = [record for record in answers if record is not None]
    missing = [service for service, record in zip(SERVICES, answers, strict=True) if not record]
    return records, missing


def processors_of(records: list[ProcessingRecord]) -> list[Processor]:
    seen: dict[str, Processor] = {}
    for record in records:
        for declaration in record.declarations:
            for processor in declaration.processors:
                seen.setdefault(processor.name, processor)
    return sorted(seen.values(), key=lambda p: p.name)


@router.get("/privacy/processing", response_class=HTMLResponse)
async def processing_page(request: Request, ui: PageUI) -> Response:
    me = await ui.me(request)
    records, missing = await gather(ui)
    return ui.render(
        request,
        "privacy/processing.html",
        me,
        page="privacy",
        records=records,
        processors=processors_of(records),
        missing=missing,
    )


@router.get("/admin/privacy/processing.json")
async def processing_download(request: Request, ui: PageUI) -> Response:
    me = await ui.signed_in(request)
    if not me.is_admin:
        raise PageError(404, "error.404")
    records, missing = await gather(ui)
    body = {
        "record_of_processing": [r.model_dump(mode="json") for r in records],
        "processors": [p.model_dump(mode="json") for p in processors_of(records)],
        "services_not_answering": missing,
    }
    return Response(
        json.dumps(body, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="record-of-processing.json"'},
    )


# --- a lead's person's rights -------------------------------------------------------------------


async def agent(ui: UI, request: Request) -> Identity:
    me = await ui.signed_in(request)
    if me.role not in ("owner", "agent", "client"):
        raise PageError(404, "error.404")
    return me


@router.get("/privacy/leads", response_class=HTMLResponse)
async def subjects_page(request: Request, ui: PageUI) -> Response:
    me = await agent(ui, request)
    return ui.render(request, "privacy/subjects.html", me, page="leads", subject={}, found=None)


@router.post("/privacy/leads", response_class=HTMLResponse)
async def subjects_action(request: Request, ui: PageUI) -> Response:
    form = await ui.form_of(request)
    me = await agent(ui, request)
    action = form.get("action", "find")
    if action not in SUBJECT_ACTIONS:
        raise PageError(400, "error.invalid")
    entered = {k: form.get(k, "").strip() for k in ("email", "phone")}
    given = {k: v for k, v in entered.items() if v}
    subject = Subject.model_validate(given)
    leads = LeadsClient(ui.backend, me)
    try:
        if action == "export":
            document = await leads.export_subject(subject)
            others = await findings_elsewhere(ui, me, "export", given)
            body = {
                "leads": document.model_dump(mode="json"),
                **{s: f.model_dump(mode="json") if f else None for s, f in others.items()},
            }
            return Response(
                json.dumps(body, ensure_ascii=False, indent=2),
                media_type="application/json",
                headers={"Content-Disposition": 'attachment; filename="lead-data-export.json"'},
            )
        locale = ui.locale(request, me)
        if action == "erase":
            erased = await leads.erase_subject(subject)
            elsewhere = await erased_elsewhere(ui, me, given)
            message = translate("privacy.erased", locale, count=erased.leads)
            count = sum(e.erased for e in elsewhere.values() if e)
            message += " " + translate("privacy.erased_elsewhere", locale, count=count)
            return subjects_page_with(request, ui, me, entered, message=message)
        if action == "object":
            objected = await leads.object_subject(subject)
            message = translate("privacy.objected", locale, count=objected.leads)
            return subjects_page_with(request, ui, me, entered, message=message)
        found = await leads.find_subject(subject)
    except ServiceError as refusal:
        return ui.render(
            request,
            "privacy/subjects.html",
            me,
            page="leads",
            subject=entered,
            found=None,
            **ui.refusal(request, me, refusal, "email"),
        )
    others = await findings_elsewhere(ui, me, "find", given)
    counts = {service: (len(f.records) if f else None) for service, f in others.items()}
    return ui.render(
        request,
        "privacy/subjects.html",
        me,
        page="leads",
        subject=entered,
        found=found,
        elsewhere=counts,
        message_kind="ok",
    )


def subjects_page_with(
    request: Request, ui: UI, me: Identity, entered: dict[str, str], *, message: str
) -> Response:
    return ui.render(
        request,
        "privacy/subjects.html",
        me,
        page="leads",
        subject=entered,
        found=None,
        message=message,
        message_kind="ok",
    )


# The same request to every other service that holds a person's data; None where one did not
# answer (the page says so rather than pretending it found nothing).


async def findings_elsewhere(
    ui: UI, me: Identity, action: Literal["find", "export"], subject: dict[str, str]
) -> dict[str, SubjectFindings | None]:
    async def ask(holder: SubjectHolderClient) -> SubjectFindings | None:
        return await unanswered_as_none(holder.service, holder.findings(action, subject))

    holders = [client(ui.backend, me) for client in SUBJECT_HOLDERS]
    answers = await asyncio.gather(*(ask(holder) for holder in holders))
    return {holder.service: answer for holder, answer in zip(holders, answers, strict=True)}


async def erased_elsewhere(
    ui: UI, me: Identity, subject: dict[str, str]
) -> dict[str, SubjectErasure | None]:
    holders = [client(ui.backend, me) for client in SUBJECT_HOLDERS]
    answers = await asyncio.gather(
        *(unanswered_as_none(holder.service, holder.erase(subject)) for holder in holders)
    )
    return {holder.service: answer for holder, answer in zip(holders, answers, strict=True)}


async def unanswered_as_none(service: str, answer: Awaitable[Answer]) -> Answer | None:
    try:
        return await answer
    except (httpx.TransportError, ServiceError) as exc:
        log.warning("privacy.subject_unanswered", service=service, error=repr(exc)[:100])
        return None
