"""Caption API (the gateway proxies it at /api/captioning/...): read, edit, history, regenerate;
admins list and retry failures. Another organisation's asset is a 404, like an unknown one.
Replicate's webhook needs no identity: its signature is the credential."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pix_runtime.db import NamedRow
from pix_runtime.errors import NotFound
from pix_runtime.http import CurrentIdentity, read_limited_body
from pydantic import BaseModel, ConfigDict, Field

from pix_captioning.service import CaptionDesk

# A completed prediction (input, output, logs) is a few KB; the gateway has the same limit.
WEBHOOK_BODY_LIMIT = 1 << 20


class CaptionView(BaseModel):
    asset_id: uuid.UUID
    gallery_id: uuid.UUID
    pseudonym: str
    asset_version: int
    caption_version: int
    status: str
    review_reason: str | None
    caption: dict[str, Any]
    model: str
    provider: str
    prompt_version: str
    edited: bool
    created_by: uuid.UUID | None
    created_at: datetime
    txt_key: str
    json_key: str

    @classmethod
    def of(cls, row: NamedRow) -> "CaptionView":
        """A caption version's row as the API shows it: its content is the `caption`."""
        fields = {name: row[name] for name in cls.model_fields if name != "caption"}
        return cls.model_validate({**fields, "caption": row["content"]})


class CaptionEdit(BaseModel):
    """Only the fields that change; the rest is taken from the current version."""

    model_config = ConfigDict(extra="forbid")

    title_de: str | None = Field(default=None, min_length=1, max_length=30)
    title_en: str | None = Field(default=None, min_length=1, max_length=30)
    description_de: str | None = Field(default=None, min_length=1, max_length=1000)
    description_en: str | None = Field(default=None, min_length=1, max_length=1000)
    alt_text_de: str | None = Field(default=None, min_length=1, max_length=300)
    alt_text_en: str | None = Field(default=None, min_length=1, max_length=300)
    features: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(
        default=None, max_length=12
    )


class FailureView(BaseModel):
    id: uuid.UUID
    asset_id: uuid.UUID
    asset_version: int
    gallery_id: uuid.UUID
    org_id: uuid.UUID
    pseudonym: str
    kind: str
    reason: str
    attempts: int
    provider: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


def desk_of(request: Request) -> CaptionDesk:
    desk: CaptionDesk = request.app.state.desk
    return desk


Desk = Annotated[CaptionDesk, Depends(desk_of)]
router = APIRouter()


@router.get("/galleries/{gallery_id}/captions")
async def gallery_captions(
    desk: Desk, gallery_id: uuid.UUID, caller: CurrentIdentity
) -> list[CaptionView]:
    return [CaptionView.of(r) for r in await desk.gallery(gallery_id, caller)]


@router.get("/assets/{asset_id}/caption")
async def current_caption(desk: Desk, asset_id: uuid.UUID, caller: CurrentIdentity) -> CaptionView:
    return CaptionView.of(await desk.current(asset_id, caller))


@router.get("/assets/{asset_id}/captions")
async def caption_history(
    desk: Desk, asset_id: uuid.UUID, caller: CurrentIdentity
) -> list[CaptionView]:
    return [CaptionView.of(r) for r in await desk.history(asset_id, caller)]


@router.patch("/assets/{asset_id}/caption")
async def edit_caption(
    desk: Desk, asset_id: uuid.UUID, body: CaptionEdit, caller: CurrentIdentity
) -> CaptionView:
    changes = body.model_dump(exclude_none=True)
    return CaptionView.of(await desk.edit(asset_id, changes, caller))


@router.post("/assets/{asset_id}/caption/regenerate", status_code=201)
async def regenerate_caption(
    desk: Desk, asset_id: uuid.UUID, caller: CurrentIdentity
) -> CaptionView:
    return CaptionView.of(await desk.regenerate(asset_id, caller))


@router.get("/admin/failures")
async def list_failures(
    desk: Desk, caller: CurrentIdentity, resolved: bool = False
) -> list[FailureView]:
    rows = await desk.failures(caller, include_resolved=resolved)
    return [FailureView.model_validate(dict(r)) for r in rows]


@router.post("/admin/failures/{failure_id}/retry")
async def retry_failure(desk: Desk, failure_id: uuid.UUID, caller: CurrentIdentity) -> CaptionView:
    return CaptionView.of(await desk.retry_failure(failure_id, caller))


# No identity: Replicate calls it (through the gateway's public route); the Standard
# Webhooks signature is checked by the replicate client in `PredictionDesk.receive_webhook`.
@router.post("/webhooks/replicate")
async def replicate_webhook(desk: Desk, request: Request) -> dict[str, str]:
    body = await read_limited_body(request, WEBHOOK_BODY_LIMIT)
    if desk.predictions is None:  # not Replicate with a webhook URL: no webhook expected
        raise NotFound("webhook")
    return {"status": await desk.predictions.receive_webhook(request.headers, body)}
