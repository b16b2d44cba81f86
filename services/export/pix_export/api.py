"""HTTP API (the gateway proxies /api/exports/... here): exports, cover, bundles, webhooks, CRM."""

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pix_runtime.http import CurrentIdentity
from pydantic import BaseModel, Field, SecretStr

from pix_export.crm_push import Crm, CrmConnection, CrmDesk, CrmPush, CrmTarget
from pix_export.service import ExportDesk, ExportDownload, ExportVersion, GalleryPhotos
from pix_export.webhooks import Webhook, WebhookCreated, WebhookDelivery, WebhookDesk


class CoverChoice(BaseModel):
    asset_id: uuid.UUID | None = Field(description="The cover photo; null for the default")


class WebhookCreate(BaseModel):
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=200)


class CrmCredentials(BaseModel):
    """onOffice: `token` and `secret` of the API user; Propstack: `api_key`."""

    # SecretStr: a credential never shows up in a repr, a log line or an error echo.
    token: SecretStr | None = Field(default=None, max_length=200)
    secret: SecretStr | None = Field(default=None, max_length=200)
    api_key: SecretStr | None = Field(default=None, max_length=200)

    def plain(self) -> dict[str, str]:
        fields = {"token": self.token, "secret": self.secret, "api_key": self.api_key}
        return {k: v.get_secret_value() for k, v in fields.items() if v is not None}


class CrmTargetSet(BaseModel):
    record_id: str | int = Field(
        description="onOffice estate id (relatedRecordId) or Propstack property id"
    )


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
) -> list[ExportVersion]:
    return await desk.exports_of(gallery_id, caller)


@router.get("/galleries/{gallery_id}/exports/latest", responses=LOCKED)
async def latest_export(
    desk: Desk, gallery_id: uuid.UUID, caller: CurrentIdentity
) -> ExportVersion:
    return await desk.export_of(gallery_id, None, caller)


@router.get("/galleries/{gallery_id}/exports/{version}", responses=LOCKED)
async def get_export(
    desk: Desk, gallery_id: uuid.UUID, version: int, caller: CurrentIdentity
) -> ExportVersion:
    return await desk.export_of(gallery_id, version, caller)


@router.post("/galleries/{gallery_id}/exports/{version}/bundle", responses=LOCKED)
async def bundle(
    desk: Desk,
    gallery_id: uuid.UUID,
    version: int,
    caller: CurrentIdentity,
    size: Annotated[Literal["web", "original"], Query()] = "web",
) -> ExportDownload:
    return ExportDownload.of(await desk.bundle(gallery_id, version, size, caller))


@router.get("/galleries/{gallery_id}/photos")
async def photos(desk: Desk, gallery_id: uuid.UUID, caller: CurrentIdentity) -> GalleryPhotos:
    return await desk.photos_of(gallery_id, caller)


@router.put("/galleries/{gallery_id}/cover")
async def choose_cover(
    desk: Desk, gallery_id: uuid.UUID, choice: CoverChoice, caller: CurrentIdentity
) -> GalleryPhotos:
    return await desk.choose_cover(gallery_id, choice.asset_id, caller)


@router.post("/webhooks", status_code=201)
async def register_webhook(
    hooks: Hooks, body: WebhookCreate, caller: CurrentIdentity
) -> WebhookCreated:
    return await hooks.register(caller, body.url, body.description)


@router.get("/webhooks")
async def list_webhooks(hooks: Hooks, caller: CurrentIdentity) -> list[Webhook]:
    return await hooks.listed(caller)


@router.delete("/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(hooks: Hooks, webhook_id: uuid.UUID, caller: CurrentIdentity) -> Response:
    await hooks.delete(webhook_id, caller)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries")
async def deliveries(
    hooks: Hooks, webhook_id: uuid.UUID, caller: CurrentIdentity
) -> list[WebhookDelivery]:
    return await hooks.deliveries(webhook_id, caller)


@router.post("/webhooks/{webhook_id}/test")
async def send_test(
    hooks: Hooks, webhook_id: uuid.UUID, caller: CurrentIdentity
) -> WebhookDelivery:
    return await hooks.send_test(webhook_id, caller)


@router.get("/crm/connections")
async def crm_connections(
    crm: Crms, caller: CurrentIdentity, org_id: ForOrg = None
) -> list[CrmConnection]:
    return await crm.connections(caller, org_id)


@router.put("/crm/connections/{name}")
async def save_crm_connection(
    crm: Crms, name: Crm, body: CrmCredentials, caller: CurrentIdentity, org_id: ForOrg = None
) -> CrmConnection:
    return await crm.save_connection(caller, name, body.plain(), org_id)


@router.delete("/crm/connections/{name}", status_code=204)
async def delete_crm_connection(
    crm: Crms, name: Crm, caller: CurrentIdentity, org_id: ForOrg = None
) -> Response:
    await crm.delete_connection(caller, name, org_id)
    return Response(status_code=204)


@router.get("/galleries/{gallery_id}/crm-targets")
async def crm_targets(crm: Crms, gallery_id: uuid.UUID, caller: CurrentIdentity) -> list[CrmTarget]:
    return await crm.targets(caller, gallery_id)


@router.put("/galleries/{gallery_id}/crm-targets/{name}")
async def set_crm_target(
    crm: Crms, gallery_id: uuid.UUID, name: Crm, body: CrmTargetSet, caller: CurrentIdentity
) -> CrmTarget:
    return await crm.set_target(caller, gallery_id, name, str(body.record_id))


@router.delete("/galleries/{gallery_id}/crm-targets/{name}", status_code=204)
async def delete_crm_target(
    crm: Crms, gallery_id: uuid.UUID, name: Crm, caller: CurrentIdentity
) -> Response:
    await crm.delete_target(caller, gallery_id, name)
    return Response(status_code=204)


@router.get("/galleries/{gallery_id}/crm-pushes")
async def crm_pushes(crm: Crms, gallery_id: uuid.UUID, caller: CurrentIdentity) -> list[CrmPush]:
    return await crm.pushes(caller, gallery_id)


@router.post("/galleries/{gallery_id}/crm-pushes/{push_id}/retry")
async def retry_crm_push(
    crm: Crms, gallery_id: uuid.UUID, push_id: uuid.UUID, caller: CurrentIdentity
) -> CrmPush:
    return await crm.retry(caller, gallery_id, push_id)
