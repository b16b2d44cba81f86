"""The internal API of a person's rights (GDPR Art. 15, 17, 21) in leads: the gateway's privacy
page and the other services' equivalents answer the same four calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pix_runtime.http import CurrentIdentity

from pix_leads.subjects import Subject, SubjectErased, SubjectFound, SubjectObjected, Subjects

router = APIRouter(prefix="/privacy/subjects", tags=["privacy"])


def _subjects(request: Request) -> Subjects:
    subjects: Subjects = request.app.state.subjects
    return subjects


SubjectsDep = Annotated[Subjects, Depends(_subjects)]


@router.post("/find")
async def find(identity: CurrentIdentity, subjects: SubjectsDep, subject: Subject) -> SubjectFound:
    return await subjects.find(subject, identity)


@router.post("/export")
async def export(
    identity: CurrentIdentity, subjects: SubjectsDep, subject: Subject
) -> JSONResponse:
    data = await subjects.export(subject, identity)
    return JSONResponse(
        data.model_dump(mode="json"),
        headers={"Content-Disposition": 'attachment; filename="leads-subject-export.json"'},
    )


@router.post("/erase")
async def erase(
    identity: CurrentIdentity, subjects: SubjectsDep, subject: Subject
) -> SubjectErased:
    return await subjects.erase(subject, identity)


@router.post("/object")
async def object_to_contact(
    identity: CurrentIdentity, subjects: SubjectsDep, subject: Subject
) -> SubjectObjected:
    return await subjects.object(subject, identity)
