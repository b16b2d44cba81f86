from fastapi import FastAPI
from pix_contracts import GalleryExported
from pix_runtime.broker import declare_publishers
from pix_runtime.lifecycle import ServiceRuntime, serve

from pix_export.api import create_router
from pix_export.handlers import register_handlers
from pix_export.models import outbox
from pix_export.service import ExportDesk
from pix_export.settings import ExportSettings


def create_app(settings: ExportSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or ExportSettings()
    runtime = ServiceRuntime(settings, outbox=outbox)
    desk = ExportDesk(runtime.db, runtime.storage, url_seconds=settings.download_url_seconds)
    register_handlers(runtime.broker, desk)
    declare_publishers(runtime.broker, GalleryExported)
    app = runtime.create_app(title="pix.immo export")
    app.include_router(create_router(desk, runtime.current_identity))
    return app, runtime


def main() -> None:
    settings = ExportSettings()
    app, _ = create_app(settings)
    serve(app, settings, migrations_package="pix_export")
