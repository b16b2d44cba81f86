"""HTTP routes of the client's gallery: order, title picture, downloads by use (thin)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pix_runtime.http import CurrentIdentity
from pydantic import BaseModel, Field

from pix_media.arrangement import MAX_SELECTION, Arrangement, DownloadSize, GalleryArrangement


class OrderChoice(BaseModel):
    asset_ids: list[uuid.UUID] = Field(
        max_length=MAX_SELECTION,
        description="Photos in the wanted order; photos left out follow them as before",
    )


class TitleChoice(BaseModel):
    asset_id: uuid.UUID | None = Field(description="The title picture; null for the default")


class DownloadView(BaseModel):
    asset_id: uuid.UUID
    size: DownloadSize
    url: str = Field(description="Short-lived signed link to the file")
    file_name: str


def arrangement_of(request: Request) -> GalleryArrangement:
    arrangement: GalleryArrangement = request.app.state.arrangement
    return arrangement


Arranging = Annotated[GalleryArrangement, Depends(arrangement_of)]
SizeQuery = Annotated[
    DownloadSize,
    Query(
        description="web: 2000 px; portal: ≤ 1920 px and ≤ 5 MB (ImmoScout24, immowelt); "
        "print: the original"
    ),
]
router = APIRouter()


@router.get("/galleries/{gallery_id}/arrangement")
async def get_arrangement(
    gallery_id: uuid.UUID, caller: CurrentIdentity, arranging: Arranging
) -> Arrangement:
    return await arranging.arrangement(gallery_id, caller)


@router.put("/galleries/{gallery_id}/arrangement/order")
async def reorder_photos(
    gallery_id: uuid.UUID, body: OrderChoice, caller: CurrentIdentity, arranging: Arranging
) -> Arrangement:
    return await arranging.reorder(gallery_id, body.asset_ids, caller)


@router.put("/galleries/{gallery_id}/arrangement/title")
async def choose_title(
    gallery_id: uuid.UUID, body: TitleChoice, caller: CurrentIdentity, arranging: Arranging
) -> Arrangement:
    """The title picture; export makes it the cover of its next version."""
    return await arranging.choose_title(gallery_id, body.asset_id, caller)


@router.get("/galleries/{gallery_id}/photos/{asset_id}/download")
async def download_photo(
    gallery_id: uuid.UUID,
    asset_id: uuid.UUID,
    size: SizeQuery,
    caller: CurrentIdentity,
    arranging: Arranging,
) -> DownloadView:
    found = await arranging.download(gallery_id, asset_id, size, caller)
    return DownloadView(
        asset_id=found.asset_id, size=found.size, url=found.url, file_name=found.file_name
    )


@router.get(
    "/galleries/{gallery_id}/download.zip",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
async def download_selection(
    gallery_id: uuid.UUID,
    size: SizeQuery,
    caller: CurrentIdentity,
    arranging: Arranging,
    asset_id: Annotated[list[uuid.UUID] | None, Query()] = None,
) -> StreamingResponse:
    """The chosen photos (`asset_id` repeated; none: all) in one ZIP, streamed."""
    photos = await arranging.selection(gallery_id, asset_id or [], size, caller)
    return StreamingResponse(
        arranging.zip_of(photos, size),
        media_type="application/zip",
        headers={"content-disposition": f'attachment; filename="photos-{size}.zip"'},
    )
