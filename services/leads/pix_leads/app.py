"""The leads service: HTTP API (port 8007), SMTP intake, jobs, and the listings subscribers.

PIX_DATABASE_URL=... pix-leads
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from pix_contracts import (
    LeadCreated,
    LeadErased,
    LeadMessageRequested,
    LeadStatusChanged,
    LeadUpdated,
)
from pix_contracts.leads import LEAD_MAIL_SEAL_PURPOSE, AgentMailboxBroken
from pix_contracts.privacy import LeadsOrganisationErased
from pix_runtime.broker import declare_publishers
from pix_runtime.embeddings import Embedder, build_embedder
from pix_runtime.erasure import subscribe_organisation_erasure
from pix_runtime.jobs import RetryPolicy
from pix_runtime.licences import LicenceRequired, Licences, register_licence_handler
from pix_runtime.lifecycle import ServiceRuntime, serve
from pix_runtime.personal_data import declare, subject_key
from pix_runtime.sealing import SecretBox, derive_key

from pix_leads import api, mailboxes_api, public_api, subjects_api
from pix_leads.abtests import Experiments
from pix_leads.desk import LeadDesk
from pix_leads.handlers import register_handlers
from pix_leads.insights import Insights
from pix_leads.intake import PROCESS, Intake, RawRef
from pix_leads.listing_mirror import ListingMirror
from pix_leads.mailboxes import (
    READ,
    SEND,
    SYNC,
    AgentMailboxes,
    MailboxRef,
    MailboxSend,
    secret_box,
)
from pix_leads.messages import Messenger
from pix_leads.models import ORGANISATION_DATA, inbox, jobs, outbox
from pix_leads.models import licences as licence_table
from pix_leads.organisation import OrgSettings
from pix_leads.privacy import PERSONAL_DATA
from pix_leads.sentiment import SentimentModel
from pix_leads.service import (
    ACKNOWLEDGE,
    ANALYSE,
    EMBED_WISHES,
    EXPIRE,
    FOLLOW_UP,
    Analysis,
    FollowUp,
    LeadBook,
    LeadRef,
    Schedule,
)
from pix_leads.settings import LeadsSettings
from pix_leads.smtp import SmtpIntake
from pix_leads.subjects import Subjects
from pix_leads.viewings import VIEWING_CALENDAR, VIEWING_ORPHANS, ViewingRef, Viewings
from pix_leads.viewings_api import public_router as viewings_public_router
from pix_leads.viewings_api import router as viewings_router
from pix_leads.wishes import REEMBED, LeadWishes, Reembed


def _sentiment_model(settings: LeadsSettings) -> SentimentModel | None:
    if not settings.sentiment_model:
        return None
    key = settings.sentiment_api_key
    return SentimentModel(
        base_url=settings.sentiment_base_url,
        api_key=key.get_secret_value() if key else "none",
        model=settings.sentiment_model,
        timeout=settings.sentiment_timeout_seconds,
    )


def create_app(
    settings: LeadsSettings | None = None, *, embedder: Embedder | None = None
) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or LeadsSettings()
    runtime = ServiceRuntime(settings, outbox=outbox, jobs=jobs)
    wishes = LeadWishes(runtime.db, embedder or build_embedder(settings))
    clock = runtime.clock
    model = _sentiment_model(settings)
    book = LeadBook(
        runtime.db,
        clock=clock,
        inbound_domain=settings.inbound_domain,
        schedule=Schedule(
            follow_up_days=settings.follow_up_days, lost_after_days=settings.lost_after_days
        ),
        analyse=model is not None,
    )
    desk = LeadDesk(book, clock=clock)
    org = OrgSettings(
        runtime.db,
        inbound_domain=settings.inbound_domain,
        public_url=settings.platform.public_url,
    )
    experiments = Experiments(runtime.db, clock=clock)
    intake = Intake(
        book,
        runtime.storage,
        clock=clock,
        inbound_domain=settings.inbound_domain,
        form_limit=settings.form_limit,
        form_window_seconds=settings.form_window_seconds,
    )
    # The key leads seals users' credentials with (PIX_LEADS_SECRETS_KEY, rotation: newest first).
    secrets_key = settings.secrets_key.get_secret_value() if settings.secrets_key else None
    if secrets_key is None and settings.platform.env == "production":
        # Mailbox tokens and calendar passwords sealed under a key derived from the internal
        # key would be lost with a rotation of it: production names its own, like export.
        raise RuntimeError("PIX_LEADS_SECRETS_KEY must be set in production (base64, 32 bytes)")
    viewings = Viewings(
        book,
        org,
        box=SecretBox.from_config(secrets_key, runtime.internal_key, "leads-calendar-secrets"),
        mail_key=derive_key(runtime.internal_key, LEAD_MAIL_SEAL_PURPOSE),
        link_key=derive_key(runtime.internal_key, "leads-viewing-link"),
        clock=clock,
        public_url=settings.platform.public_url,
        link_days=settings.viewing_link_days,
        slot_days=settings.viewing_slot_days,
        notice_hours=settings.viewing_notice_hours,
        timeout_seconds=settings.calendar_timeout_seconds,
        private_calendars=settings.platform.env != "production",
    )
    intake.calendar_replies = viewings.take_reply
    subjects = Subjects(
        book,
        runtime.storage,
        subject_key=subject_key(runtime.internal_key),
        clock=clock,
        lost_after=timedelta(days=settings.lost_lead_retention_days),
        raw_after=timedelta(days=settings.raw_message_retention_days),
    )
    agent_mailboxes = AgentMailboxes(
        book,
        org,
        box=secret_box(settings, runtime.internal_key),
        settings=settings,
        clock=clock,
        lead_mail_key=derive_key(runtime.internal_key, LEAD_MAIL_SEAL_PURPOSE),
    )
    messenger = Messenger(
        book,
        org,
        experiments,
        seal_key=derive_key(runtime.internal_key, LEAD_MAIL_SEAL_PURPOSE),
        clock=clock,
        model=model,
        objected=subjects.objected,
        viewing_link=viewings.link_for,
        agent_mailboxes=agent_mailboxes,
    )
    smtp = SmtpIntake(
        intake,
        host=settings.smtp_host,
        port=settings.smtp_port,
        max_bytes=settings.max_message_bytes,
        hostname=settings.inbound_domain,
    )

    quick = RetryPolicy(max_attempts=8, base_seconds=5, max_seconds=600)
    runtime.jobs.register(PROCESS, RawRef, intake.process, policy=quick)
    runtime.jobs.register(ACKNOWLEDGE, LeadRef, messenger.acknowledge, policy=quick)
    runtime.jobs.register(
        FOLLOW_UP, FollowUp, messenger.follow_up, policy=RetryPolicy(base_seconds=60)
    )
    runtime.jobs.register(EXPIRE, LeadRef, messenger.expire, policy=RetryPolicy(base_seconds=60))
    runtime.jobs.register(
        ANALYSE,
        Analysis,
        messenger.analyse,
        policy=RetryPolicy(max_attempts=3, base_seconds=30),
        timeout=timedelta(minutes=2),
    )
    embed_policy = RetryPolicy(max_attempts=8, base_seconds=10, max_seconds=1800)
    runtime.jobs.register(EMBED_WISHES, LeadRef, wishes.embed_job, policy=embed_policy)
    runtime.jobs.register(
        REEMBED, Reembed, wishes.reembed_job, policy=embed_policy, timeout=timedelta(minutes=30)
    )
    runtime.on_start(wishes.plan_reembed)
    runtime.jobs.register(SEND, MailboxSend, agent_mailboxes.send_job, policy=quick)
    runtime.jobs.register(
        READ, MailboxRef, agent_mailboxes.read_job, policy=RetryPolicy(max_attempts=3)
    )
    runtime.jobs.every(
        SYNC, timedelta(seconds=settings.mailbox_sync_seconds), agent_mailboxes.sync_all
    )
    viewings.objected = subjects.objected
    viewings.provider_call = agent_mailboxes.calendar_call
    runtime.jobs.register(
        VIEWING_CALENDAR, ViewingRef, viewings.write_calendar, policy=RetryPolicy(base_seconds=60)
    )
    runtime.jobs.every(VIEWING_ORPHANS, timedelta(minutes=10), viewings.remove_orphans)
    retention = timedelta(seconds=settings.retention_interval_seconds)
    runtime.jobs.every("leads.retention.lost-leads", retention, subjects.anonymise_lost)
    runtime.jobs.every("leads.retention.raw-messages", retention, subjects.purge_raw_messages)
    register_handlers(runtime.broker, ListingMirror(runtime.db))
    subscribe_organisation_erasure(runtime, ORGANISATION_DATA, LeadsOrganisationErased)
    billing_url = f"{settings.platform.public_url.rstrip('/')}/billing"
    licences = Licences(
        runtime.db,
        table=licence_table,
        inbox=inbox,
        consumer="leads.licences",
        billing_url=billing_url,
    )
    register_licence_handler(runtime.broker, licences)
    declare_publishers(
        runtime.broker,
        LeadCreated,
        LeadUpdated,
        LeadStatusChanged,
        LeadErased,
        LeadMessageRequested,
        AgentMailboxBroken,
    )

    app = runtime.create_app(title="pix.immo leads")
    declare(app, "leads", PERSONAL_DATA)
    app.include_router(api.router, dependencies=[LicenceRequired])
    app.include_router(public_api.router)
    app.include_router(subjects_api.router)
    app.include_router(viewings_router, dependencies=[LicenceRequired])
    app.include_router(viewings_public_router)
    app.include_router(mailboxes_api.router)
    app.state.agent_mailboxes = agent_mailboxes
    app.state.subjects = subjects
    app.state.settings = settings
    # Mailgun posts the whole MIME message (attachments included): checked against the message
    # limit by the route itself, not against the 1 MiB JSON limit.
    app.state.streamed_body_prefixes = ("/public/mailgun/",)
    app.state.book = book
    app.state.licences = licences
    app.state.desk = desk
    app.state.intake = intake
    app.state.messenger = messenger
    app.state.org = org
    app.state.experiments = experiments
    app.state.insights = Insights(runtime.db)
    app.state.wishes = wishes
    app.state.viewings = viewings
    app.state.storage = runtime.storage
    app.state.smtp = smtp

    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with runtime_lifespan(app) as state:
            await smtp.start()
            try:
                yield state
            finally:
                await smtp.stop()
                if model is not None:
                    await model.aclose()

    app.router.lifespan_context = lifespan
    return app, runtime


def main() -> None:
    settings = LeadsSettings()
    app, _ = create_app(settings)
    serve(app, settings, migrations_package="pix_leads")
