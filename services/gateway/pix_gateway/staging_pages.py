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
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.clients.assistant import AssistantClient
from pix_gateway.clients.assistant_models import Staging
from pix_gateway.clients.base import Invalid, NotFound, ServiceError, part
from pix_gateway.clients.listings import ListingsClient
from pix_gateway.clients.listings_models import Listing
from pix_gateway.clients.media_models import GalleryDetail
from pix_gateway.gallery_pages import gallery_or_404
from pix_gateway.pages import UI, PageUI

STYLES = ("modern", "scandinavian", "classic", "industrial", "cosy")
BUSY = ("queued", "running")
# Listings whose reference differs from the gallery's (renamed by the agent) are looked for
# among this many most recently changed ones.
RECENT_LISTINGS = 20

router = APIRouter()


@dataclass(frozen=True)
class StagingNotice:
    """In place of a staging the card cannot show: refused before it began (`code` says why),
    unknown, or the assistant unreachable."""

    status: str
    id: str = ""
    code: str = ""
    listing_id: str = ""


ShownStaging = Staging | StagingNotice


async def listing_of_gallery(ui: UI, me: Identity, gallery: GalleryDetail) -> Listing | None:
    """The caller's listing made for this gallery's order, with its media; None without one."""
    listings = ListingsClient(ui.backend, me)
    summaries = await part(listings.listings(limit=500), [])
    same = [s for s in summaries if s.reference == gallery.reference]
    others = [s for s in summaries[:RECENT_LISTINGS] if s not in same]
    for summary in same + others:
        listing = await part(listings.listing(summary.id), None)
        if listing is not None and listing.gallery_id == gallery.id:
            return listing
    return None


async def fetch_staging(ui: UI, me: Identity, staging_id: str) -> ShownStaging:
    """The assistant's staging, or a stand-in that says why it cannot be shown."""
    try:
        return await AssistantClient(ui.backend, me).staging(staging_id)
    except (NotFound, Invalid):
        return StagingNotice(id=staging_id, status="unknown")
    except (httpx.HTTPError, ServiceError):
        return StagingNotice(id=staging_id, status="unreachable")


def render_staging(ui: UI, request: Request, me: Identity, staging: ShownStaging) -> Response:
    card = ui.render(
        request, "partials/staging.html", me, staging=staging, staging_busy=BUSY, styles=STYLES
    )
    if staging.status == "done":
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
    staging: ShownStaging | None = None
    if asked:
        staging = await fetch_staging(ui, me, asked)
    elif refused:
        staging = StagingNotice(status="refused", code=refused)
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
    staging = StagingNotice(status="refused", code=code, listing_id=listing_id)
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
    style = form.get("style", "") if form.get("style") in STYLES else "modern"
    listing = await listing_of_gallery(ui, me, gallery)
    if listing is None:
        return _problem(ui, request, me, gallery_id, "no_listing")
    media = next((m for m in listing.media or [] if m.asset_id == form.get("asset_id")), None)
    if media is None:
        # Listings takes its photos from the delivered export: not there before delivery.
        return _problem(ui, request, me, gallery_id, "not_delivered", listing.id)
    try:
        answer = await AssistantClient(ui.backend, me).stage(listing.id, media.id, style)
    except ServiceError as refusal:
        return _problem(ui, request, me, gallery_id, refusal.code or "error", listing.id)
    except (httpx.HTTPError, ValueError):
        return _problem(ui, request, me, gallery_id, "unavailable", listing.id)
    if request.headers.get("hx-request"):
        return render_staging(ui, request, me, answer)
    query = urlencode({"staging": answer.id})
    return RedirectResponse(
        f"/galleries/{quote(gallery_id, safe='')}?{query}#stagings", status_code=303
    )


def staging_id_of(request: Request) -> str:
    """The staging a page was sent back with (`?staging=`), as a uuid or nothing."""
    try:
        return str(uuid.UUID(request.query_params.get("staging", "")))
    except ValueError:
        return ""
