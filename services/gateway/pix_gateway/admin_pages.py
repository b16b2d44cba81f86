"""The admin area: users and organisations, invitations, roles, caption failures, mail log."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.clients.auth import AuthClient
from pix_gateway.clients.base import ServiceError, or_default
from pix_gateway.clients.captioning import CaptioningClient
from pix_gateway.clients.notify import NotifyClient
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
    auth = AuthClient(ui.backend, me)
    users = await or_default(auth.users(), [])
    orgs = await or_default(auth.organisations(), [])
    erasures = await or_default(auth.erasures(), [])
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
    try:
        await AuthClient(ui.backend, me).invite_user(
            org_id=form.get("org_id", ""),
            email=form.get("email", ""),
            name=form.get("name", ""),
            role=form.get("role", ""),
        )
    except ServiceError as refusal:
        return await admin_page(ui, request, me, **ui.refusal(request, me, refusal, "email"))
    return RedirectResponse("/admin?invited=1", status_code=303)


@router.post("/admin/users/{user_id}/role")
async def set_role(user_id: str, request: Request, ui: PageUI) -> Response:
    form = await ui.form_of(request)
    me = await admin(ui, request)
    await or_default(AuthClient(ui.backend, me).set_user_role(user_id, form.get("role", "")), None)
    return RedirectResponse("/admin", status_code=303)


@router.get("/admin/mail", response_class=HTMLResponse)
async def mail(request: Request, ui: PageUI) -> Response:
    me = await admin(ui, request)
    mails = await or_default(NotifyClient(ui.backend, me).mail_log(), [])
    return ui.render(request, "admin/mail.html", me, page="admin", mails=mails)


@router.get("/admin/captions", response_class=HTMLResponse)
async def caption_failures(request: Request, ui: PageUI) -> Response:
    me = await admin(ui, request)
    failures = await or_default(CaptioningClient(ui.backend, me).failures(), [])
    return ui.render(request, "admin/captions.html", me, page="admin", failures=failures)


@router.post("/admin/captions/{failure_id}/retry")
async def retry_caption(failure_id: str, request: Request, ui: PageUI) -> Response:
    await ui.form_of(request)
    me = await admin(ui, request)
    await or_default(CaptioningClient(ui.backend, me).retry_failure(failure_id), None)
    return RedirectResponse("/admin/captions", status_code=303)
