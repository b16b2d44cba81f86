"""The gallery page: upload many photos, watch them get processed and captioned, edit captions
inline, choose the cover, download the exports."""

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.client_gallery_pages import SIZES, shares_context
from pix_gateway.clients.base import PaymentRequired, ServiceError, or_default
from pix_gateway.clients.captioning import CaptioningClient
from pix_gateway.clients.captioning_models import CaptionView
from pix_gateway.clients.export import ExportClient
from pix_gateway.clients.export_models import ExportVersion
from pix_gateway.clients.media import MediaClient
from pix_gateway.clients.media_models import AssetView, DeliveryStateView, GalleryDetail
from pix_gateway.clients.sharing import ClientGalleryClient
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


class Photo(AssetView):
    """A photo as the gallery page shows it: media's asset, its current caption, and whether
    export has it as the cover."""

    caption: CaptionView | None = None
    cover: bool = False


def caption_changed(card: Response) -> Response:
    """The downloads follow a caption: the panels at rest look again."""
    card.headers["hx-trigger"] = "pix:caption-changed"
    return card


def photos_busy(photos: list[Photo]) -> bool:
    return any(photo.status not in SETTLED for photo in photos)


def delivery_busy(delivery: DeliveryStateView | None) -> bool:
    """Worth asking again soon: photos in flight, or an automatic delivery about to happen."""
    if delivery is None:
        return False
    waiting = delivery.auto_deliver and not delivery.delivered
    return bool(delivery.in_flight) or bool(waiting and delivery.photo_count)


def exports_busy(exports: list[ExportVersion], photos: list[Photo], locked: bool = False) -> bool:
    """An export is still to come: photos exist but the latest version is not the final one,
    or a caption changed after it was built (an edit is exported a few seconds later). A panel
    whose downloads wait for the order's payment asks too, so it unlocks by itself once paid."""
    if locked:
        return True
    if not photos:
        return False
    if not exports or not exports[0].complete:
        return True
    built = exports[0].created_at
    return any(photo.caption.created_at > built for photo in photos if photo.caption)


router = APIRouter()


async def gallery_or_404(ui: UI, me: Identity, gallery_id: str) -> GalleryDetail:
    try:
        return await MediaClient(ui.backend, me).gallery(gallery_id)
    except ServiceError as exc:
        # Unknown, another organisation's, or not an id at all: for the visitor, not found.
        if exc.status in (403, 404, 422):
            raise PageError(404, "error.404") from exc
        raise PageError(503, "error.503") from exc


async def photos(ui: UI, me: Identity, gallery_id: str) -> list[Photo]:
    """Media's photos in the client's order with their current captions; the cover is the
    client's title picture, else the one export chooses by default."""
    gallery = await gallery_or_404(ui, me, gallery_id)
    captions = await or_default(CaptioningClient(ui.backend, me).gallery_captions(gallery_id), [])
    by_asset = {c.asset_id: c for c in captions}
    arranged = await or_default(ClientGalleryClient(ui.backend, me).arrangement(gallery_id), None)
    if arranged is not None and arranged.title_asset_id is not None:
        cover = {arranged.title_asset_id}
    else:
        exported = await or_default(ExportClient(ui.backend, me).gallery_photos(gallery_id), None)
        cover = {p.asset_id for p in exported.photos if p.cover} if exported else set()
    place = {asset_id: i for i, asset_id in enumerate(arranged.asset_ids if arranged else [])}
    # Photos still on their way are not arranged yet: they follow, as they came.
    shown = sorted(gallery.assets, key=lambda asset: place.get(asset.id, len(place)))
    return [
        Photo.model_validate(
            {**asset.model_dump(), "caption": by_asset.get(asset.id), "cover": asset.id in cover}
        )
        for asset in shown
        if asset.kind == "photo"  # floor plans and videos: deliverables_pages.py
    ]


@router.get("/galleries/{gallery_id}", response_class=HTMLResponse)
async def gallery_page(gallery_id: str, request: Request, ui: PageUI) -> Response:
    me = await ui.signed_in(request)
    gallery = await gallery_or_404(ui, me, gallery_id)
    locale = ui.locale(request, me)
    texts = {key: translate(f"upload.{key}", locale) for key in UPLOAD_TEXTS}
    export = ExportClient(ui.backend, me)
    targets = await or_default(export.crm_targets(gallery_id), [])
    pushes = await or_default(export.crm_pushes(gallery_id), [])
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
        crm_targets={t.crm: t.record_id for t in targets},
        crm_pushes=pushes[:10],
        delivery=delivery,
        delivery_busy=delivery_busy(delivery),
        delivery_error=request.query_params.get("delivery_error"),
        download_sizes=SIZES,
        **await shares_context(ui, request, gallery_id),
    )


