"""The internal API of a person's rights (GDPR Art. 15, 17, 21) in leads: the gateway's privacy
page and the other services' equivalents answer the same four calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pix_runtime.http import CurrentIdentity

from pix_leads.subjects import (
    Retention,
    RetentionView,
    Subject,
    SubjectErased,
    SubjectExport,
    SubjectFound,
    SubjectObjected,
    Subjects,
)

router = APIRouter(prefix="/privacy", tags=["privacy"])


def _subjects(request: Request) -> Subjects:
    subjects: Subjects = request.app.state.subjects
    return subjects


SubjectsDep = Annotated[Subjects, Depends(_subjects)]


@router.post("/subjects/find")
async def find(identity: CurrentIdentity, subjects: SubjectsDep, subject: Subject) -> SubjectFound:
    return await subjects.find(subject, identity)


@router.post("/subjects/export")
async def export(
    identity: CurrentIdentity, subjects: SubjectsDep, subject: Subject, response: Response
) -> SubjectExport:
    response.headers["Content-Disposition"] = 'attachment; filename="leads-subject-export.json"'
    return await subjects.export(subject, identity)


@router.post("/subjects/erase")
async def erase(
    identity: CurrentIdentity, subjects: SubjectsDep, subject: Subject
) -> SubjectErased:
    return await subjects.erase(subject, identity)


@router.post("/subjects/object")
async def object_to_contact(
    identity: CurrentIdentity, subjects: SubjectsDep, subject: Subject
) -> SubjectObjected:
    return await subjects.object(subject, identity)


# The organisation's retention windows (owners change them; its members read them).
@router.get("/retention")
async def get_retention(identity: CurrentIdentity, subjects: SubjectsDep) -> RetentionView:
    return await subjects.retention(identity)


@router.put("/retention")
async def put_retention(
    identity: CurrentIdentity, subjects: SubjectsDep, wanted: Retention
) -> RetentionView:
    return await subjects.set_retention(wanted, identity)
