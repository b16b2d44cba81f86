"""The leads service as the gateway's pages call it."""

from collections.abc import Mapping
from typing import Any

from pix_gateway.clients.base import ServiceClient, query, segment
from pix_gateway.clients.leads_models import (
    Activity,
    Experiment,
    ExperimentResults,
    Lead,
    LeadDetail,
    LeadStats,
    LeadSummary,
    Mailbox,
    MessageTemplate,
    Prediction,
    SemanticHit,
    Subject,
    SubjectErased,
    SubjectExport,
    SubjectFound,
    SubjectObjected,
)


class LeadsClient(ServiceClient):
    service = "leads"

    async def stats(self) -> LeadStats:
        return await self.one(LeadStats, "GET", "/stats")

    async def leads(self, filters: Mapping[str, str], *, limit: int = 100) -> list[LeadSummary]:
        return await self.many(LeadSummary, f"/leads{query({**filters, 'limit': str(limit)})}")

    async def search(self, words: str, *, limit: int = 50) -> list[SemanticHit]:
        """By meaning (the leads' embedded wishes): the closest first."""
        return await self.many(
            SemanticHit, f"/leads/search{query({'q': words, 'limit': str(limit)})}"
        )

    async def lead(self, lead_id: str) -> LeadDetail:
        return await self.one(LeadDetail, "GET", f"/leads/{segment(lead_id)}")

    async def prediction(self, lead_id: str) -> Prediction:
        return await self.one(Prediction, "GET", f"/leads/{segment(lead_id)}/prediction")

    async def change_status(self, lead_id: str, status: str, reason: str | None) -> Lead:
        return await self.one(
            Lead,
            "POST",
            f"/leads/{segment(lead_id)}/status",
            json={"status": status, "reason": reason},
        )

    async def reply(self, lead_id: str, subject: str, text: str) -> Activity:
        return await self.one(
            Activity,
            "POST",
            f"/leads/{segment(lead_id)}/messages",
            json={"subject": subject, "text": text},
        )

    async def edit(self, lead_id: str, changes: Mapping[str, Any]) -> Lead:
        return await self.one(Lead, "PATCH", f"/leads/{segment(lead_id)}", json=dict(changes))

    async def mailbox(self) -> Mailbox:
        return await self.one(Mailbox, "GET", "/settings")

    async def save_mailbox(self, changes: Mapping[str, str]) -> Mailbox:
        return await self.one(Mailbox, "PUT", "/settings", json=dict(changes))

    async def templates(self) -> list[MessageTemplate]:
        return await self.many(MessageTemplate, "/templates")

    async def save_template(
        self, kind: str, locale: str, *, subject: str, body: str
    ) -> MessageTemplate:
        return await self.one(
            MessageTemplate,
            "PUT",
            f"/templates/{segment(kind)}/{segment(locale)}",
            json={"subject": subject, "body": body},
        )

    async def experiments(self) -> list[Experiment]:
        return await self.many(Experiment, "/ab-tests")

    async def experiment_results(self, experiment_id: str) -> ExperimentResults:
        return await self.one(
            ExperimentResults, "GET", f"/ab-tests/{segment(experiment_id)}/results"
        )

    async def create_experiment(self, experiment: Mapping[str, Any]) -> Experiment:
        """The form as typed (a weight may be text): the service names what it refuses."""
        return await self.one(Experiment, "POST", "/ab-tests", json=dict(experiment))

    async def start_or_end_experiment(self, experiment_id: str, action: str) -> Experiment:
        return await self.one(
            Experiment, "POST", f"/ab-tests/{segment(experiment_id)}/{segment(action)}"
        )

    # A person's rights (GDPR Art. 15, 17, 21) over the organisation's leads.
    async def find_subject(self, subject: Subject) -> SubjectFound:
        return await self.one(SubjectFound, "POST", "/privacy/subjects/find", json=_body(subject))

    async def export_subject(self, subject: Subject) -> SubjectExport:
        return await self.one(
            SubjectExport, "POST", "/privacy/subjects/export", json=_body(subject)
        )

    async def erase_subject(self, subject: Subject) -> SubjectErased:
        return await self.one(SubjectErased, "POST", "/privacy/subjects/erase", json=_body(subject))

    async def object_subject(self, subject: Subject) -> SubjectObjected:
        return await self.one(
            SubjectObjected, "POST", "/privacy/subjects/object", json=_body(subject)
        )


def _body(subject: Subject) -> dict[str, Any]:
    return subject.model_dump(exclude_none=True)
