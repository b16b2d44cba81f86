"""The signed-in client area: dashboard, booking, and the account page (profile, password,
devices, data export, deletion)."""

import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.clients.auth import AuthClient
from pix_gateway.clients.base import ServiceError, or_default, part
from pix_gateway.clients.leads import LeadsClient
from pix_gateway.clients.media import MediaClient
from pix_gateway.clients.media_models import AssetView, GalleryView
from pix_gateway.clients.notify import NotifyClient
from pix_gateway.clients.orders import OrdersClient
from pix_gateway.i18n import LOCALES, translate
from pix_gateway.pages import UI, PageError, PageUI

router = APIRouter()


class Upload(AssetView):
    """A recent photo on the dashboard, with the reference of the gallery it went to."""

    gallery_reference: str


async def recent_uploads(ui: UI, me: Identity) -> tuple[list[GalleryView], list[Upload]]:
    media = MediaClient(ui.backend, me)
    galleries = await part(media.galleries(), [])
    uploads: list[Upload] = []
    for gallery in galleries[:5]:
        detail = await part(media.gallery(gallery.id), None)
        for asset in detail.assets if detail else []:
            uploads.append(
                Upload.model_validate(
                    {**asset.model_dump(), "gallery_reference": gallery.reference}
                )
            )
    uploads.sort(key=lambda a: a.created_at, reverse=True)
    return galleries, uploads[:10]


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    profile = await or_default(AuthClient(ui.backend, me).me(), None)
    orders = await part(OrdersClient(ui.backend, me).list_orders(), [])
    galleries, uploads = await recent_uploads(ui, me)
    # The CRM half's first question of the day: what came in. Leads down: the card hides.
    lead_stats = await part(LeadsClient(ui.backend, me).stats(), None)
    message = None
    if request.query_params.get("resent"):
        message = translate("verify.resent", ui.locale(request, me))
    return ui.render(
        request,
        "dashboard.html",
        me,
        page="dashboard",
        profile=profile,
        orders=orders[:10],
        galleries=galleries[:10],
        uploads=uploads,
        lead_stats=lead_stats,
        message=message,
    )


