from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from pix_contracts import AssetUploaded
from pix_contracts.events import AssetDeleted, GalleryDelivered, GalleryStateChanged
from pix_contracts.galleries import GalleryArranged
from pix_contracts.privacy import MediaOrganisationErased
from pix_runtime.broker import declare_publishers
from pix_runtime.erasure import subscribe_organisation_erasure
from pix_runtime.jobs import RetryPolicy
from pix_runtime.lifecycle import ServiceRuntime, serve
from pix_runtime.personal_data import declare
from pix_runtime.storage import LocalStorage
from pix_runtime.storage_routes import local_storage_router

from pix_media.api import delivery_router, router
from pix_media.arrangement import GalleryArrangement
from pix_media.arrangement_api import router as arrangement_router
from pix_media.deliverables import PROCESS_DELIVERABLE, DeliverableProcessing, ProcessDeliverable
from pix_media.delivery import CHECK, Deliveries, DeliveryCheck, PhotoSet
from pix_media.handlers import register_handlers
from pix_media.models import ORGANISATION_DATA, assets, jobs, outbox
from pix_media.previews import POLICY as PREVIEW_POLICY
from pix_media.previews import TIMEOUT as PREVIEW_TIMEOUT
from pix_media.previews import WATERMARK, Previews, WatermarkPhotos
from pix_media.privacy import PERSONAL_DATA
from pix_media.processing import PROCESS, PhotoProcessing, ProcessPhoto
from pix_media.reports import MediaReports
from pix_media.retention import ORIGINALS_RETENTION, OriginalsRetention
from pix_media.retention import router as retention_router
from pix_media.service import MediaLibrary
from pix_media.settings import MediaSettings
from pix_media.sharing import GalleryShares
from pix_media.sharing_api import router as sharing_router
from pix_media.uploads import Uploads


def create_app(settings: MediaSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or MediaSettings()
    runtime = ServiceRuntime(settings, outbox=outbox, jobs=jobs)
    photo_set = PhotoSet(settings, runtime.clock)
    library = MediaLibrary(runtime.db, runtime.storage, settings, photo_set)
    previews = Previews(runtime.db, runtime.storage)
    runtime.jobs.register(
        WATERMARK, WatermarkPhotos, previews.render, policy=PREVIEW_POLICY, timeout=PREVIEW_TIMEOUT
    )
    processing = PhotoProcessing(runtime.db, runtime.storage, settings, photo_set, previews)
    runtime.jobs.register(
        PROCESS,
        ProcessPhoto,
        processing.process,
        policy=processing.policy,
        timeout=processing.timeout,
    )
    deliverables = DeliverableProcessing(runtime.db, runtime.storage, settings, photo_set, previews)
    runtime.jobs.register(
        PROCESS_DELIVERABLE,
        ProcessDeliverable,
        deliverables.process,
        policy=deliverables.policy,
        timeout=deliverables.timeout,
    )
    deliveries = Deliveries(runtime.db, settings, runtime.clock)
    runtime.jobs.register(
        CHECK,
        DeliveryCheck,
        deliveries.check,
        policy=RetryPolicy(max_attempts=10, base_seconds=5, max_seconds=300),
    )
    uploads = Uploads(runtime.db, runtime.storage, settings, library)
    register_handlers(runtime.broker, library, previews)
    subscribe_organisation_erasure(runtime, ORGANISATION_DATA, MediaOrganisationErased)
    runtime.on_start(processing.start)
    runtime.every(settings.reconcile_every_seconds, library.requeue_stuck)
    runtime.every(settings.reconcile_every_seconds, uploads.clean_abandoned)
    originals = OriginalsRetention(
        runtime.db,
        runtime.storage,
        keep=timedelta(days=settings.original_retention_days),
        clock=runtime.clock,
    )
    every = timedelta(seconds=settings.retention_interval_seconds)
    runtime.jobs.every(ORIGINALS_RETENTION, every, originals.delete_due)
    runtime.metrics.count_waiting(
        "photos", assets, assets.c.status == "queued", since=assets.c.updated_at
    )
    declare_publishers(
        runtime.broker,
        AssetUploaded,
        AssetDeleted,
        GalleryStateChanged,
        GalleryDelivered,
        GalleryArranged,
    )
    app = runtime.create_app(title="pix.immo media")
    declare(app, "media", PERSONAL_DATA)
    app.state.originals_retention = originals
    app.include_router(retention_router)
    app.state.library = library
    app.state.reports = MediaReports(runtime.db)
    app.state.previews = previews
    app.state.uploads = uploads
    app.include_router(router)
    app.include_router(delivery_router)
    app.state.arrangement = GalleryArrangement(runtime.db, runtime.storage)
    app.include_router(arrangement_router)
    app.state.shares = GalleryShares(
        runtime.db,
        app.state.arrangement,
        library,
        internal_key=runtime.internal_key,
        clock=runtime.clock,
    )
    app.include_router(sharing_router)
    app.state.deliveries = deliveries
    app.state.photo_set = photo_set
    if isinstance(runtime.storage, LocalStorage):
        app.include_router(
            local_storage_router(
                runtime.storage,
                max_bytes=settings.max_upload_bytes,
                accepts_upload=library.accepts_upload,
            )
        )
    # Stop the job queue that feeds the render threads (its jobs handed back), then them.
    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with runtime_lifespan(app) as state:
            try:
                yield state
            finally:
                await runtime.jobs.stop()
                await processing.stop()

    app.router.lifespan_context = lifespan
    return app, runtime


def main() -> None:
    settings = MediaSettings()
    app, _ = create_app(settings)
    serve(app, settings, migrations_package="pix_media")
