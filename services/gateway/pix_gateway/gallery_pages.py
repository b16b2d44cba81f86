"""The gallery page: upload many photos, watch them get processed and captioned, edit captions
inline, choose the cover, download the exports."""

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.i18n import translate
from pix_gateway.pages import UI, PageError, PageUI

UPLOAD_TEXTS = (
    "waiting",
    "uploading",
    "done",
    "failed",
    "retry",
    "cancel",
    "cancelled",
    "network",
)
CAPTION_FIELDS = ("title_de", "title_en", "description_de", "description_en")
# A photo in one of these is done; any other status is still on its way (and the page polls).
SETTLED = ("captioned", "failed", "rejected")


def caption_changed(card: Response) -> Response:
    """The downloads follow a caption: the panels at rest look again."""
    card.headers["hx-trigger"] = "pix:caption-changed"
    return card


def photos_busy(photos: list[dict[str, Any]]) -> bool:
    return any(photo["status"] not in SETTLED for photo in photos)


def delivery_busy(delivery: dict[str, Any] | None) -> bool:
    """Worth asking again soon: photos in flight, or an automatic delivery about to happen."""
    if delivery is None:
        return False
    waiting = delivery.get("auto_deliver") and not delivery.get("delivered")
    return bool(delivery.get("in_flight")) or bool(waiting and delivery.get("photo_count"))


def exports_busy(
    exports: list[dict[str, Any]], photos: list[dict[str, Any]], locked: bool = False
) -> bool:
    """An export is still to come: photos exist but the latest version is not the final one,
    or a caption changed after it was built (an edit is exported a few seconds later). A panel
    whose downloads wait for the order's payment asks too, so it unlocks by itself once paid."""
    if locked:
        return True
    if not photos:
        return False
    if not exports or not exports[0].get("complete"):
        return True
    built = datetime.fromisoformat(exports[0]["created_at"])
    return any(
        datetime.fromisoformat(photo["caption"]["created_at"]) > built
        for photo in photos
        if photo.get("caption")
    )


router = APIRouter()


async def gallery_or_404(ui: UI, me: Identity, gallery_id: str) -> dict[str, Any]:
    response = await ui.backend.call(
        "GET", "media", f"/galleries/{quote(gallery_id, safe='')}", identity=me
    )
    # Unknown, another organisation's, or not an id at all: for the visitor, not found.
    if response.status_code in (403, 404, 422):
        raise PageError(404, "error.404")
    if not response.is_success:
        raise PageError(503, "error.503")
    gallery: dict[str, Any] = response.json()
    return gallery


async def photos(ui: UI, me: Identity, gallery_id: str) -> list[dict[str, Any]]:
    """Media's photos with their current captions and export state side by side."""
    gallery = await gallery_or_404(ui, me, gallery_id)
    captions = await ui.json(
        await ui.backend.call(
            "GET",
            "captioning",
            f"/galleries/{quote(gallery_id, safe='')}/captions",
            identity=me,
        ),
        [],
    )
    by_asset = {c["asset_id"]: c for c in captions}
    exported = await ui.json(
        await ui.backend.call(
            "GET", "export", f"/galleries/{quote(gallery_id, safe='')}/photos", identity=me
        ),
        {"photos": []},
    )
    cover = {p["asset_id"] for p in exported.get("photos", []) if p.get("cover")}
    return [
        {**asset, "caption": by_asset.get(asset["id"]), "cover": asset["id"] in cover}
        for asset in gallery["assets"]
    ]


@router.get("/galleries/{gallery_id}", response_class=HTMLResponse)
async def gallery_page(gallery_id: str, request: Request, ui: PageUI) -> Response:
    me = await ui.signed_in(request)
    gallery = await gallery_or_404(ui, me, gallery_id)
    locale = ui.locale(request, me)
    texts = {key: translate(f"upload.{key}", locale) for key in UPLOAD_TEXTS}
    base = f"/galleries/{quote(gallery_id, safe='')}"
    targets = await ui.json(
        await ui.backend.call("GET", "export", f"{base}/crm-targets", identity=me), []
    )
    pushes = await ui.json(
        await ui.backend.call("GET", "export", f"{base}/crm-pushes", identity=me), []
    )
    shown = await photos(ui, me, gallery_id)
    exports, locked = await exports_of(ui, me, gallery_id)
    delivery = await delivery_of(ui, me, gallery_id)
    return ui.render(
        request,
        "gallery.html",
        me,
        page="orders",
        gallery=gallery,
        photos=shown,
        photos_busy=photos_busy(shown),
        upload_texts=json.dumps(texts),
        exports=exports,
        exports_locked=locked,
        exports_busy=exports_busy(exports, shown, locked),
        crm_targets={t["crm"]: t["record_id"] for t in targets},
        crm_pushes=pushes[:10],
        delivery=delivery,
        delivery_busy=delivery_busy(delivery),
        delivery_error=request.query_params.get("delivery_error"),
    )


