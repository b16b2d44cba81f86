"""Privacy pages: the record of processing (GDPR Art. 30) gathered from every service's own
declarations (GET /privacy/processing on each), public as the list of processors and where they
process, downloadable in full by admins; and the agent's page that serves a lead's person
(Art. 15 export, Art. 17 erasure, Art. 21 objection) through leads' /privacy/subjects API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pix_runtime.identity import Identity
from pix_runtime.logging import get_logger
from pix_runtime.personal_data import ProcessingRecord, Processor

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
# Services that hold a person's data as text and answer pix_runtime's subject API; leads
# answers its own (and alone takes objections).
SUBJECT_HOLDERS = ("notify", "assistant")


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
        return ProcessingRecord.model_validate(response.json())

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
    subject = {k: form.get(k, "").strip() for k in ("email", "phone")}
    payload = {k: v for k, v in subject.items() if v}
    response = await ui.backend.call(
        "POST", "leads", f"/privacy/subjects/{action}", identity=me, json=payload
    )
    if not response.is_success:
        return ui.render(
            request,
            "privacy/subjects.html",
            me,
            page="leads",
            subject=subject,
            found=None,
            **ui.refusal(request, me, response, "email"),
        )
    result: dict[str, Any] = response.json()
    others = await other_holders(ui, me, action, payload) if action != "object" else {}
    if action == "export":
        body = {"leads": result, **others}
        return Response(
            json.dumps(body, ensure_ascii=False, indent=2),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="lead-data-export.json"'},
        )
    locale = ui.locale(request, me)
    message = None
    if action == "erase":
        message = translate("privacy.erased", locale, count=result.get("leads", 0))
        erased = sum(int(o.get("erased", 0)) for o in others.values() if o)
        message += " " + translate("privacy.erased_elsewhere", locale, count=erased)
    elif action == "object":
        message = translate("privacy.objected", locale, count=result.get("leads", 0))
    found = None
    if action == "find":
        found = {
            **result,
            "elsewhere": {
                service: (len(o["records"]) if o else None) for service, o in others.items()
            },
        }
    return ui.render(
        request,
        "privacy/subjects.html",
        me,
        page="leads",
        subject=subject,
        found=found,
        message=message,
        message_kind="ok",
    )


async def other_holders(
    ui: UI, me: Identity, action: str, payload: dict[str, str]
) -> dict[str, dict[str, Any] | None]:
    """The same request to every other service that holds a person's data; None where one
    did not answer (the page says so rather than pretending it found nothing)."""

    async def ask(service: str) -> dict[str, Any] | None:
        try:
            response = await ui.backend.call(
                "POST", service, f"/privacy/subjects/{action}", identity=me, json=payload
            )
        except httpx.TransportError as exc:
            log.warning("privacy.subject_unanswered", service=service, error=repr(exc)[:100])
            return None
        answer: dict[str, Any] | None = response.json() if response.is_success else None
        return answer

    answers = await asyncio.gather(*(ask(service) for service in SUBJECT_HOLDERS))
    return dict(zip(SUBJECT_HOLDERS, answers, strict=True))
