"""HTTP routes of the media service (thin: parse, authorise through the service, shape JSON)."""

import uuid
from datetime import datetime
from typing import Annotated, Self

from fastapi import APIRouter, Depends, Query, Request, Response
from pix_runtime.http import CurrentIdentity
from pix_runtime.storage import UploadedPart
from pydantic import BaseModel, Field

from pix_media.deliverables import AssetKind
from pix_media.delivery import Deliveries, DeliveryView
from pix_media.reports import DayPhotos, MediaReports
from pix_media.service import Asset, Gallery, MediaLibrary
from pix_media.uploads import MultipartPlan, Uploads


class UploadRequest(BaseModel):
    file_name: str = Field(min_length=1, max_length=255)
    byte_size: int = Field(gt=0)
    kind: AssetKind = Field(
        default="photo",
        description="photo; floor_plan (PDF, PNG, SVG) or video (MP4) if the order included it",
    )


class PartUrlView(BaseModel):
    part_number: int
    url: str


class UploadedPartView(BaseModel):
    part_number: int
    size: int
    etag: str


class MultipartView(BaseModel):
    part_size: int
    part_count: int
    uploaded: list[UploadedPartView]
    missing: list[PartUrlView] = Field(description="Signed PUT URLs of the parts still to send")

    @classmethod
    def of(cls, plan: MultipartPlan) -> Self:
        return cls(
            part_size=plan.part_size,
            part_count=plan.part_count,
            uploaded=[
                UploadedPartView(part_number=p.number, size=p.size, etag=p.etag)
                for p in plan.uploaded
            ],
            missing=[PartUrlView(part_number=p.part_number, url=p.url) for p in plan.missing],
        )


class UploadTicketView(BaseModel):
    asset_id: uuid.UUID
    upload_url: str | None = Field(description="Single PUT URL; null for a multipart upload")
    method: str
    expires_at: datetime
    max_bytes: int
    multipart: MultipartView | None


class CompletePart(BaseModel):
    part_number: int = Field(ge=1, le=10_000)
    etag: str = Field(min_length=1, max_length=200)


class CompleteRequest(BaseModel):
    # Optional: without it the server completes with every part it has (1..part_count).
    parts: list[CompletePart] | None = None


class AssetView(Asset):
    """A photo with short-lived links to its renditions (none before they exist)."""

    thumb_url: str | None = None
    web_url: str | None = None
    file_url: str | None = Field(
        default=None, description="A floor plan's or video's delivered file (paid orders)"
    )

    @classmethod
    def of(cls, asset: Asset, urls: dict[str, str | None] | None = None) -> Self:
        shown = {name: getattr(asset, name) for name in Asset.model_fields}
        return cls.model_validate({**shown, **(urls or {})})


class GalleryView(Gallery):
    org_id: uuid.UUID = Field(exclude=True)


class GalleryDetail(GalleryView):
    watermarked: bool = Field(
        description="The order waits for payment: the links are to watermarked previews"
    )
    assets: list[AssetView]


class GalleryStatusView(BaseModel):
    gallery_id: uuid.UUID
    cursor: datetime = Field(description="Pass back as `since` on the next poll")
    counts: dict[str, int] = Field(description="Assets per status in the whole gallery")
    watermarked: bool = Field(
        description="The order waits for payment: the links are to watermarked previews"
    )
    assets: list[AssetView] = Field(description="Assets changed since `since` (may repeat)")


def library_of(request: Request) -> MediaLibrary:
    library: MediaLibrary = request.app.state.library
    return library


def uploads_of(request: Request) -> Uploads:
    uploads: Uploads = request.app.state.uploads
    return uploads


Library = Annotated[MediaLibrary, Depends(library_of)]
UploadDesk = Annotated[Uploads, Depends(uploads_of)]
router = APIRouter()


@router.get("/galleries")
async def list_galleries(library: Library, caller: CurrentIdentity) -> list[GalleryView]:
    galleries = await library.list_galleries(caller)
    return [GalleryView.model_validate(g, from_attributes=True) for g in galleries]


@router.get("/galleries/{gallery_id}")
async def get_gallery(
    library: Library, gallery_id: uuid.UUID, caller: CurrentIdentity
) -> GalleryDetail:
    gallery = await library.gallery(gallery_id, caller)
    rows = await library.gallery_assets(gallery_id, caller)
    marked = await library.watermarked(gallery_id, caller)
    return GalleryDetail(
        **dict(gallery),
        watermarked=marked,
        assets=[AssetView.of(r, await library.preview_urls(r, watermarked=marked)) for r in rows],
    )


