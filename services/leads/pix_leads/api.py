"""HTTP routes of the leads service for signed-in users (the gateway proxies /api/leads/*).

Thin: parse, take the caller from the signed identity, call the domain, shape the answer. Every
route filters on the caller's organisation (admins see all); another organisation's ids are 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pix_runtime.http import CurrentIdentity
from pydantic import BaseModel, ConfigDict, Field

from pix_leads.abtests import Experiment, ExperimentForm, ExperimentResults, Experiments
from pix_leads.desk import LeadDesk
from pix_leads.insights import Insights
from pix_leads.intake import Intake
from pix_leads.messages import Messenger
from pix_leads.organisation import OrgSettings
from pix_leads.records import (
    Activity,
    ContactTime,
    Lead,
    LeadChanges,
    LeadDetail,
    LeadFilter,
    LeadStats,
    LeadSummary,
    Mailbox,
    ManualLead,
    MessageTemplate,
    Prediction,
    SearchHit,
    Status,
)
from pix_leads.reports import LeadsReport
from pix_leads.wishes import LeadWishes, SemanticHit


def _desk(request: Request) -> LeadDesk:
    desk: LeadDesk = request.app.state.desk
    return desk


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


def _messenger(request: Request) -> Messenger:
    messenger: Messenger = request.app.state.messenger
    return messenger


def _org(request: Request) -> OrgSettings:
    org: OrgSettings = request.app.state.org
    return org


def _experiments(request: Request) -> Experiments:
    experiments: Experiments = request.app.state.experiments
    return experiments


def _wishes(request: Request) -> LeadWishes:
    wishes: LeadWishes = request.app.state.wishes
    return wishes


def _insights(request: Request) -> Insights:
    insights: Insights = request.app.state.insights
    return insights


Desk = Annotated[LeadDesk, Depends(_desk)]
IntakeDep = Annotated[Intake, Depends(_intake)]
MessengerDep = Annotated[Messenger, Depends(_messenger)]
OrgDep = Annotated[OrgSettings, Depends(_org)]
ExperimentsDep = Annotated[Experiments, Depends(_experiments)]
InsightsDep = Annotated[Insights, Depends(_insights)]
WishesDep = Annotated[LeadWishes, Depends(_wishes)]

router = APIRouter()


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status
    reason: str | None = Field(default=None, max_length=300)


class OutgoingMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(default="", max_length=300)
    text: str = Field(min_length=1, max_length=20_000)


class MailboxChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str | None = Field(default=None, max_length=64)
    sender_name: str | None = Field(default=None, max_length=200)
    locale: Literal["de", "en"] | None = None


class TemplateText(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(max_length=300)
    body: str = Field(max_length=20_000)


# --- leads -------------------------------------------------------------------------------------


@router.get("/leads")
async def list_leads(
    identity: CurrentIdentity, desk: Desk, wanted: Annotated[LeadFilter, Query()]
) -> list[LeadSummary]:
    return await desk.inbox(identity, wanted)


@router.get("/leads/search")
async def semantic_search(
    identity: CurrentIdentity,
    wishes: WishesDep,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[SemanticHit]:
    """Leads whose wishes mean what `q` says (embeddings), the closest first; the same leads
    the caller sees in the inbox."""
    return await wishes.search(identity, q, limit=limit)


@router.get("/search")
async def search_leads(
    identity: CurrentIdentity,
    desk: Desk,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[SearchHit]:
    return await desk.search(identity, LeadFilter(q=q, limit=limit))


@router.get("/stats")
async def lead_stats(identity: CurrentIdentity, desk: Desk) -> LeadStats:
    return await desk.stats(identity)


@router.post("/leads", status_code=201)
async def create_lead(identity: CurrentIdentity, desk: Desk, form: ManualLead) -> Lead:
    return await desk.create_manual(form, identity)


@router.get("/leads/{lead_id}")
async def get_lead(identity: CurrentIdentity, desk: Desk, lead_id: uuid.UUID) -> LeadDetail:
    return await desk.get(lead_id, identity)


@router.patch("/leads/{lead_id}")
async def edit_lead(
    identity: CurrentIdentity, desk: Desk, lead_id: uuid.UUID, changes: LeadChanges
) -> Lead:
    return await desk.edit(lead_id, changes, identity)


@router.post("/leads/{lead_id}/status")
async def change_status(
    identity: CurrentIdentity, desk: Desk, lead_id: uuid.UUID, change: StatusChange
) -> Lead:
    return await desk.change_status(lead_id, change.status, change.reason, identity)


@router.post("/leads/{lead_id}/messages", status_code=201)
async def send_message(
    identity: CurrentIdentity,
    messenger: MessengerDep,
    lead_id: uuid.UUID,
    message: OutgoingMessage,
) -> Activity:
    return await messenger.reply(lead_id, message.subject, message.text, identity)


@router.post("/leads/{lead_id}/reparse")
async def reparse_lead(
    identity: CurrentIdentity, intake: IntakeDep, desk: Desk, lead_id: uuid.UUID
) -> Lead:
    await intake.reparse(lead_id, identity)
    return (await desk.get(lead_id, identity)).lead


@router.get("/leads/{lead_id}/prediction")
async def predict(
    identity: CurrentIdentity, insights: InsightsDep, lead_id: uuid.UUID
) -> Prediction:
    return await insights.predict(lead_id, identity)


@router.get("/leads/{lead_id}/messages/{raw_id}/original")
async def original_message(
    identity: CurrentIdentity, request: Request, desk: Desk, lead_id: uuid.UUID, raw_id: uuid.UUID
) -> Response:
    key = await desk.raw_key(lead_id, raw_id, identity)
    data = await request.app.state.storage.get_bytes(key)
    return Response(
        data,
        media_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="{raw_id}.eml"'},
    )


@router.delete("/leads/{lead_id}", status_code=204)
async def erase_lead(
    identity: CurrentIdentity, request: Request, desk: Desk, lead_id: uuid.UUID
) -> Response:
    for key in await desk.erase(lead_id, identity):
        await request.app.state.storage.delete(key)
    return Response(status_code=204)


@router.get("/reports/leads")
async def leads_report(
    identity: CurrentIdentity,
    insights: InsightsDep,
    since: datetime,
    org_id: uuid.UUID | None = None,
) -> LeadsReport:
    """Leads per week by source, the funnel per source and the median first-response time
    (admins: all or `org_id`; owners: their own organisation)."""
    return await insights.report(identity, org_id, since)


@router.get("/analytics/contact-time")
async def contact_time(identity: CurrentIdentity, insights: InsightsDep) -> ContactTime:
    return await insights.contact_time(identity)


# --- settings ----------------------------------------------------------------------------------


@router.get("/settings")
async def get_settings(identity: CurrentIdentity, org: OrgDep) -> Mailbox:
    return await org.mailbox(identity)


@router.put("/settings")
async def put_settings(identity: CurrentIdentity, org: OrgDep, changes: MailboxChanges) -> Mailbox:
    return await org.update_mailbox(
        identity, slug=changes.slug, sender_name=changes.sender_name, locale=changes.locale
    )


@router.get("/templates")
async def list_templates(identity: CurrentIdentity, org: OrgDep) -> list[MessageTemplate]:
    return await org.templates(identity)


@router.put("/templates/{kind}/{locale}")
async def save_template(
    identity: CurrentIdentity, org: OrgDep, kind: str, locale: str, text: TemplateText
) -> MessageTemplate:
    return await org.save_template(identity, kind, locale, text.subject, text.body)


# --- A/B tests ----------------------------------------------------------------------------------


@router.get("/ab-tests")
async def list_experiments(
    identity: CurrentIdentity, experiments: ExperimentsDep
) -> list[Experiment]:
    return await experiments.list(identity)


@router.post("/ab-tests", status_code=201)
async def create_experiment(
    identity: CurrentIdentity, experiments: ExperimentsDep, form: ExperimentForm
) -> Experiment:
    return await experiments.create(form, identity)


@router.post("/ab-tests/{experiment_id}/start")
async def start_experiment(
    identity: CurrentIdentity, experiments: ExperimentsDep, experiment_id: uuid.UUID
) -> Experiment:
    return await experiments.start(experiment_id, identity)


@router.post("/ab-tests/{experiment_id}/end")
async def end_experiment(
    identity: CurrentIdentity, experiments: ExperimentsDep, experiment_id: uuid.UUID
) -> Experiment:
    return await experiments.end(experiment_id, identity)


@router.get("/ab-tests/{experiment_id}/results")
async def experiment_results(
    identity: CurrentIdentity, experiments: ExperimentsDep, experiment_id: uuid.UUID
) -> ExperimentResults:
    return await experiments.results(experiment_id, identity)
