import functools

from fastapi import FastAPI
from pix_contracts import CaptionFailed, CaptionReady
from pix_contracts.privacy import CaptioningOrganisationErased
from pix_runtime.broker import declare_publishers
from pix_runtime.erasure import subscribe_organisation_erasure
from pix_runtime.jobs import RetryPolicy as JobPolicy
from pix_runtime.lifecycle import ServiceRuntime, serve
from pix_runtime.personal_data import declare

from pix_captioning.api import router
from pix_captioning.handlers import register_handlers, update_lag
from pix_captioning.models import ORGANISATION_DATA, jobs, outbox
from pix_captioning.operations import caption_workers
from pix_captioning.predictions import RETRY, PredictionRetry
from pix_captioning.privacy import PERSONAL_DATA
from pix_captioning.providers import build_provider
from pix_captioning.reliability import CircuitBreaker, RetryPolicy
from pix_captioning.reports import CaptionReports
from pix_captioning.service import CaptionDesk
from pix_captioning.settings import CaptioningSettings


def create_app(settings: CaptioningSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or CaptioningSettings()
    runtime = ServiceRuntime(settings, outbox=outbox, jobs=jobs)
    provider = build_provider(settings, runtime.storage)
    breaker = CircuitBreaker(
        provider.name,
        threshold=settings.breaker_threshold,
        reset_seconds=settings.breaker_reset_seconds,
    )
    desk = CaptionDesk(
        runtime.db,
        runtime.storage,
        provider,
        policy=RetryPolicy(
            attempts=settings.attempts,
            base_seconds=settings.backoff_base_seconds,
            max_seconds=settings.backoff_max_seconds,
        ),
        breaker=breaker,
        clock=runtime.clock,
        webhook_grace_seconds=settings.replicate_webhook_grace_seconds,
        prediction_timeout_seconds=settings.provider_timeout_seconds,
    )
    runtime.on_start(
        functools.partial(desk.warm_up, min(settings.concurrency, settings.db_pool_size))
    )
    subscriber = register_handlers(
        runtime.broker, desk, concurrency=settings.concurrency, fetch_wait_ms=settings.fetch_wait_ms
    )
    runtime.operations.add(
        caption_workers(
            runtime.db,
            provider=provider.name,
            concurrency=settings.concurrency,
            breaker=breaker,
            workers=subscriber,
        )
    )
    subscribe_organisation_erasure(runtime, ORGANISATION_DATA, CaptioningOrganisationErased)
    # Each process's own partitions: refreshed in every process, not once across them.
    runtime.every(
        settings.lag_every_seconds, functools.partial(update_lag, subscriber), each_process=True
    )
    if desk.predictions is not None:  # Replicate with a webhook URL
        runtime.jobs.register(
            RETRY,
            PredictionRetry,
            desk.predictions.retry,
            policy=JobPolicy(max_attempts=5, base_seconds=5, max_seconds=300),
        )
        # Lost webhooks made up, once across the captioning processes.
        runtime.every(settings.reconcile_every_seconds, desk.predictions.reconcile)
    declare_publishers(runtime.broker, CaptionReady, CaptionFailed)
    app = runtime.create_app(title="pix.immo captioning")
    declare(app, "captioning", PERSONAL_DATA)
    app.include_router(router)
    app.state.desk = desk
    app.state.reports = CaptionReports(runtime.db)
    return app, runtime


def main() -> None:
    settings = CaptioningSettings()
    app, _ = create_app(settings)
    serve(app, settings, migrations_package="pix_captioning")
