"""CRM integration: an organisation's webhooks, their delivery log and a test button."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.clients.base import ServiceError, or_default
from pix_gateway.clients.export import ExportClient
from pix_gateway.clients.export_models import Webhook, WebhookDelivery
from pix_gateway.pages import UI, PageUI

router = APIRouter()


class Hook(Webhook):
    """A webhook on the page, with its latest deliveries."""

    deliveries: list[WebhookDelivery]


async def page(ui: UI, request: Request, me: Identity, **ctx: Any) -> Response:
    export = ExportClient(ui.backend, me)
    hooks = [
        Hook.model_validate(
            {**hook.model_dump(), "deliveries": await or_default(export.deliveries(hook.id), [])}
        )
        for hook in await or_default(export.webhooks(), [])
    ]
    connections = await or_default(export.crm_connections(), [])
    return ui.render(
        request,
        "integrations.html",
        me,
        page="integrations",
        hooks=hooks,
        connections={c.crm: c for c in connections},
        **ctx,
    )


@router.get("/integrations", response_class=HTMLResponse)
async def integrations(ui: PageUI, request: Request) -> Response:
    return await page(ui, request, await ui.signed_in(request))


@router.post("/integrations/webhooks", response_class=HTMLResponse)
async def add_webhook(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    try:
        created = await ExportClient(ui.backend, me).add_webhook(
            form.get("url", ""), form.get("description", "")
        )
    except ServiceError as refusal:
        return await page(ui, request, me, **ui.refusal(request, me, refusal, "url"))
    # The secret is shown once, on this response, and never again.
    return await page(ui, request, me, secret=created.secret)


@router.post("/integrations/webhooks/{webhook_id}/test")
async def send_test(ui: PageUI, webhook_id: str, request: Request) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    await or_default(ExportClient(ui.backend, me).test_webhook(webhook_id), None)
    return RedirectResponse("/integrations", status_code=303)


@router.post("/integrations/webhooks/{webhook_id}/delete")
async def delete_webhook(ui: PageUI, webhook_id: str, request: Request) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    await or_default(ExportClient(ui.backend, me).delete_webhook(webhook_id), None)
    return RedirectResponse("/integrations", status_code=303)


@router.post("/integrations/crm/{crm}")
async def save_crm(ui: PageUI, crm: str, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    fields = ("token", "secret") if crm == "onoffice" else ("api_key",)
    try:
        await ExportClient(ui.backend, me).connect_crm(crm, {k: form.get(k, "") for k in fields})
    except ServiceError as refusal:
        return await page(ui, request, me, **ui.refusal(request, me, refusal, fields[0]))
    return RedirectResponse("/integrations", status_code=303)