async def delivery_of(ui: UI, me: Identity, gallery_id: str) -> DeliveryStateView | None:
    """Media's view of the photo set: complete or not, delivered or not."""
    return await or_default(MediaClient(ui.backend, me).delivery(gallery_id), None)


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
    target = f"/galleries/{quote(gallery_id, safe='')}"
    try:
        await MediaClient(ui.backend, me).deliver(gallery_id)
    except ServiceError as refusal:
        target += f"?delivery_error={quote(refusal.code or 'unavailable', safe='')}"
    return RedirectResponse(target, status_code=303)


@router.post("/galleries/{gallery_id}/crm/{crm}")
async def set_crm_target(gallery_id: str, crm: str, request: Request, ui: PageUI) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    record = form.get("record_id", "").strip()
    export = ExportClient(ui.backend, me)
    # A refused record id leaves the form as it was (the page shows what export keeps).
    if record:
        await or_default(export.set_crm_target(gallery_id, crm, record), None)
    else:
        await or_default(export.clear_crm_target(gallery_id, crm), None)
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
    if gallery.watermarked:
        return ui.render(request, "partials/watermark_notice.html", me, gallery=gallery)
    return Response(status_code=200, headers={"hx-trigger": "pix:previews-unlocked"})


async def photo_card(
    ui: UI, request: Request, me: Identity, gallery_id: str, asset_id: str, **ctx: Any
) -> Response:
    found = [p for p in await photos(ui, me, gallery_id) if p.id == asset_id]
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
    try:
        await CaptioningClient(ui.backend, me).edit_caption(asset_id, edit)
    except ServiceError as refusal:
        _, message = ui.field_errors(request, me, refusal, "title_de")
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
    before = [p for p in await photos(ui, me, gallery_id) if p.id == asset_id]
    try:
        fresh = await CaptioningClient(ui.backend, me).regenerate(asset_id)
    except ServiceError:
        return await photo_card(
            ui, request, me, gallery_id, asset_id, error=translate("error.503", locale)
        )
    old = before[0].caption.caption if before and before[0].caption else None
    # The model may well say the same again (the offline one always does): say so, rather
    # than leave the person wondering whether anything happened.
    key = "gallery.regenerated_same" if fresh.caption == old else "gallery.regenerated"
    notice = translate(key, locale, version=fresh.caption_version)
    return caption_changed(await photo_card(ui, request, me, gallery_id, asset_id, notice=notice))


@router.post("/galleries/{gallery_id}/photos/{asset_id}/cover", response_class=HTMLResponse)
async def choose_cover(gallery_id: str, asset_id: str, request: Request, ui: PageUI) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    # Media keeps the title picture; export follows it (media.gallery.arranged.v1).
    await or_default(ClientGalleryClient(ui.backend, me).choose_title(gallery_id, asset_id), None)
    return RedirectResponse(f"/galleries/{gallery_id}#photo-{asset_id}", status_code=303)


@router.post("/galleries/{gallery_id}/photos/{asset_id}/delete")
async def delete_photo(gallery_id: str, asset_id: str, request: Request, ui: PageUI) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    await or_default(MediaClient(ui.backend, me).delete_asset(asset_id), None)
    return RedirectResponse(f"/galleries/{gallery_id}", status_code=303)


async def exports_of(ui: UI, me: Identity, gallery_id: str) -> tuple[list[ExportVersion], bool]:
    """The export versions, newest first, and whether they wait for the order's payment (402)."""
    try:
        return await ExportClient(ui.backend, me).exports(gallery_id), False
    except PaymentRequired:
        return [], True
    except ServiceError:
        return [], False


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
    try:
        bundle = await ExportClient(ui.backend, me).original_bundle(gallery_id, version)
    except ServiceError as exc:
        raise PageError(503, "error.503") from exc
    return RedirectResponse(bundle.download_url, status_code=303)
