"""Virtual staging on the pages: the gallery's "Virtuell einrichten" per captioned photo, and the
progress of a staging (the listing page's too).

The assistant stages in a job (POST /staging answers 202 with the staging), so no page waits
for the image model: the staging's card polls GET /staging/{id} every second while it is
queued or running and then shows the staged photo with its label, or the reason it failed.

The staged photo belongs to the listing the gallery was ordered for (listings makes one per
order and keeps the order's reference and the gallery's id); a gallery without a listing says
so instead of offering a staging that has nowhere to go.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.clients.media_models import GalleryDetail
from pix_gateway.gallery_pages import gallery_or_404
from pix_gateway.pages import UI, PageUI

STYLES = ("modern", "scandinavian", "classic", "industrial", "cosy")
BUSY = ("queued", "running")
# Listings whose reference differs from the gallery's (renamed by the agent) are looked for
# among this many most recently changed ones.
RECENT_LISTINGS = 20

router = APIRouter()


async def listing_of_gallery(ui: UI, me: Identity, gallery: GalleryDetail) -> dict[str, Any] | None:
    """The caller's listing made for this gallery's order, with its media; None without one."""
    summaries = await ui.part("listings", "/listings?limit=500", me, [])
    if not isinstance(summaries, list):
        return None
    same = [s for s in summaries if s.get("reference") == gallery.reference]
    others = [s for s in summaries[:RECENT_LISTINGS] if s not in same]
    for summary in same + others:
        listing = await ui.part("listings", f"/listings/{summary['id']}", me, None)
        if isinstance(listing, dict) and listing.get("gallery_id") == gallery.id:
            return listing
    return None


async def fetch_staging(ui: UI, me: Identity, staging_id: str) -> dict[str, Any]:
    """The assistant's staging, or a failed stand-in that says why it cannot be shown."""
    try:
        response = await ui.backend.call(
            "GET", "assistant", f"/staging/{quote(staging_id, safe='')}", identity=me
        )
    except httpx.HTTPError:
        return {"id": staging_id, "status": "unreachable"}
    if response.status_code in (404, 422):
        return {"id": staging_id, "status": "unknown"}
    if not response.is_success:
        return {"id": staging_id, "status": "unreachable"}
    staging: dict[str, Any] = response.json()
    return staging


def render_staging(ui: UI, request: Request, me: Identity, staging: dict[str, Any]) -> Response:
    card = ui.render(
        request, "partials/staging.html", me, staging=staging, staging_busy=BUSY, styles=STYLES
    )
    if staging.get("status") == "done":
        # The listing page shows its media again, the staged photo beside its original.
        card.headers["hx-trigger"] = "pix:staged"
    return card


@router.get("/staging/{staging_id}", response_class=HTMLResponse)
async def staging_card(staging_id: str, request: Request, ui: PageUI) -> Response:
    """A staging's card: polls itself while busy (htmx), then the staged photo or the reason."""
    me = await ui.signed_in(request)
    return render_staging(ui, request, me, await fetch_staging(ui, me, staging_id))


@router.get("/galleries/{gallery_id}/staging", response_class=HTMLResponse)
async def gallery_staging_panel(gallery_id: str, request: Request, ui: PageUI) -> Response:
    """The gallery's staging panel: whether its photos can be staged, and the staging the page
    was sent back with (a form posted without htmx)."""
    me = await ui.signed_in(request)
    gallery = await gallery_or_404(ui, me, gallery_id)
    listing = await listing_of_gallery(ui, me, gallery)
    asked = staging_id_of(request)
    # Only a code travels in the link (a message there could be anyone's words).
    refused = re.sub(r"[^a-z_]", "", request.query_params.get("staging_error", ""))[:40]
    staging: dict[str, Any] | None = None
    if asked:
        staging = await fetch_staging(ui, me, asked)
    elif refused:
        staging = {"id": "", "status": "refused", "code": refused}
    return ui.render(
        request,
        "partials/staging_panel.html",
        me,
        gallery=gallery,
        listing=listing,
        staging=staging,
        staging_busy=BUSY,
    )


def _problem(
    ui: UI, request: Request, me: Identity, gallery_id: str, code: str, listing_id: str = ""
) -> Response:
    staging = {"id": "", "status": "refused", "code": code, "listing_id": listing_id}
    if request.headers.get("hx-request"):
        return render_staging(ui, request, me, staging)
    query = urlencode({"staging_error": code})
    return RedirectResponse(f"/galleries/{quote(gallery_id, safe='')}?{query}", status_code=303)


@router.post("/galleries/{gallery_id}/stage", response_class=HTMLResponse)
async def gallery_stage(gallery_id: str, request: Request, ui: PageUI) -> Response:
    """ "Virtuell einrichten" from the gallery: the photo's copy in the gallery's listing goes to
    the assistant, which answers at once; the staging's card follows it from there."""
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    gallery = await gallery_or_404(ui, me, gallery_id)
    style = form.get("style") if form.get("style") in STYLES else "modern"
    listing = await listing_of_gallery(ui, me, gallery)
    if listing is None:
        return _problem(ui, request, me, gallery_id, "no_listing")
    media = next(
        (m for m in listing.get("media", []) if m.get("asset_id") == form.get("asset_id")), None
    )
    if media is None:
        # Listings takes its photos from the delivered export: not there before delivery.
        return _problem(ui, request, me, gallery_id, "not_delivered", str(listing["id"]))
    body = {"listing_id": str(listing["id"]), "media_id": str(media["id"]), "style": style}
    try:
        response = await ui.backend.call("POST", "assistant", "/staging", identity=me, json=body)
        answer = response.json()
    except (httpx.HTTPError, ValueError):
        return _problem(ui, request, me, gallery_id, "unavailable", str(listing["id"]))
    if response.status_code != 202 or not isinstance(answer, dict):
        error = answer.get("error", {}) if isinstance(answer, dict) else {}
        code = str(error.get("code") or "error")
        return _problem(ui, request, me, gallery_id, code, str(listing["id"]))
    if request.headers.get("hx-request"):
        return render_staging(ui, request, me, answer)
    query = urlencode({"staging": answer["id"]})
    return RedirectResponse(
        f"/galleries/{quote(gallery_id, safe='')}?{query}#stagings", status_code=303
    )


def staging_id_of(request: Request) -> str:
    """The staging a page was sent back with (`?staging=`), as a uuid or nothing."""
    try:
        return str(uuid.UUID(request.query_params.get("staging", "")))
    except ValueError:
        return ""