async def delivery_of(ui: UI, me: Identity, gallery_id: str) -> dict[str, Any] | None:
    """Media's view of the photo set: complete or not, delivered or not."""
    state: dict[str, Any] | None = await ui.json(
        await ui.backend.call(
            "GET", "media", f"/galleries/{quote(gallery_id, safe='')}/delivery", identity=me
        ),
        None,
    )
    return state


@router.get("/galleries/{gallery_id}/delivery", response_class=HTMLResponse)
async def delivery_panel(gallery_id: str, request: Request, ui: PageUI) -> Response:
    me = await ui.signed_in(request)
    delivery = await delivery_of(ui, me, gallery_id)
    return ui.render(
        request,
        "partials/delivery_panel.html",
        me,
        gallery={"id": gallery_id},
        delivery=delivery,
        delivery_busy=delivery_busy(delivery),
        delivery_error=None,
    )


@router.post("/galleries/{gallery_id}/deliver")
async def deliver(gallery_id: str, request: Request, ui: PageUI) -> Response:
    """One click: the gallery goes to the client (and its order becomes delivered)."""
    await ui.form_of(request)
    me = await ui.signed_in(request)
    response = await ui.backend.call(
        "POST", "media", f"/galleries/{quote(gallery_id, safe='')}/deliver", identity=me
    )
    target = f"/galleries/{quote(gallery_id, safe='')}"
    if not response.is_success:
        try:
            code = str(response.json()["error"]["code"])
        except (ValueError, KeyError, TypeError):
            code = "unavailable"
        target += f"?delivery_error={quote(code, safe='')}"
    return RedirectResponse(target, status_code=303)


@router.post("/galleries/{gallery_id}/crm/{crm}")
async def set_crm_target(gallery_id: str, crm: str, request: Request, ui: PageUI) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    record = form.get("record_id", "").strip()
    path = f"/galleries/{quote(gallery_id, safe='')}/crm-targets/{quote(crm, safe='')}"
    if record:
        await ui.backend.call("PUT", "export", path, identity=me, json={"record_id": record})
    else:
        await ui.backend.call("DELETE", "export", path, identity=me)
    return RedirectResponse(f"/galleries/{gallery_id}", status_code=303)


@router.get("/galleries/{gallery_id}/photos", response_class=HTMLResponse)
async def photo_grid(gallery_id: str, request: Request, ui: PageUI) -> Response:
    me = await ui.signed_in(request)
    shown = await photos(ui, me, gallery_id)
    busy = photos_busy(shown)
    response = ui.render(
        request,
        "partials/photo_panel.html",
        me,
        gallery={"id": gallery_id},
        photos=shown,
        photos_busy=busy,
    )
    if not busy:
        # The delivery and downloads panels, at rest too, look once more now.
        response.headers["hx-trigger"] = "pix:photos-settled"
    return response


@router.get("/galleries/{gallery_id}/watermark", response_class=HTMLResponse)
async def watermark_notice(gallery_id: str, request: Request, ui: PageUI) -> Response:
    """The notice while the order waits for payment; once paid, nothing, and the photo grid
    fetches its clean previews."""
    me = await ui.signed_in(request)
    gallery = await gallery_or_404(ui, me, gallery_id)
    if gallery.get("watermarked"):
        return ui.render(request, "partials/watermark_notice.html", me, gallery=gallery)
    return Response(status_code=200, headers={"hx-trigger": "pix:previews-unlocked"})


async def photo_card(
    ui: UI, request: Request, me: Identity, gallery_id: str, asset_id: str, **ctx: Any
) -> Response:
    found = [p for p in await photos(ui, me, gallery_id) if p["id"] == asset_id]
    if not found:
        raise PageError(404, "error.404")
    return ui.render(
        request, "partials/photo.html", me, gallery={"id": gallery_id}, photo=found[0], **ctx
    )


@router.get("/galleries/{gallery_id}/photos/{asset_id}/edit", response_class=HTMLResponse)
async def edit_caption(gallery_id: str, asset_id: str, request: Request, ui: PageUI) -> Response:
    me = await ui.signed_in(request)
    return await photo_card(ui, request, me, gallery_id, asset_id, editing=True)


