"""Floor plans and videos on the gallery page: their own uploaders (only for services the order
included) and sections with the plan's preview or the video's poster frame and the file.

The uploaders are the photos' (`static/upload.js`, one per `[data-upload]` section, its
`data-kind` sent with every upload); media checks each file's content against the kind."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pix_gateway.clients.media_models import AssetView, GalleryDetail
from pix_gateway.gallery_pages import SETTLED, gallery_or_404
from pix_gateway.pages import PageUI

# Order service (pix_orders.catalogue) → the asset kind it allows.
KIND_OF_SERVICE = {"floorplan": "floor_plan", "video": "video"}
# A floor plan or video is done when ready; refused ones are done too.
DONE = (*SETTLED, "ready")

router = APIRouter()


def deliverable_kinds(gallery: GalleryDetail) -> list[str]:
    """The kinds the gallery takes besides photos, in the page's order."""
    ordered = set(gallery.ordered_services or [])
    return [kind for service, kind in KIND_OF_SERVICE.items() if service in ordered]


def deliverables_of(gallery: GalleryDetail) -> dict[str, list[AssetView]]:
    found: dict[str, list[AssetView]] = {kind: [] for kind in deliverable_kinds(gallery)}
    for asset in gallery.assets:
        if asset.kind != "photo":
            found.setdefault(asset.kind, []).append(asset)
    return found


def deliverables_busy(found: dict[str, list[AssetView]]) -> bool:
    return any(a.status not in DONE for assets in found.values() for a in assets)


@router.get("/galleries/{gallery_id}/deliverables", response_class=HTMLResponse)
async def deliverables_panel(gallery_id: str, request: Request, ui: PageUI) -> Response:
    me = await ui.signed_in(request)
    gallery = await gallery_or_404(ui, me, gallery_id)
    found = deliverables_of(gallery)
    return ui.render(
        request,
        "partials/deliverables.html",
        me,
        gallery=gallery,
        deliverables=found,
        deliverables_busy=deliverables_busy(found),
    )
