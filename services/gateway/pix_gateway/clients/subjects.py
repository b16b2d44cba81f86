"""Services that keep a person's data only as text (mails, conversations) and answer the
runtime's subject API (`pix_runtime.personal_data`): the privacy page asks each beside leads."""

from typing import Literal

from pix_runtime.personal_data import SubjectErasure, SubjectFindings

from pix_gateway.clients.base import ServiceClient

HolderAction = Literal["find", "export", "erase"]


class SubjectHolderClient(ServiceClient):
    async def findings(
        self, action: Literal["find", "export"], subject: dict[str, str]
    ) -> SubjectFindings:
        return await self.one(SubjectFindings, "POST", f"/privacy/subjects/{action}", json=subject)

    async def erase(self, subject: dict[str, str]) -> SubjectErasure:
        return await self.one(SubjectErasure, "POST", "/privacy/subjects/erase", json=subject)


class NotifySubjects(SubjectHolderClient):
    service = "notify"


class AssistantSubjects(SubjectHolderClient):
    service = "assistant"


SUBJECT_HOLDERS: tuple[type[SubjectHolderClient], ...] = (NotifySubjects, AssistantSubjects)