@router.get("/dashboard/uploads", response_class=HTMLResponse)
async def dashboard_uploads(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    _, uploads = await recent_uploads(ui, me)
    return ui.render(request, "partials/uploads.html", me, uploads=uploads)


@router.get("/booking", response_class=HTMLResponse)
async def booking(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    url = ui.settings.tidycal_url
    if url:
        # TidyCal prefills its form from these query parameters.
        url = f"{url}{'&' if '?' in url else '?'}name={quote(me.name)}&email={quote(me.email)}"
    return ui.render(request, "booking.html", me, page="dashboard", booking_url=url)


# --- account ------------------------------------------------------------------------------


async def account_page(
    ui: UI, request: Request, me: Identity, *, status: int = 200, **ctx: Any
) -> Response:
    auth = AuthClient(ui.backend, me)
    profile = await or_default(auth.me(), None)
    if profile is None:
        raise PageError(503, "error.503")
    own = await or_default(auth.sessions(), [])
    members = await part(auth.members(), [])
    # Notify down: the card says so instead of the switches.
    notifications = await part(NotifyClient(ui.backend, me).preferences(str(me.user_id)), None)
    return ui.render(
        request,
        "account.html",
        me,
        status=status,
        page="account",
        profile=profile,
        sessions=own,
        members=members,
        notifications=notifications,
        **ctx,
    )


@router.get("/account", response_class=HTMLResponse)
async def account(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    done = request.query_params.get("done")
    message = (
        translate(f"account.{done}", ui.locale(request, me))
        if done in ("saved", "password_done", "invited", "notifications_saved")
        else None
    )
    return await account_page(ui, request, me, message=message, message_kind="ok")


@router.post("/account/profile")
async def update_profile(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    locale = form.get("locale") or None
    try:
        await AuthClient(ui.backend, me).update_me(name=form.get("name") or None, locale=locale)
    except ServiceError as refusal:
        return await account_page(ui, request, me, **ui.refusal(request, me, refusal, "name"))
    ui.sessions.forget(request.cookies.get(ui.settings.cookie_name, ""))
    redirect = RedirectResponse("/account?done=saved", status_code=303)
    if locale in LOCALES:
        redirect.set_cookie(
            "lang",
            str(locale),
            max_age=365 * 24 * 3600,
            samesite="lax",
            secure=True,
            path="/",
        )
    return redirect


@router.post("/account/team/invitations")
async def invite_colleague(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    try:
        await AuthClient(ui.backend, me).invite(
            name=form.get("invite_name", ""),
            email=form.get("invite_email", ""),
            role=form.get("role", "agent"),
        )
    except ServiceError as error:
        refusal = ui.refusal(request, me, error, "email")
        # The form's fields are named apart from the profile's on the same page.
        refusal["errors"] = {f"invite_{k}": v for k, v in refusal["errors"].items()}
        return await account_page(ui, request, me, **refusal)
    return RedirectResponse("/account?done=invited#team", status_code=303)


@router.post("/account/team/{user_id}/role")
async def change_member_role(ui: PageUI, request: Request, user_id: uuid.UUID) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    try:
        await AuthClient(ui.backend, me).change_member_role(str(user_id), form.get("role", ""))
    except ServiceError as refusal:
        return await account_page(ui, request, me, **ui.refusal(request, me, refusal, "role"))
    return RedirectResponse("/account?done=saved#team", status_code=303)


@router.post("/account/password")
async def change_password(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    try:
        await AuthClient(ui.backend, me).change_password(
            form.get("current_password", ""), form.get("new_password", "")
        )
    except ServiceError as refusal:
        return await account_page(
            ui, request, me, **ui.refusal(request, me, refusal, "new_password")
        )
    return RedirectResponse("/account?done=password_done", status_code=303)


@router.post("/account/sessions/{session_id}/revoke")
async def revoke_session(ui: PageUI, session_id: str, request: Request) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    await or_default(AuthClient(ui.backend, me).revoke_session(session_id), None)
    return RedirectResponse("/account", status_code=303)


@router.post("/account/logout-everywhere")
async def logout_everywhere(ui: PageUI, request: Request) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    await or_default(AuthClient(ui.backend, me).revoke_all_sessions(), None)
    ui.sessions.forget(request.cookies.get(ui.settings.cookie_name, ""))
    redirect = RedirectResponse("/login", status_code=303)
    redirect.delete_cookie(ui.settings.cookie_name, path="/", secure=True, httponly=True)
    return redirect


@router.get("/account/export")
async def export_data(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    response = await ui.backend.call("GET", "auth", "/me/export", identity=me)
    return Response(
        response.content,
        status_code=response.status_code,
        media_type="application/json",
        headers={
            "content-disposition": 'attachment; filename="pix-immo-my-data.json"',
            "cache-control": "no-store",
        },
    )


@router.post("/account/delete")
async def delete_account(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    try:
        await AuthClient(ui.backend, me).delete_me(form.get("password", ""))
    except ServiceError as refusal:
        return await account_page(ui, request, me, **ui.refusal(request, me, refusal, "password"))
    ui.sessions.forget(request.cookies.get(ui.settings.cookie_name, ""))
    redirect = RedirectResponse("/", status_code=303)
    redirect.delete_cookie(ui.settings.cookie_name, path="/", secure=True, httponly=True)
    return redirect


@router.post("/account/notifications")
async def save_notifications(ui: PageUI, request: Request) -> Response:
    """The account card's switches: a kind left unticked is switched off (security mails are
    not on the form; notify refuses to switch them off anyway)."""
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    notify = NotifyClient(ui.backend, me)
    try:
        for preference in await notify.preferences(str(me.user_id)):
            wanted = form.get(f"notify_{preference.kind}") == "on"
            if preference.switchable and wanted != preference.enabled:
                await notify.set_preference(str(me.user_id), preference.kind, wanted)
    except ServiceError as refusal:
        return await account_page(
            ui, request, me, **ui.refusal(request, me, refusal, "notifications")
        )
    return RedirectResponse("/account?done=notifications_saved#notifications", status_code=303)
