import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pix_runtime.errors import DomainError
from pix_runtime.identity import Identity
from pydantic import BaseModel

from pix_notify.service import PostOffice


class EmailView(BaseModel):
    id: uuid.UUID
    kind: str
    recipient: str
    locale: str
    subject: str
    text_body: str
    status: str
    provider: str
    created_at: datetime
    sent_at: datetime | None


class AdminOnly(DomainError):
    status = 403

    def __init__(self) -> None:
        super().__init__("forbidden", "only administrators may read the mail log")


def create_router(office: PostOffice, current_identity: Any) -> APIRouter:
    router = APIRouter()
    Caller = Annotated[Identity, Depends(current_identity)]

    @router.get("/mail")
    async def mail_log(caller: Caller) -> list[EmailView]:
        if not caller.is_admin:
            raise AdminOnly()
        return [EmailView.model_validate(dict(row)) for row in await office.recent()]

    return router
