"""CRM integration: an organisation's webhooks, their delivery log and a test button."""

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.pages import UI, PageUI

router = APIRouter()


async def page(ui: UI, request: Request, me: Identity, **ctx: Any) -> Response:
    hooks = await ui.json(await ui.backend.call("GET", "export", "/webhooks", identity=me), [])
    for hook in hooks:
        hook["deliveries"] = await ui.json(
            await ui.backend.call(
                "GET", "export", f"/webhooks/{hook['id']}/deliveries", identity=me
            ),
            [],
        )
    connections = await ui.json(
        await ui.backend.call("GET", "export", "/crm/connections", identity=me), []
    )
    return ui.render(
        request,
        "integrations.html",
        me,
        page="integrations",
        hooks=hooks,
        connections={c["crm"]: c for c in connections},
        **ctx,
    )


@router.get("/integrations", response_class=HTMLResponse)
async def integrations(ui: PageUI, request: Request) -> Response:
    return await page(ui, request, await ui.signed_in(request))


@router.post("/integrations/webhooks", response_class=HTMLResponse)
async def add_webhook(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    response = await ui.backend.call(
        "POST",
        "export",
        "/webhooks",
        identity=me,
        json={"url": form.get("url", ""), "description": form.get("description", "")},
    )
    if not response.is_success:
        return await page(ui, request, me, **ui.refusal(request, me, response, "url"))
    # The secret is shown once, on this response, and never again.
    return await page(ui, request, me, secret=response.json()["secret"])


@router.post("/integrations/webhooks/{webhook_id}/test")
async def send_test(ui: PageUI, webhook_id: str, request: Request) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    await ui.backend.call(
        "POST", "export", f"/webhooks/{quote(webhook_id, safe='')}/test", identity=me
    )
    return RedirectResponse("/integrations", status_code=303)


@router.post("/integrations/webhooks/{webhook_id}/delete")
async def delete_webhook(ui: PageUI, webhook_id: str, request: Request) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    await ui.backend.call(
        "DELETE", "export", f"/webhooks/{quote(webhook_id, safe='')}", identity=me
    )
    return RedirectResponse("/integrations", status_code=303)


@router.post("/integrations/crm/{crm}")
async def save_crm(ui: PageUI, crm: str, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    fields = ("token", "secret") if crm == "onoffice" else ("api_key",)
    response = await ui.backend.call(
        "PUT",
        "export",
        f"/crm/connections/{quote(crm, safe='')}",
        identity=me,
        json={k: form.get(k, "") for k in fields},
    )
    if not response.is_success:
        return await page(ui, request, me, **ui.refusal(request, me, response, fields[0]))
    return RedirectResponse("/integrations", status_code=303)
