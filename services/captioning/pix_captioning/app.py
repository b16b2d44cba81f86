from fastapi import FastAPI
from pix_contracts import CaptionFailed, CaptionReady
from pix_runtime.broker import declare_publishers
from pix_runtime.lifecycle import ServiceRuntime, serve

from pix_captioning.api import create_router
from pix_captioning.handlers import register_handlers
from pix_captioning.models import outbox
from pix_captioning.service import CaptionDesk
from pix_captioning.settings import CaptioningSettings


def create_app(settings: CaptioningSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or CaptioningSettings()
    runtime = ServiceRuntime(settings, outbox=outbox)
    register_handlers(runtime.broker, CaptionDesk(runtime.db, runtime.storage))
    declare_publishers(runtime.broker, CaptionReady, CaptionFailed)
    app = runtime.create_app(title="pix.immo captioning")
    app.include_router(create_router())
    return app, runtime


def main() -> None:
    settings = CaptioningSettings()
    app, _ = create_app(settings)
    serve(app, settings, migrations_package="pix_captioning")
