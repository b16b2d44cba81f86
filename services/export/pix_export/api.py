import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pix_runtime.identity import Identity
from pydantic import BaseModel

from pix_export.service import ExportDesk


class ExportFileView(BaseModel):
    name: str
    format: str
    media_type: str
    download_url: str
    sha256: str
    byte_size: int


class ExportView(BaseModel):
    version: int
    asset_count: int
    created_at: datetime
    files: list[ExportFileView]


def create_router(desk: ExportDesk, current_identity: Any) -> APIRouter:
    router = APIRouter()
    Caller = Annotated[Identity, Depends(current_identity)]

    @router.get("/galleries/{gallery_id}/exports")
    async def list_exports(gallery_id: uuid.UUID, caller: Caller) -> list[ExportView]:
        return [ExportView.model_validate(e) for e in await desk.exports_of(gallery_id, caller)]

    return router
