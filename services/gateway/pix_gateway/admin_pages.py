"""The admin area: users and organisations, invitations, roles, caption failures, mail log."""

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.i18n import translate
from pix_gateway.pages import UI, PageError, PageUI

router = APIRouter()


async def admin(ui: UI, request: Request) -> Identity:
    me = await ui.signed_in(request)
    if not me.is_admin:
        raise PageError(404, "error.404")
    return me


async def admin_page(
    ui: UI, request: Request, me: Identity, *, status: int = 200, **ctx: Any
) -> Response:
    users = await ui.json(await ui.backend.call("GET", "auth", "/admin/users", identity=me), [])
    orgs = await ui.json(
        await ui.backend.call("GET", "auth", "/admin/organisations", identity=me), []
    )
    erasures = await ui.json(
        await ui.backend.call("GET", "auth", "/admin/erasures", identity=me), []
    )
    return ui.render(
        request,
        "admin/index.html",
        me,
        status=status,
        page="admin",
        users=users,
        organisations=orgs,
        erasures=erasures,
        **ctx,
    )


@router.get("/admin", response_class=HTMLResponse)
async def admin_index(request: Request, ui: PageUI) -> Response:
    me = await admin(ui, request)
    message = None
    if request.query_params.get("invited"):
        message = translate("admin.invited", ui.locale(request, me))
    return await admin_page(ui, request, me, message=message, message_kind="ok")


@router.post("/admin/invitations")
async def invite(request: Request, ui: PageUI) -> Response:
    form = await ui.form_of(request)
    me = await admin(ui, request)
    response = await ui.backend.call(
        "POST",
        "auth",
        "/admin/invitations",
        identity=me,
        json={k: form.get(k, "") for k in ("org_id", "email", "name", "role")},
    )
    if not response.is_success:
        return await admin_page(ui, request, me, **ui.refusal(request, me, response, "email"))
    return RedirectResponse("/admin?invited=1", status_code=303)


@router.post("/admin/users/{user_id}/role")
async def set_role(user_id: str, request: Request, ui: PageUI) -> Response:
    form = await ui.form_of(request)
    me = await admin(ui, request)
    await ui.backend.call(
        "PATCH",
        "auth",
        f"/admin/users/{quote(user_id, safe='')}",
        identity=me,
        json={"role": form.get("role", "")},
    )
    return RedirectResponse("/admin", status_code=303)


@router.get("/admin/mail", response_class=HTMLResponse)
async def mail(request: Request, ui: PageUI) -> Response:
    me = await admin(ui, request)
    mails = await ui.json(await ui.backend.call("GET", "notify", "/mail", identity=me), [])
    return ui.render(request, "admin/mail.html", me, page="admin", mails=mails)


@router.get("/admin/captions", response_class=HTMLResponse)
async def caption_failures(request: Request, ui: PageUI) -> Response:
    me = await admin(ui, request)
    failures = await ui.json(
        await ui.backend.call("GET", "captioning", "/admin/failures", identity=me), []
    )
    return ui.render(request, "admin/captions.html", me, page="admin", failures=failures)


@router.post("/admin/captions/{failure_id}/retry")
async def retry_caption(failure_id: str, request: Request, ui: PageUI) -> Response:
    await ui.form_of(request)
    me = await admin(ui, request)
    await ui.backend.call(
        "POST", "captioning", f"/admin/failures/{quote(failure_id, safe='')}/retry", identity=me
    )
    return RedirectResponse("/admin/captions", status_code=303)
