"""Caption API (the gateway proxies it at /api/captioning/...): read, edit, history, regenerate;
admins list and retry failures. Another organisation's asset is a 404, like an unknown one.
Replicate's webhook needs no identity: its signature is the credential."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pix_contracts import CaptionText
from pix_runtime.errors import NotFound
from pix_runtime.http import CurrentIdentity, read_limited_body
from pydantic import Field

from pix_captioning.reports import CaptionReports, ProviderCaptions
from pix_captioning.service import CaptionDesk, CaptionEdit, CaptionFailure, CaptionVersion

# A completed prediction (input, output, logs) is a few KB; the gateway has the same limit.
WEBHOOK_BODY_LIMIT = 1 << 20


class CaptionView(CaptionVersion):
    """A caption version as the API shows it: its content is the `caption`, and what only the
    service needs stays out."""

    id: uuid.UUID = Field(exclude=True)
    org_id: uuid.UUID = Field(exclude=True)
    web_key: str | None = Field(exclude=True)
    content: CaptionText = Field(serialization_alias="caption")

    @classmethod
    def of(cls, version: CaptionVersion) -> "CaptionView":
        return cls.model_validate(version, from_attributes=True)


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
    return CaptionView.of(await desk.edit(asset_id, body, caller))


@router.post("/assets/{asset_id}/caption/regenerate", status_code=201)
async def regenerate_caption(
    desk: Desk, asset_id: uuid.UUID, caller: CurrentIdentity
) -> CaptionView:
    return CaptionView.of(await desk.regenerate(asset_id, caller))


@router.get("/admin/failures")
async def list_failures(
    desk: Desk, caller: CurrentIdentity, resolved: bool = False
) -> list[CaptionFailure]:
    return await desk.failures(caller, include_resolved=resolved)


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


def _reports(request: Request) -> CaptionReports:
    reports: CaptionReports = request.app.state.reports
    return reports


@router.get("/reports/captions")
async def per_provider_report(
    caller: CurrentIdentity,
    reports: Annotated[CaptionReports, Depends(_reports)],
    since: datetime,
    org_id: uuid.UUID | None = None,
) -> list[ProviderCaptions]:
    """Captions, provider failures, failure rate and latency p50/p95 per provider
    (admins: all or `org_id`; owners: their own organisation)."""
    return await reports.per_provider(caller, org_id, since)