@router.get("/galleries/{gallery_id}/status")
async def gallery_status(
    library: Library,
    gallery_id: uuid.UUID,
    caller: CurrentIdentity,
    since: Annotated[datetime | None, Query()] = None,
) -> GalleryStatusView:
    page = await library.gallery_status(gallery_id, caller, since)
    marked = await library.watermarked(gallery_id, caller)
    return GalleryStatusView(
        gallery_id=gallery_id,
        cursor=page.cursor,
        counts=page.counts,
        watermarked=marked,
        assets=[
            AssetView.of(r, await library.preview_urls(r, watermarked=marked)) for r in page.assets
        ],
    )


@router.post("/galleries/{gallery_id}/uploads", status_code=201)
async def start_upload(
    uploads: UploadDesk, gallery_id: uuid.UUID, body: UploadRequest, caller: CurrentIdentity
) -> UploadTicketView:
    ticket = await uploads.start(
        gallery_id, file_name=body.file_name, byte_size=body.byte_size, by=caller, kind=body.kind
    )
    return UploadTicketView(
        asset_id=ticket.asset_id,
        upload_url=ticket.upload_url,
        method=ticket.method,
        expires_at=ticket.expires_at,
        max_bytes=ticket.max_bytes,
        multipart=MultipartView.of(ticket.multipart) if ticket.multipart else None,
    )


@router.get("/assets/{asset_id}/parts")
async def upload_parts(
    uploads: UploadDesk, asset_id: uuid.UUID, caller: CurrentIdentity
) -> MultipartView:
    return MultipartView.of(await uploads.parts(asset_id, caller))


@router.post("/assets/{asset_id}/complete", status_code=202)
async def complete_upload(
    uploads: UploadDesk,
    asset_id: uuid.UUID,
    caller: CurrentIdentity,
    body: CompleteRequest | None = None,
) -> AssetView:
    parts = (
        [UploadedPart(p.part_number, 0, p.etag) for p in body.parts]
        if body and body.parts is not None
        else None
    )
    return AssetView.of(await uploads.complete(asset_id, caller, parts))


@router.get("/assets/{asset_id}")
async def get_asset(library: Library, asset_id: uuid.UUID, caller: CurrentIdentity) -> AssetView:
    asset = await library.asset(asset_id, caller)
    marked = await library.watermarked(asset.gallery_id, caller)
    return AssetView.of(asset, await library.preview_urls(asset, watermarked=marked))


@router.delete("/assets/{asset_id}", status_code=204)
async def delete_asset(library: Library, asset_id: uuid.UUID, caller: CurrentIdentity) -> Response:
    await library.delete_asset(asset_id, caller)
    return Response(status_code=204)


class DeliveryStateView(BaseModel):
    gallery_id: uuid.UUID
    state: str = Field(description="complete: every photo captioned or refused, none in flight")
    set_version: int
    photo_count: int
    in_flight: int
    delivered: bool
    up_to_date: bool = Field(description="Delivered, and the set has not changed since")
    delivery_count: int
    delivered_at: datetime | None
    auto_deliver: bool

    @classmethod
    def of(cls, view: DeliveryView) -> Self:
        return cls(
            gallery_id=view.gallery_id,
            state=view.state,
            set_version=view.set_version,
            photo_count=view.photo_count,
            in_flight=view.in_flight,
            delivered=view.delivered,
            up_to_date=view.up_to_date,
            delivery_count=view.delivery_count,
            delivered_at=view.delivered_at,
            auto_deliver=view.auto_deliver,
        )


def get_deliveries(request: Request) -> Deliveries:
    deliveries: Deliveries = request.app.state.deliveries
    return deliveries


DeliveriesDep = Annotated[Deliveries, Depends(get_deliveries)]

delivery_router = APIRouter()


@delivery_router.get("/galleries/{gallery_id}/delivery")
async def delivery_state(
    gallery_id: uuid.UUID, caller: CurrentIdentity, deliveries: DeliveriesDep
) -> DeliveryStateView:
    return DeliveryStateView.of(await deliveries.view(gallery_id, caller))


@delivery_router.post("/galleries/{gallery_id}/deliver")
async def deliver_gallery(
    gallery_id: uuid.UUID, caller: CurrentIdentity, deliveries: DeliveriesDep
) -> DeliveryStateView:
    """Deliver the gallery now (admins): its complete photo set goes to the client."""
    return DeliveryStateView.of(await deliveries.deliver(gallery_id, caller))


def _reports(request: Request) -> MediaReports:
    reports: MediaReports = request.app.state.reports
    return reports


@router.get("/reports/photos-per-day")
async def photos_per_day_report(
    caller: CurrentIdentity,
    reports: Annotated[MediaReports, Depends(_reports)],
    since: datetime,
    org_id: uuid.UUID | None = None,
) -> list[DayPhotos]:
    """Photos uploaded per day (Berlin) that were processed or rejected
    (admins: all or `org_id`; owners: their own organisation)."""
    return await reports.photos_per_day(caller, org_id, since)
