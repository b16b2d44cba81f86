import functools

from fastapi import FastAPI
from pix_contracts import CaptionFailed, CaptionReady
from pix_runtime.broker import declare_publishers
from pix_runtime.lifecycle import ServiceRuntime, serve

from pix_captioning.api import create_router
from pix_captioning.handlers import register_handlers, update_lag
from pix_captioning.models import outbox
from pix_captioning.providers import build_provider
from pix_captioning.reliability import CircuitBreaker, RetryPolicy
from pix_captioning.service import CaptionDesk
from pix_captioning.settings import CaptioningSettings


def create_app(settings: CaptioningSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or CaptioningSettings()
    runtime = ServiceRuntime(settings, outbox=outbox)
    provider = build_provider(settings, runtime.storage)
    desk = CaptionDesk(
        runtime.db,
        runtime.storage,
        provider,
        policy=RetryPolicy(
            attempts=settings.attempts,
            base_seconds=settings.backoff_base_seconds,
            max_seconds=settings.backoff_max_seconds,
        ),
        breaker=CircuitBreaker(
            provider.name,
            threshold=settings.breaker_threshold,
            reset_seconds=settings.breaker_reset_seconds,
        ),
        webhook_grace_seconds=settings.replicate_webhook_grace_seconds,
        prediction_timeout_seconds=settings.provider_timeout_seconds,
    )
    runtime.on_start(
        functools.partial(desk.warm_up, min(settings.concurrency, settings.db_pool_size))
    )
    subscriber = register_handlers(
        runtime.broker, desk, concurrency=settings.concurrency, fetch_wait_ms=settings.fetch_wait_ms
    )
    runtime.every(settings.lag_every_seconds, functools.partial(update_lag, subscriber))
    if desk.predictions is not None:  # Replicate with a webhook URL: make up lost webhooks
        runtime.every(settings.reconcile_every_seconds, desk.predictions.reconcile)
    declare_publishers(runtime.broker, CaptionReady, CaptionFailed)
    app = runtime.create_app(title="pix.immo captioning")
    app.include_router(create_router(desk, runtime.current_identity))
    app.state.desk = desk
    return app, runtime


def main() -> None:
    settings = CaptioningSettings()
    app, _ = create_app(settings)
    serve(app, settings, migrations_package="pix_captioning")
