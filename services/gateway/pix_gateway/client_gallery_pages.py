"""The client's gallery: arrange it (drag, or move up/down), pick the title picture, download
photos by use, and share it by link. The shared gallery itself (/s/<token>) is public: the
signed token is the credential, plus a PIN when the agent set one (its grant is kept in a
cookie valid for that one link's path only)."""

from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pix_gateway.clients.base import NotFound, ServiceError
from pix_gateway.clients.media_models import Arrangement, ShareLink
from pix_gateway.clients.sharing import ClientGalleryClient, SharedGalleryClient
from pix_gateway.i18n import translate
from pix_gateway.pages import PageError, PageUI

router = APIRouter()

Size = Literal["web", "portal", "print"]
SIZES: tuple[Size, ...] = ("portal", "web", "print")
# A share link never hands out the original (its EXIF/GPS and unblurred faces).
SHARED_SIZES: tuple[Size, ...] = ("portal", "web")
EXPIRY_DAYS = (1, 7, 14, 30, 90)
GRANT_COOKIE = "pix_share"


def gallery_url(gallery_id: str, anchor: str = "") -> str:
    return f"/galleries/{quote(gallery_id, safe='')}" + (f"#{anchor}" if anchor else "")


def share_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/s/{quote(token, safe='')}"


def moved(order: list[str], asset_id: str, direction: str) -> list[str]:
    """The order with one photo a place earlier ("up") or later ("down")."""
    if asset_id not in order:
        return order
    at = order.index(asset_id)
    to = at - 1 if direction == "up" else at + 1
    if not 0 <= to < len(order):
        return order
    order = list(order)
    order[at], order[to] = order[to], order[at]
    return order


# --- the agent's side ----------------------------------------------------------------------


@router.post("/galleries/{gallery_id}/arrangement")
async def save_order(gallery_id: str, request: Request, ui: PageUI) -> Response:
    """The order after a drag (arrange.js): `order` is the ids, comma-separated."""
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    ids = [i for i in form.get("order", "").split(",") if i]
    try:
        await ClientGalleryClient(ui.backend, me).reorder(gallery_id, ids)
    except ServiceError as refusal:
        return Response(status_code=refusal.status if refusal.status < 500 else 503)
    return Response(status_code=204)


@router.post("/galleries/{gallery_id}/photos/{asset_id}/move/{direction}")
async def move_photo(
    gallery_id: str, asset_id: str, direction: Literal["up", "down"], request: Request, ui: PageUI
) -> Response:
    """The keyboard's (and any phone's) way to reorder: one place up or down."""
    await ui.form_of(request)
    me = await ui.signed_in(request)
    client = ClientGalleryClient(ui.backend, me)
    try:
        current: Arrangement = await client.arrangement(gallery_id)
        await client.reorder(gallery_id, moved(current.asset_ids, asset_id, direction))
    except NotFound as exc:
        raise PageError(404, "error.404") from exc
    except ServiceError as exc:
        raise PageError(503, "error.503") from exc
    return RedirectResponse(gallery_url(gallery_id, f"photo-{asset_id}"), status_code=303)


@router.get("/galleries/{gallery_id}/photos/{asset_id}/download/{size}")
async def download_photo(
    gallery_id: str, asset_id: str, size: Size, request: Request, ui: PageUI
) -> Response:
    me = await ui.signed_in(request)
    try:
        found = await ClientGalleryClient(ui.backend, me).download(gallery_id, asset_id, size)
    except ServiceError as exc:
        raise PageError(404 if exc.status in (404, 422) else 503, "error.404") from exc
    return RedirectResponse(found.url, status_code=303)


async def share_links(ui: PageUI, request: Request, gallery_id: str) -> list[ShareLink]:
    me = await ui.signed_in(request)
    try:
        return await ClientGalleryClient(ui.backend, me).share_links(gallery_id)
    except ServiceError:
        return []


@router.get("/galleries/{gallery_id}/shares", response_class=HTMLResponse)
async def shares_panel(gallery_id: str, request: Request, ui: PageUI) -> Response:
    me = await ui.signed_in(request)
    return ui.render(
        request,
        "share/links_panel.html",
        me,
        gallery={"id": gallery_id},
        **await shares_context(ui, request, gallery_id),
    )


async def shares_context(ui: PageUI, request: Request, gallery_id: str) -> dict[str, Any]:
    """What the share panel shows: every link of the gallery with its address and views."""
    links = await share_links(ui, request, gallery_id)
    public = ui.settings.platform.public_url
    return {
        "share_links": [(link, share_url(public, link.token)) for link in links],
        "expiry_days": EXPIRY_DAYS,
        "share_error": request.query_params.get("share_error"),
    }


