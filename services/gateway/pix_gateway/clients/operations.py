"""Every service's operations figures as the operations page reads them: the runtime's own
admin routes, the same in each service (`pix_runtime.operations`, `jobs_routes`,
`dead_letters_routes`), so one client serves them all with the service named per instance.
The answers are the runtime's models, as the privacy page's subject holders read theirs."""

from pix_runtime.identity import Identity
from pix_runtime.operations import ServiceOperations

from pix_gateway.clients.base import ServiceClient, query
from pix_gateway.clients.orders_models import DeadLetterView, JobCounts, JobView
from pix_gateway.service import Backend


class OperationsClient(ServiceClient):
    def __init__(self, backend: Backend, identity: Identity | None, service: str) -> None:
        super().__init__(backend, identity)
        self.service = service  # type: ignore[misc]

    async def operations(self) -> ServiceOperations:
        return await self.one(ServiceOperations, "GET", "/admin/operations")

    async def open_dead_letters(self, limit: int = 50) -> list[DeadLetterView]:
        return await self.many(
            DeadLetterView, f"/admin/dead-letters{query({'status': 'open', 'limit': str(limit)})}"
        )

    async def failed_jobs(self, limit: int = 50) -> list[JobView]:
        return await self.many(
            JobView, f"/admin/jobs{query({'status': 'failed', 'limit': str(limit)})}"
        )

    async def job_counts(self) -> list[JobCounts]:
        return await self.many(JobCounts, "/admin/jobs/counts")

    async def retry_job(self, job_id: int) -> None:
        await self.call("POST", f"/admin/jobs/{job_id}/retry")

    async def replay_dead_letter(self, letter_id: int) -> None:
        await self.call("POST", f"/admin/dead-letters/{letter_id}/replay")
