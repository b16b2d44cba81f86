"""The signed-in client area: dashboard, booking, and the account page (profile, password,
devices, data export, deletion)."""

import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.i18n import LOCALES, translate
from pix_gateway.pages import UI, PageError, PageUI

router = APIRouter()


async def recent_uploads(ui: UI, me: Identity) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    galleries = await ui.part("media", "/galleries", me, [])
    uploads: list[dict[str, Any]] = []
    for gallery in galleries[:5]:
        detail = await ui.part("media", f"/galleries/{gallery['id']}", me, {"assets": []})
        for asset in detail["assets"]:
            uploads.append({**asset, "gallery_reference": gallery["reference"]})
    uploads.sort(key=lambda a: a["created_at"], reverse=True)
    return galleries, uploads[:10]


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    profile = await ui.json(await ui.backend.call("GET", "auth", "/me", identity=me), None)
    orders = await ui.part("orders", "/orders", me, [])
    galleries, uploads = await recent_uploads(ui, me)
    # The CRM half's first question of the day: what came in. Leads down: the card hides.
    lead_stats = await ui.part("leads", "/stats", me, None)
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
    profile = await ui.json(await ui.backend.call("GET", "auth", "/me", identity=me), None)
    if profile is None:
        raise PageError(503, "error.503")
    own = await ui.json(await ui.backend.call("GET", "auth", "/sessions", identity=me), [])
    members = await ui.part("auth", "/organisation/members", me, [])
    return ui.render(
        request,
        "account.html",
        me,
        status=status,
        page="account",
        profile=profile,
        sessions=own,
        members=members,
        **ctx,
    )


@router.get("/account", response_class=HTMLResponse)
async def account(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    done = request.query_params.get("done")
    message = (
        translate(f"account.{done}", ui.locale(request, me))
        if done in ("saved", "password_done", "invited")
        else None
    )
    return await account_page(ui, request, me, message=message, message_kind="ok")


@router.post("/account/profile")
async def update_profile(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    body = {"name": form.get("name") or None, "locale": form.get("locale") or None}
    response = await ui.backend.call("PATCH", "auth", "/me", identity=me, json=body)
    if not response.is_success:
        return await account_page(ui, request, me, **ui.refusal(request, me, response, "name"))
    ui.sessions.forget(request.cookies.get(ui.settings.cookie_name, ""))
    redirect = RedirectResponse("/account?done=saved", status_code=303)
    if body["locale"] in LOCALES:
        redirect.set_cookie(
            "lang",
            str(body["locale"]),
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
    body = {
        "name": form.get("invite_name", ""),
        "email": form.get("invite_email", ""),
        "role": form.get("role", "agent"),
    }
    response = await ui.backend.call(
        "POST", "auth", "/organisation/invitations", identity=me, json=body
    )
    if not response.is_success:
        refusal = ui.refusal(request, me, response, "email")
        # The form's fields are named apart from the profile's on the same page.
        refusal["errors"] = {f"invite_{k}": v for k, v in refusal["errors"].items()}
        return await account_page(ui, request, me, **refusal)
    return RedirectResponse("/account?done=invited#team", status_code=303)


@router.post("/account/team/{user_id}/role")
async def change_member_role(ui: PageUI, request: Request, user_id: uuid.UUID) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    response = await ui.backend.call(
        "PATCH",
        "auth",
        f"/organisation/members/{user_id}",
        identity=me,
        json={"role": form.get("role", "")},
    )
    if not response.is_success:
        return await account_page(ui, request, me, **ui.refusal(request, me, response, "role"))
    return RedirectResponse("/account?done=saved#team", status_code=303)


@router.post("/account/password")
async def change_password(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    response = await ui.backend.call(
        "POST",
        "auth",
        "/password/change",
        identity=me,
        json={
            "current_password": form.get("current_password", ""),
            "new_password": form.get("new_password", ""),
        },
    )
    if not response.is_success:
        return await account_page(
            ui, request, me, **ui.refusal(request, me, response, "new_password")
        )
    return RedirectResponse("/account?done=password_done", status_code=303)


@router.post("/account/sessions/{session_id}/revoke")
async def revoke_session(ui: PageUI, session_id: str, request: Request) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    await ui.backend.call("DELETE", "auth", f"/sessions/{quote(session_id, safe='')}", identity=me)
    return RedirectResponse("/account", status_code=303)


@router.post("/account/logout-everywhere")
async def logout_everywhere(ui: PageUI, request: Request) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    await ui.backend.call("POST", "auth", "/sessions/revoke-all", identity=me)
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
    response = await ui.backend.call(
        "POST", "auth", "/me/delete", identity=me, json={"password": form.get("password", "")}
    )
    if not response.is_success:
        return await account_page(ui, request, me, **ui.refusal(request, me, response, "password"))
    ui.sessions.forget(request.cookies.get(ui.settings.cookie_name, ""))
    redirect = RedirectResponse("/", status_code=303)
    redirect.delete_cookie(ui.settings.cookie_name, path="/", secure=True, httponly=True)
    return redirect