@router.post("/galleries/{gallery_id}/shares")
async def create_share_link(gallery_id: str, request: Request, ui: PageUI) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    pin = form.get("pin", "").strip() or None
    days = int(form["expires_in_days"]) if form.get("expires_in_days", "").isdigit() else 14
    target = gallery_url(gallery_id)
    try:
        await ClientGalleryClient(ui.backend, me).create_share_link(
            gallery_id, label=form.get("label", "").strip(), pin=pin, expires_in_days=days
        )
    except ServiceError as refusal:
        return RedirectResponse(
            f"{target}?share_error={quote(refusal.code or 'unavailable', safe='')}#shares",
            status_code=303,
        )
    return RedirectResponse(f"{target}#shares", status_code=303)


@router.post("/galleries/{gallery_id}/shares/{share_id}/revoke")
async def revoke_share_link(
    gallery_id: str, share_id: str, request: Request, ui: PageUI
) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    try:
        await ClientGalleryClient(ui.backend, me).revoke_share_link(gallery_id, share_id)
    except ServiceError as exc:
        raise PageError(404 if exc.status == 404 else 503, "error.404") from exc
    return RedirectResponse(gallery_url(gallery_id, "shares"), status_code=303)


# --- the visitor's side (no account) -------------------------------------------------------


def _shared_path(token: str) -> str:
    return f"/s/{quote(token, safe='')}"


def _no_store(response: Response) -> Response:
    # The page holds signed links and is someone's private gallery: no cache keeps it.
    response.headers["cache-control"] = "no-store"
    response.headers["referrer-policy"] = "no-referrer"
    response.headers["x-robots-tag"] = "noindex"
    return response


def _gone(ui: PageUI, request: Request, code: str) -> Response:
    return _no_store(
        ui.render(request, "share/gone.html", None, status=410, page="share", reason=code)
    )


@router.get("/s/{token}", response_class=HTMLResponse)
async def shared_gallery(token: str, request: Request, ui: PageUI) -> Response:
    grant = request.cookies.get(GRANT_COOKIE)
    try:
        shared = await SharedGalleryClient(ui.backend, None).shared(token, grant)
    except ServiceError as refusal:
        if refusal.status == 401:
            return _no_store(ui.render(request, "share/pin.html", None, page="share", token=token))
        if refusal.status == 410:
            return _gone(ui, request, refusal.code)
        raise PageError(404 if refusal.status in (404, 422) else 503, "error.404") from refusal
    return _no_store(
        ui.render(
            request,
            "share/gallery.html",
            None,
            page="share",
            token=token,
            shared=shared,
            sizes=SHARED_SIZES,
            base=_shared_path(token),
        )
    )


@router.post("/s/{token}/pin", response_class=HTMLResponse)
async def enter_pin(token: str, request: Request, ui: PageUI) -> Response:
    form = await ui.form_of(request)
    try:
        granted = await SharedGalleryClient(ui.backend, None).unlock(
            token, form.get("pin", "").strip()[:20]
        )
    except ServiceError as refusal:
        if refusal.status == 410:
            return _gone(ui, request, refusal.code)
        if refusal.status == 404:
            raise PageError(404, "error.404") from refusal
        key = "share.pin_locked" if refusal.status == 429 else "share.pin_wrong"
        if refusal.status >= 500:
            key = "error.503"
        status = refusal.status if refusal.status in (422, 429) else 503
        return _no_store(
            ui.render(
                request,
                "share/pin.html",
                None,
                status=status,
                page="share",
                token=token,
                message=translate(key, ui.locale(request, None)),
                message_kind="error",
            )
        )
    response = RedirectResponse(_shared_path(token), status_code=303)
    seconds = int((granted.expires_at - datetime.now(UTC)).total_seconds())
    response.set_cookie(
        GRANT_COOKIE,
        granted.grant,
        httponly=True,
        secure=True,
        samesite="lax",
        path=_shared_path(token),
        max_age=max(seconds, 60),
    )
    return response


@router.get("/s/{token}/photos/{asset_id}/{size}")
async def shared_download(
    token: str, asset_id: str, size: Size, request: Request, ui: PageUI
) -> Response:
    grant = request.cookies.get(GRANT_COOKIE)
    try:
        found = await SharedGalleryClient(ui.backend, None).download(token, grant, asset_id, size)
    except ServiceError as refusal:
        if refusal.status == 401:
            return RedirectResponse(_shared_path(token), status_code=303)
        if refusal.status == 410:
            return _gone(ui, request, refusal.code)
        raise PageError(404 if refusal.status in (404, 422) else 503, "error.404") from refusal
    return _no_store(RedirectResponse(found.url, status_code=303))
