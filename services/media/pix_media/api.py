import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from fastapi import APIRouter, Depends
from pix_runtime.identity import Identity
from pydantic import BaseModel, Field
from sqlalchemy import RowMapping

from pix_media.service import MediaLibrary


class UploadRequest(BaseModel):
    file_name: str = Field(min_length=1, max_length=255)
    byte_size: int = Field(gt=0)


class UploadTicketView(BaseModel):
    asset_id: uuid.UUID
    upload_url: str
    method: str
    expires_at: datetime
    max_bytes: int


class AssetView(BaseModel):
    id: uuid.UUID
    gallery_id: uuid.UUID
    label: str
    status: str
    pseudonym: str | None
    room_type: str | None
    width: int | None
    height: int | None
    byte_size: int | None
    error_code: str | None
    error_message: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: RowMapping) -> Self:
        return cls.model_validate(dict(row))


class GalleryView(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    reference: str
    title: str
    created_at: datetime


class GalleryDetail(GalleryView):
    assets: list[AssetView]


def create_router(library: MediaLibrary, current_identity: Any) -> APIRouter:
    router = APIRouter()
    Caller = Annotated[Identity, Depends(current_identity)]

    @router.get("/galleries")
    async def list_galleries(caller: Caller) -> list[GalleryView]:
        return [GalleryView.model_validate(dict(r)) for r in await library.list_galleries(caller)]

    @router.get("/galleries/{gallery_id}")
    async def get_gallery(gallery_id: uuid.UUID, caller: Caller) -> GalleryDetail:
        gallery = await library.gallery(gallery_id, caller)
        rows = await library.gallery_assets(gallery_id, caller)
        return GalleryDetail(**dict(gallery), assets=[AssetView.of(r) for r in rows])

    @router.post("/galleries/{gallery_id}/uploads", status_code=201)
    async def start_upload(
        gallery_id: uuid.UUID, body: UploadRequest, caller: Caller
    ) -> UploadTicketView:
        ticket = await library.issue_upload_url(
            gallery_id, file_name=body.file_name, byte_size=body.byte_size, by=caller
        )
        return UploadTicketView.model_validate(ticket, from_attributes=True)

    @router.post("/assets/{asset_id}/complete")
    async def complete_upload(asset_id: uuid.UUID, caller: Caller) -> AssetView:
        return AssetView.of(await library.complete_upload(asset_id, caller))

    @router.get("/assets/{asset_id}")
    async def get_asset(asset_id: uuid.UUID, caller: Caller) -> AssetView:
        return AssetView.of(await library.asset(asset_id, caller))

    return router
