"""The admin view of a service's jobs, mounted by `ServiceRuntime.create_app` where the service
has a jobs table: `GET /admin/jobs`, `GET /admin/jobs/counts`, `POST /admin/jobs/{id}/retry`.
The gateway reaches them as `/api/<service>/admin/jobs`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from pix_runtime.errors import Forbidden, NotFound
from pix_runtime.http import CurrentIdentity
from pix_runtime.identity import Identity
from pix_runtime.jobs import JobBoard, JobCounts, JobView


def admin_only(identity: CurrentIdentity) -> Identity:
    if not identity.is_admin:
        raise Forbidden("only platform admins see jobs")
    return identity


def job_board(request: Request) -> JobBoard:
    board: JobBoard = request.app.state.job_board
    return board


Admin = Annotated[Identity, Depends(admin_only)]
Board = Annotated[JobBoard, Depends(job_board)]
jobs_router = APIRouter(prefix="/admin/jobs", tags=["jobs"])


@jobs_router.get("")
async def list_jobs(
    admin: Admin,
    board: Board,
    status: Literal["queued", "running", "done", "failed", "cancelled"] | None = None,
    kind: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[JobView]:
    return await board.find(status=status, kind=kind, limit=limit)


@jobs_router.get("/counts")
async def job_counts(admin: Admin, board: Board) -> list[JobCounts]:
    return await board.counts()


@jobs_router.post("/{job_id}/retry")
async def retry_job(job_id: int, admin: Admin, board: Board) -> dict[str, bool]:
    if not await board.retry(job_id):
        raise NotFound("failed job")
    return {"retried": True}
