"""HTTP API (the gateway proxies /api/exports/... here): exports, cover, bundles, webhooks, CRM."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pix_runtime.http import CurrentIdentity
from pydantic import BaseModel, Field, SecretStr

from pix_export.crm_push import Crm, CrmDesk
from pix_export.service import ExportDesk
from pix_export.webhooks import WebhookDesk


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
    failed_count: int = 0
    complete: bool = False
    delivery: int | None = None
    created_at: datetime
    files: list[ExportFileView]


class PhotoView(BaseModel):
    asset_id: uuid.UUID
    name: str
    status: Literal["pending", "ready", "failed"]
    room_type: str | None
    failure_reason: str | None
    cover: bool


class PhotosView(BaseModel):
    gallery_id: uuid.UUID
    reference: str | None
    cover_asset_id: uuid.UUID | None
    cover_chosen: bool
    photos: list[PhotoView]


class CoverChoice(BaseModel):
    asset_id: uuid.UUID | None = Field(description="The cover photo; null for the default")


class WebhookCreate(BaseModel):
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=200)


class WebhookView(BaseModel):
    id: uuid.UUID
    url: str
    description: str
    active: bool
    created_at: datetime


class WebhookCreated(WebhookView):
    secret: str = Field(description="Signing secret; shown only in this response")


class DeliveryView(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: Literal["pending", "sending", "retrying", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class CrmCredentials(BaseModel):
    """onOffice: `token` and `secret` of the API user; Propstack: `api_key`."""

    # SecretStr: a credential never shows up in a repr, a log line or an error echo.
    token: SecretStr | None = Field(default=None, max_length=200)
    secret: SecretStr | None = Field(default=None, max_length=200)
    api_key: SecretStr | None = Field(default=None, max_length=200)

    def plain(self) -> dict[str, str]:
        fields = {"token": self.token, "secret": self.secret, "api_key": self.api_key}
        return {k: v.get_secret_value() for k, v in fields.items() if v is not None}


class CrmConnectionView(BaseModel):
    org_id: uuid.UUID
    crm: Crm
    hint: str = Field(description="The last characters of the token / API key, never more")
    created_at: datetime
    updated_at: datetime


class CrmTargetSet(BaseModel):
    record_id: str | int = Field(
        description="onOffice estate id (relatedRecordId) or Propstack property id"
    )


class CrmTargetView(BaseModel):
    crm: Crm
    record_id: str
    updated_at: datetime


class CrmPushView(BaseModel):
    id: uuid.UUID
    crm: Crm
    version: int
    record_id: str | None
    status: Literal["pending", "sending", "retrying", "pushed", "failed"]
    attempts: int
    images_pushed: int
    image_count: int | None
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    pushed_at: datetime | None
    created_at: datetime


# A gallery whose order waits for its payment (billing.order.payment-required.v1, not yet paid).
LOCKED: dict[int | str, dict[str, Any]] = {
    402: {"description": "payment_required: the downloads wait until the order is paid"}
}


def desk_of(request: Request) -> ExportDesk:
    desk: ExportDesk = request.app.state.desk
    return desk


def hooks_of(request: Request) -> WebhookDesk:
    hooks: WebhookDesk = request.app.state.webhooks
    return hooks


def crm_of(request: Request) -> CrmDesk:
    crm: CrmDesk = request.app.state.crm
    return crm


Desk = Annotated[ExportDesk, Depends(desk_of)]
Hooks = Annotated[WebhookDesk, Depends(hooks_of)]
Crms = Annotated[CrmDesk, Depends(crm_of)]
router = APIRouter()
ForOrg = Annotated[uuid.UUID | None, Query(description="admins: act for this organisation")]


@router.get("/galleries/{gallery_id}/exports", responses=LOCKED)
async def list_exports(
    desk: Desk, gallery_id: uuid.UUID, caller: CurrentIdentity
) -> list[ExportView]:
    return [ExportView.model_validate(e) for e in await desk.exports_of(gallery_id, caller)]


@router.get("/galleries/{gallery_id}/exports/latest", responses=LOCKED)
async def latest_export(desk: Desk, gallery_id: uuid.UUID, caller: CurrentIdentity) -> ExportView:
    return ExportView.model_validate(await desk.export_of(gallery_id, None, caller))


@router.get("/galleries/{gallery_id}/exports/{version}", responses=LOCKED)
async def get_export(
    desk: Desk, gallery_id: uuid.UUID, version: int, caller: CurrentIdentity
) -> ExportView:
    return ExportView.model_validate(await desk.export_of(gallery_id, version, caller))


@router.post("/galleries/{gallery_id}/exports/{version}/bundle", responses=LOCKED)
async def bundle(
    desk: Desk,
    gallery_id: uuid.UUID,
    version: int,
    caller: CurrentIdentity,
    size: Annotated[Literal["web", "original"], Query()] = "web",
) -> ExportFileView:
    file = await desk.bundle(gallery_id, version, size, caller)
    return ExportFileView.model_validate(file.model_dump())


@router.get("/galleries/{gallery_id}/photos")
async def photos(desk: Desk, gallery_id: uuid.UUID, caller: CurrentIdentity) -> PhotosView:
    return PhotosView.model_validate(await desk.photos_of(gallery_id, caller))


@router.put("/galleries/{gallery_id}/cover")
async def choose_cover(
    desk: Desk, gallery_id: uuid.UUID, choice: CoverChoice, caller: CurrentIdentity
) -> PhotosView:
    return PhotosView.model_validate(await desk.choose_cover(gallery_id, choice.asset_id, caller))


@router.post("/webhooks", status_code=201)
async def register_webhook(
    hooks: Hooks, body: WebhookCreate, caller: CurrentIdentity
) -> WebhookCreated:
    return WebhookCreated.model_validate(await hooks.register(caller, body.url, body.description))


@router.get("/webhooks")
async def list_webhooks(hooks: Hooks, caller: CurrentIdentity) -> list[WebhookView]:
    return [WebhookView.model_validate(w) for w in await hooks.listed(caller)]


@router.delete("/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(hooks: Hooks, webhook_id: uuid.UUID, caller: CurrentIdentity) -> Response:
    await hooks.delete(webhook_id, caller)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries")
async def deliveries(
    hooks: Hooks, webhook_id: uuid.UUID, caller: CurrentIdentity
) -> list[DeliveryView]:
    return [DeliveryView.model_validate(d) for d in await hooks.deliveries(webhook_id, caller)]


@router.post("/webhooks/{webhook_id}/test")
async def send_test(hooks: Hooks, webhook_id: uuid.UUID, caller: CurrentIdentity) -> DeliveryView:
    return DeliveryView.model_validate(await hooks.send_test(webhook_id, caller))


@router.get("/crm/connections")
async def crm_connections(
    crm: Crms, caller: CurrentIdentity, org_id: ForOrg = None
) -> list[CrmConnectionView]:
    return [CrmConnectionView.model_validate(c) for c in await crm.connections(caller, org_id)]


@router.put("/crm/connections/{name}")
async def save_crm_connection(
    crm: Crms, name: Crm, body: CrmCredentials, caller: CurrentIdentity, org_id: ForOrg = None
) -> CrmConnectionView:
    return CrmConnectionView.model_validate(
        await crm.save_connection(caller, name, body.plain(), org_id)
    )


@router.delete("/crm/connections/{name}", status_code=204)
async def delete_crm_connection(
    crm: Crms, name: Crm, caller: CurrentIdentity, org_id: ForOrg = None
) -> Response:
    await crm.delete_connection(caller, name, org_id)
    return Response(status_code=204)


@router.get("/galleries/{gallery_id}/crm-targets")
async def crm_targets(
    crm: Crms, gallery_id: uuid.UUID, caller: CurrentIdentity
) -> list[CrmTargetView]:
    return [CrmTargetView.model_validate(t) for t in await crm.targets(caller, gallery_id)]


@router.put("/galleries/{gallery_id}/crm-targets/{name}")
async def set_crm_target(
    crm: Crms, gallery_id: uuid.UUID, name: Crm, body: CrmTargetSet, caller: CurrentIdentity
) -> CrmTargetView:
    return CrmTargetView.model_validate(
        await crm.set_target(caller, gallery_id, name, str(body.record_id))
    )


@router.delete("/galleries/{gallery_id}/crm-targets/{name}", status_code=204)
async def delete_crm_target(
    crm: Crms, gallery_id: uuid.UUID, name: Crm, caller: CurrentIdentity
) -> Response:
    await crm.delete_target(caller, gallery_id, name)
    return Response(status_code=204)


@router.get("/galleries/{gallery_id}/crm-pushes")
async def crm_pushes(
    crm: Crms, gallery_id: uuid.UUID, caller: CurrentIdentity
) -> list[CrmPushView]:
    return [CrmPushView.model_validate(p) for p in await crm.pushes(caller, gallery_id)]


@router.post("/galleries/{gallery_id}/crm-pushes/{push_id}/retry")
async def retry_crm_push(
    crm: Crms, gallery_id: uuid.UUID, push_id: uuid.UUID, caller: CurrentIdentity
) -> CrmPushView:
    return CrmPushView.model_validate(await crm.retry(caller, gallery_id, push_id))