@router.get("/galleries/{gallery_id}/photos/{asset_id}", response_class=HTMLResponse)
async def show_photo(gallery_id: str, asset_id: str, request: Request, ui: PageUI) -> Response:
    me = await ui.signed_in(request)
    return await photo_card(ui, request, me, gallery_id, asset_id)


@router.post("/galleries/{gallery_id}/photos/{asset_id}/caption", response_class=HTMLResponse)
async def save_caption(gallery_id: str, asset_id: str, request: Request, ui: PageUI) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    edit = {k: form[k].strip() for k in CAPTION_FIELDS if form.get(k, "").strip()}
    response = await ui.backend.call(
        "PATCH",
        "captioning",
        f"/assets/{quote(asset_id, safe='')}/caption",
        identity=me,
        json=edit,
    )
    if not response.is_success:
        _, message = ui.field_errors(request, me, response, "title_de")
        return await photo_card(
            ui,
            request,
            me,
            gallery_id,
            asset_id,
            editing=True,
            error=message or translate("error.invalid", ui.locale(request, me)),
            draft=form,
        )
    return caption_changed(await photo_card(ui, request, me, gallery_id, asset_id))


@router.post("/galleries/{gallery_id}/photos/{asset_id}/regenerate", response_class=HTMLResponse)
async def regenerate(gallery_id: str, asset_id: str, request: Request, ui: PageUI) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    locale = ui.locale(request, me)
    before = [p for p in await photos(ui, me, gallery_id) if p["id"] == asset_id]
    response = await ui.backend.call(
        "POST",
        "captioning",
        f"/assets/{quote(asset_id, safe='')}/caption/regenerate",
        identity=me,
    )
    if not response.is_success:
        return await photo_card(
            ui, request, me, gallery_id, asset_id, error=translate("error.503", locale)
        )
    fresh = response.json()
    old = (before[0].get("caption") or {}).get("caption") if before else None
    # The model may well say the same again (the offline one always does): say so, rather
    # than leave the person wondering whether anything happened.
    key = "gallery.regenerated_same" if fresh["caption"] == old else "gallery.regenerated"
    notice = translate(key, locale, version=fresh["caption_version"])
    return caption_changed(await photo_card(ui, request, me, gallery_id, asset_id, notice=notice))


@router.post("/galleries/{gallery_id}/photos/{asset_id}/cover", response_class=HTMLResponse)
async def choose_cover(gallery_id: str, asset_id: str, request: Request, ui: PageUI) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    await ui.backend.call(
        "PUT",
        "export",
        f"/galleries/{quote(gallery_id, safe='')}/cover",
        identity=me,
        json={"asset_id": asset_id},
    )
    return RedirectResponse(f"/galleries/{gallery_id}", status_code=303)


@router.post("/galleries/{gallery_id}/photos/{asset_id}/delete")
async def delete_photo(gallery_id: str, asset_id: str, request: Request, ui: PageUI) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    await ui.backend.call("DELETE", "media", f"/assets/{quote(asset_id, safe='')}", identity=me)
    return RedirectResponse(f"/galleries/{gallery_id}", status_code=303)


async def exports_of(ui: UI, me: Identity, gallery_id: str) -> tuple[list[dict[str, Any]], bool]:
    """The export versions, newest first, and whether they wait for the order's payment (402)."""
    response = await ui.backend.call(
        "GET", "export", f"/galleries/{quote(gallery_id, safe='')}/exports", identity=me
    )
    if response.status_code == 402:
        return [], True
    versions: list[dict[str, Any]] = await ui.json(response, [])
    return versions, False


@router.get("/galleries/{gallery_id}/exports", response_class=HTMLResponse)
async def exports_panel(gallery_id: str, request: Request, ui: PageUI) -> Response:
    me = await ui.signed_in(request)
    exports, locked = await exports_of(ui, me, gallery_id)
    shown = await photos(ui, me, gallery_id)
    return ui.render(
        request,
        "partials/exports_panel.html",
        me,
        gallery={"id": gallery_id},
        exports=exports,
        exports_locked=locked,
        exports_busy=exports_busy(exports, shown, locked),
    )


@router.post("/galleries/{gallery_id}/exports/{version}/originals")
async def original_bundle(gallery_id: str, version: int, request: Request, ui: PageUI) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    response = await ui.backend.call(
        "POST",
        "export",
        f"/galleries/{quote(gallery_id, safe='')}/exports/{version}/bundle?size=original",
        identity=me,
    )
    if not response.is_success:
        raise PageError(503, "error.503")
    return RedirectResponse(response.json()["download_url"], status_code=303)
