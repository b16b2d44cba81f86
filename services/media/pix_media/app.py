from fastapi import FastAPI
from pix_contracts import AssetUploaded
from pix_runtime.broker import declare_publishers
from pix_runtime.lifecycle import ServiceRuntime, serve
from pix_runtime.storage import LocalStorage
from pix_runtime.storage_routes import local_storage_router

from pix_media.api import create_router
from pix_media.handlers import register_handlers
from pix_media.models import outbox
from pix_media.service import MediaLibrary
from pix_media.settings import MediaSettings


def create_app(settings: MediaSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or MediaSettings()
    runtime = ServiceRuntime(settings, outbox=outbox)
    library = MediaLibrary(runtime.db, runtime.storage, settings)
    register_handlers(runtime.broker, library)
    runtime.every(settings.reconcile_every_seconds, library.requeue_stuck)
    declare_publishers(runtime.broker, AssetUploaded)
    app = runtime.create_app(title="pix.immo media")
    app.include_router(create_router(library, runtime.current_identity))
    if isinstance(runtime.storage, LocalStorage):
        app.include_router(
            local_storage_router(runtime.storage, max_bytes=settings.max_upload_bytes)
        )
    return app, runtime


def main() -> None:
    settings = MediaSettings()
    app, _ = create_app(settings)
    serve(app, settings, migrations_package="pix_media")
