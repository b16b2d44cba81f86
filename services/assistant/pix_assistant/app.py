"""The assistant service: HTTP API (port 8022), the chat over the platform's APIs, its accounts.

PIX_DATABASE_URL=... PIX_ASSISTANT_MODEL=... pix-assistant
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from pix_contracts.privacy import AssistantOrganisationErased
from pix_runtime.erasure import subscribe_organisation_erasure
from pix_runtime.licences import LicenceRequired, Licences, register_licence_handler
from pix_runtime.lifecycle import ServiceRuntime, serve
from pix_runtime.personal_data import declare, declare_subjects

from pix_assistant import api
from pix_assistant.accounts import Accounts
from pix_assistant.actions import EXPIRE, ActionDesk
from pix_assistant.handlers import register_handlers
from pix_assistant.imports import IMPORT_LEADS, execute_import, undo_import
from pix_assistant.listing_import import IMPORT_LISTINGS, execute_listing_import
from pix_assistant.llm import ModelClient
from pix_assistant.models import ORGANISATION_DATA, inbox, jobs, licences, outbox
from pix_assistant.platform import PlatformApis
from pix_assistant.privacy import PERSONAL_DATA
from pix_assistant.reports import reports_router
from pix_assistant.service import Assistant
from pix_assistant.settings import AssistantSettings
from pix_assistant.staging import (
    STAGE_PHOTO,
    GeminiImageEditor,
    ImageEditor,
    OpenAIImageEditor,
    StagePhoto,
    Stager,
    StagingDesk,
)
from pix_assistant.store import Conversations, MemoryStore
from pix_assistant.subjects import ConversationSubjects
from pix_assistant.tools import WRITES


def _model(settings: AssistantSettings) -> ModelClient | None:
    if not settings.configured:
        return None
    key = settings.api_key
    return ModelClient(
        base_url=settings.base_url,
        # Local OpenAI-compatible servers take any key; the client insists on one.
        api_key=key.get_secret_value() if key else "none",
        timeout=settings.timeout_seconds,
        max_completion_tokens=settings.max_completion_tokens,
    )


def _stager(
    settings: AssistantSettings, apis: PlatformApis, runtime: ServiceRuntime, accounts: Accounts
) -> Stager | None:
    if settings.staging_provider == "off":
        return None
    key = settings.staging_api_key or settings.api_key
    kind = OpenAIImageEditor if settings.staging_provider == "openai" else GeminiImageEditor
    editor: ImageEditor = kind(
        base_url=settings.staging_base_url,
        api_key=key.get_secret_value() if key else "none",
        model=settings.staging_model,
        timeout=settings.staging_timeout_seconds,
    )
    return Stager(editor, apis, runtime.storage, accounts)


def create_app(
    settings: AssistantSettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> tuple[FastAPI, ServiceRuntime]:
    """`transports` (tests): a service's in-process app instead of its URL."""
    settings = settings or AssistantSettings()
    runtime = ServiceRuntime(settings, outbox=outbox, jobs=jobs)
    clock = runtime.clock
    platform = settings.platform
    apis = PlatformApis(
        {
            "leads": platform.leads_url,
            "listings": platform.listings_url,
            "orders": platform.orders_url,
            "media": platform.media_url,
            "captioning": platform.captioning_url,
        },
        runtime.internal_key,
        transports=transports,
    )
    model = _model(settings)
    conversations = Conversations(runtime.db, clock=clock)
    memory = MemoryStore(runtime.db, clock=clock)
    accounts = Accounts(
        runtime.db,
        clock=clock,
        prices=settings.prices,
        default_budget=settings.monthly_budget_eur,
    )
    executors = {name: tool.execute for name, tool in WRITES.items()}
    actions = ActionDesk(
        runtime.db,
        apis,
        conversations,
        accounts,
        {**executors, IMPORT_LEADS: execute_import, IMPORT_LISTINGS: execute_listing_import},
        clock=clock,
        ttl=timedelta(minutes=settings.action_ttl_minutes),
        undoers={
            **{name: tool.undo for name, tool in WRITES.items() if tool.undo is not None},
            IMPORT_LEADS: undo_import,
        },
    )
    stager = _stager(settings, apis, runtime, accounts)
    assistant = Assistant(
        settings,
        model,
        apis,
        conversations,
        memory,
        actions,
        accounts,
        clock=clock,
        stager=stager,
    )
    runtime.jobs.every(EXPIRE, timedelta(minutes=5), actions.expire)
    stagings = None
    if stager is not None:
        # An attempt: reading the listing, the model (its own timeout), storing the picture.
        stagings = StagingDesk(
            runtime.db, stager, clock=clock, attempt_seconds=settings.staging_timeout_seconds + 30
        )
        runtime.jobs.register(
            STAGE_PHOTO,
            StagePhoto,
            stagings.run,
            policy=stagings.policy,
            timeout=stagings.job_timeout,
        )
    register_handlers(runtime.broker)
    subscribe_organisation_erasure(runtime, ORGANISATION_DATA, AssistantOrganisationErased)
    gate = Licences(
        runtime.db,
        table=licences,
        inbox=inbox,
        consumer="assistant.licences",
        billing_url=f"{settings.platform.public_url.rstrip('/')}/billing",
    )
    register_licence_handler(runtime.broker, gate)

    app = runtime.create_app(title="pix.immo assistant")
    declare(app, "assistant", PERSONAL_DATA)
    declare_subjects(app, "assistant", ConversationSubjects(runtime.db))
    app.include_router(api.router, dependencies=[LicenceRequired])
    app.include_router(reports_router)  # owners' and admins' figures, no licence needed
    app.state.reports_db = runtime.db
    app.state.licences = gate
    app.state.settings = settings
    app.state.assistant = assistant
    app.state.stagings = stagings

    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with runtime_lifespan(app) as state:
            try:
                yield state
            finally:
                await apis.aclose()
                if stager is not None:
                    await stager.editor.aclose()
                if model is not None:
                    await model.aclose()

    app.router.lifespan_context = lifespan
    return app, runtime


def main() -> None:
    settings = AssistantSettings()
    app, _ = create_app(settings)
    serve(app, settings, migrations_package="pix_assistant")
