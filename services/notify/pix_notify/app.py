from fastapi import FastAPI
from pix_runtime.lifecycle import ServiceRuntime, serve
from pix_runtime.sealing import derive_key

from pix_notify.api import create_router
from pix_notify.handlers import register_handlers
from pix_notify.service import OutboxProvider, PostOffice
from pix_notify.settings import NotifySettings


def create_app(settings: NotifySettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or NotifySettings()
    runtime = ServiceRuntime(settings)
    office = PostOffice(
        runtime.db,
        OutboxProvider(settings.outbox_dir),
        sender=settings.sender,
        link_key=derive_key(runtime.internal_key, "email-link"),
        admin_emails=settings.admin_emails,
    )
    register_handlers(runtime.broker, office)
    app = runtime.create_app(title="pix.immo notify")
    app.include_router(create_router(office, runtime.current_identity))
    return app, runtime


def main() -> None:
    settings = NotifySettings()
    app, _ = create_app(settings)
    serve(app, settings, migrations_package="pix_notify")
