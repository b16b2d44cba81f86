import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pix_runtime.errors import DomainError, NotFound
from pix_runtime.identity import Identity
from pydantic import BaseModel, ConfigDict, Field

from pix_notify.bounces import MailgunWebhooks
from pix_notify.delivery import Courier

Status = Literal["sending", "sent", "retrying", "failed", "suppressed", "bounced"]


# Reset, verification and invitation links are credentials: the log never shows them, or an
# administrator could take over any account from the mail log.
LINK_TOKEN = re.compile(r"token=[^\s\"'<>&]+")


def redact_links(text: str) -> str:
    return LINK_TOKEN.sub("token=[redacted]", text)


class EmailView(BaseModel):
    id: uuid.UUID
    kind: str
    recipient: str
    locale: str
    subject: str
    text_body: str
    status: str
    provider: str
    attempts: int
    error: str | None
    provider_message_id: str | None
    created_at: datetime
    attempted_at: datetime | None
    next_attempt_at: datetime | None
    sent_at: datetime | None


class SuppressionView(BaseModel):
    email: str
    reason: str
    detail: str | None
    source: str
    created_at: datetime


class MailgunSignature(BaseModel):
    timestamp: str = Field(max_length=20)
    token: str = Field(min_length=1, max_length=200)
    signature: str = Field(max_length=128)


class MailgunWebhook(BaseModel):
    """Mailgun's webhook body; `event-data` is read leniently, Mailgun adds fields over time."""

    model_config = ConfigDict(populate_by_name=True)

    signature: MailgunSignature
    event_data: dict[str, Any] = Field(alias="event-data")


class AdminOnly(DomainError):
    status = 403

    def __init__(self) -> None:
        super().__init__("forbidden", "only administrators may read the mail log")


def create_router(courier: Courier, webhooks: MailgunWebhooks, current_identity: Any) -> APIRouter:
    router = APIRouter()
    Caller = Annotated[Identity, Depends(current_identity)]

    def admin(caller: Identity) -> None:
        if not caller.is_admin:
            raise AdminOnly()

    @router.get("/mail")
    async def mail_log(
        caller: Caller,
        status: Status | None = None,
        recipient: Annotated[str | None, Query(max_length=320)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[EmailView]:
        admin(caller)
        rows = await courier.log(status=status, recipient=recipient, limit=limit)
        return [
            EmailView.model_validate({**row, "text_body": redact_links(row["text_body"])})
            for row in rows
        ]

    @router.get("/suppressions")
    async def suppression_list(caller: Caller) -> list[SuppressionView]:
        admin(caller)
        return [SuppressionView.model_validate(dict(row)) for row in await courier.suppressions()]

    @router.delete("/suppressions/{email}", status_code=204)
    async def lift_suppression(caller: Caller, email: str) -> None:
        admin(caller)
        if not await courier.lift(email):
            raise NotFound("suppression")

    # No identity here: Mailgun calls it (through the gateway) and its signature is the
    # credential, checked in MailgunWebhooks.
    @router.post("/webhooks/mailgun")
    async def mailgun_webhook(body: MailgunWebhook) -> dict[str, str]:
        outcome = await webhooks.receive(
            timestamp=body.signature.timestamp,
            token=body.signature.token,
            signature=body.signature.signature,
            event=body.event_data,
        )
        return {"status": outcome}

    return router
