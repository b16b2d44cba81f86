"""What the operations page asks each service: `GET /admin/operations` (platform admins), mounted
by `ServiceRuntime.create_app` for every service beside the jobs and dead-letter routes.

It answers with the figures `/metrics` already reads (pix_runtime.metrics: the outbox backlog
and its oldest row's age, the consumer lag per group and topic, refreshed at most every 10 s)
and with lines a service adds of its own (`runtime.operations.add(...)`: notify's failed
emails, captioning's workers). The gateway reaches it as `/api/<service>/admin/operations`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from pix_runtime.errors import Forbidden
from pix_runtime.http import CurrentIdentity
from pix_runtime.identity import Identity
from pix_runtime.metrics import ServiceMetrics


class OutboxFigures(BaseModel):
    unpublished: int
    oldest_seconds: float
    parked: int


class GroupLag(BaseModel):
    group: str
    topic: str
    lag: int


class OperationsLine(BaseModel):
    """A figure of a service's own: `key` names it (the page's text for it), `value` is the
    number (None for a line that is one occurrence, like one failed email), `detail` and `at`
    say more where there is more (an error, when it happened)."""

    key: str
    value: float | None = None
    detail: str | None = None
    at: datetime | None = None


class ServiceOperations(BaseModel):
    service: str
    outbox: OutboxFigures | None  # None: the service has no outbox, or it was not read yet
    lag: list[GroupLag]
    lag_known: bool  # False: the broker has not answered the lag reading yet
    lines: list[OperationsLine]


LineSource = Callable[[], Awaitable[list[OperationsLine]]]


class Operations:
    def __init__(self, service: str, metrics: ServiceMetrics) -> None:
        self._service = service
        self._metrics = metrics
        self._sources: list[LineSource] = []

    def add(self, source: LineSource) -> None:
        """Lines of the service's own, read at every request of the page."""
        self._sources.append(source)

    async def read(self) -> ServiceOperations:
        await self._metrics.refresh()
        outbox = self._metrics.outbox_reading
        lags = self._metrics.lag_reading
        lines = [line for source in self._sources for line in await source()]
        return ServiceOperations(
            service=self._service,
            outbox=(
                OutboxFigures(
                    unpublished=outbox[0], oldest_seconds=round(outbox[1], 1), parked=outbox[2]
                )
                if outbox is not None
                else None
            ),
            lag=[
                GroupLag(group=group, topic=topic, lag=lag)
                for (group, topic), lag in sorted((lags or {}).items())
            ],
            lag_known=lags is not None,
            lines=lines,
        )


def _admin(identity: CurrentIdentity) -> Identity:
    if not identity.is_admin:
        raise Forbidden("only platform admins see a service's operations")
    return identity


def _operations(request: Request) -> Operations:
    operations: Operations = request.app.state.operations
    return operations


operations_router = APIRouter(tags=["operations"])


@operations_router.get("/admin/operations")
async def service_operations(
    admin: Annotated[Identity, Depends(_admin)],
    operations: Annotated[Operations, Depends(_operations)],
) -> ServiceOperations:
    return await operations.read()
