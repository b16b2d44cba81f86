"""HTTP routes of share links (thin): the agent's under /galleries, the visitor's under /public
(no identity: the signed token, and for a PIN the grant, are the credential; the gateway's
share page calls them, they are not proxied to browsers)."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from pix_runtime.http import CurrentIdentity
from pydantic import BaseModel, Field

from pix_media.arrangement_api import DownloadView, SizeQuery
from pix_media.sharing import MAX_DAYS, GalleryShares, SharedGallery, ShareLink


class ShareRequest(BaseModel):
    label: str = Field(default="", max_length=120, description="For whom (shown to the agent)")
    pin: str | None = Field(default=None, description="4 to 8 digits; none: no PIN asked")
    expires_in_days: int = Field(default=14, ge=1, le=MAX_DAYS)


class PinAttempt(BaseModel):
    pin: str = Field(max_length=20)


class ShareGrantView(BaseModel):
    grant: str = Field(description="Send back as X-Pix-Share-Grant")
    expires_at: datetime


def shares_of(request: Request) -> GalleryShares:
    shares: GalleryShares = request.app.state.shares
    return shares


Shares = Annotated[GalleryShares, Depends(shares_of)]
Grant = Annotated[str | None, Header(alias="X-Pix-Share-Grant")]
router = APIRouter()


@router.get("/galleries/{gallery_id}/shares")
async def list_share_links(
    gallery_id: uuid.UUID, caller: CurrentIdentity, shares: Shares
) -> list[ShareLink]:
    return await shares.links(gallery_id, caller)


@router.post("/galleries/{gallery_id}/shares", status_code=201)
async def create_share_link(
    gallery_id: uuid.UUID, body: ShareRequest, caller: CurrentIdentity, shares: Shares
) -> ShareLink:
    return await shares.create(
        gallery_id, caller, days=body.expires_in_days, pin=body.pin, label=body.label
    )


@router.post("/galleries/{gallery_id}/shares/{share_id}/revoke")
async def revoke_share_link(
    gallery_id: uuid.UUID, share_id: uuid.UUID, caller: CurrentIdentity, shares: Shares
) -> ShareLink:
    return await shares.revoke(gallery_id, share_id, caller)


@router.post("/public/shares/{token}/unlock")
async def unlock_share_link(token: str, body: PinAttempt, shares: Shares) -> ShareGrantView:
    """A grant for the right PIN (401 never: 422 wrong_pin, 429 pin_locked)."""
    granted = await shares.unlock(token, body.pin)
    return ShareGrantView(grant=granted.grant, expires_at=granted.expires_at)


@router.get("/public/shares/{token}")
async def view_shared_gallery(token: str, shares: Shares, grant: Grant = None) -> SharedGallery:
    """The shared gallery (counts a view). 401 pin_required, 410 link_expired/link_revoked."""
    return await shares.view(token, grant)


@router.get("/public/shares/{token}/photos/{asset_id}/download")
async def download_shared_photo(
    token: str, asset_id: uuid.UUID, size: SizeQuery, shares: Shares, grant: Grant = None
) -> DownloadView:
    found = await shares.download(token, grant, asset_id, size)
    return DownloadView(
        asset_id=found.asset_id, size=found.size, url=found.url, file_name=found.file_name
    )
