"""Notify's HTTP API: the mail log and suppressions for admins, Mailgun's event webhook."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pix_runtime.errors import Forbidden, NotFound
from pix_runtime.http import CurrentIdentity
from pix_runtime.identity import Identity
from pydantic import BaseModel, ConfigDict, Field

from pix_notify.bounces import MailgunWebhooks
from pix_notify.delivery import Courier, LoggedMail, MailStatus, Suppression

router = APIRouter()


def courier_of(request: Request) -> Courier:
    courier: Courier = request.app.state.courier
    return courier


def webhooks_of(request: Request) -> MailgunWebhooks:
    webhooks: MailgunWebhooks = request.app.state.webhooks
    return webhooks


def admin_of(identity: CurrentIdentity) -> Identity:
    if not identity.is_admin:
        raise Forbidden("only administrators may read the mail log")
    return identity


Admin = Annotated[Identity, Depends(admin_of)]
Mail = Annotated[Courier, Depends(courier_of)]


class MailgunSignature(BaseModel):
    timestamp: str = Field(max_length=20)
    token: str = Field(min_length=1, max_length=200)
    signature: str = Field(max_length=128)


class MailgunWebhook(BaseModel):
    """Mailgun's webhook body; `event-data` is read leniently, Mailgun adds fields over time."""

    model_config = ConfigDict(populate_by_name=True)

    signature: MailgunSignature
    event_data: dict[str, Any] = Field(alias="event-data")


@router.get("/mail")
async def mail_log(
    _: Admin,
    courier: Mail,
    status: MailStatus | None = None,
    recipient: Annotated[str | None, Query(max_length=320)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[LoggedMail]:
    return await courier.log(status=status, recipient=recipient, limit=limit)


@router.get("/suppressions")
async def suppression_list(_: Admin, courier: Mail) -> list[Suppression]:
    return await courier.suppressions()


@router.delete("/suppressions/{email}", status_code=204)
async def lift_suppression(_: Admin, courier: Mail, email: str) -> None:
    if not await courier.lift(email):
        raise NotFound("suppression")


# No identity here: Mailgun calls it (through the gateway) and its signature is the credential,
# checked in MailgunWebhooks.
@router.post("/webhooks/mailgun")
async def mailgun_webhook(
    body: MailgunWebhook, webhooks: Annotated[MailgunWebhooks, Depends(webhooks_of)]
) -> dict[str, str]:
    outcome = await webhooks.receive(
        timestamp=body.signature.timestamp,
        token=body.signature.token,
        signature=body.signature.signature,
        event=body.event_data,
    )
    return {"status": outcome}
