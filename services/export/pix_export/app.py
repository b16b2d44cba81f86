from fastapi import FastAPI
from pix_contracts import GalleryExported
from pix_contracts.privacy import ExportOrganisationErased
from pix_runtime.broker import declare_publishers
from pix_runtime.erasure import subscribe_organisation_erasure
from pix_runtime.lifecycle import ServiceRuntime, serve
from pix_runtime.logging import get_logger
from pix_runtime.personal_data import declare
from pix_runtime.sealing import SecretBox

from pix_export.api import router
from pix_export.arrangement import TitleFromMedia, register_title_from_media
from pix_export.crm_push import CrmDesk
from pix_export.handlers import register_handlers
from pix_export.models import ORGANISATION_DATA, jobs, outbox
from pix_export.privacy import PERSONAL_DATA
from pix_export.service import ExportDesk
from pix_export.settings import ExportSettings
from pix_export.webhooks import WebhookDesk

log = get_logger(__name__)


def create_app(settings: ExportSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or ExportSettings()
    runtime = ServiceRuntime(settings, outbox=outbox, jobs=jobs)
    key = settings.secrets_key.get_secret_value() if settings.secrets_key else None
    if key is None and settings.platform.env == "production":
        # CRM credentials sealed under a key derived from the internal key would be lost with a
        # rotation of it: production names its own key, like PIX_INTERNAL_KEY.
        raise RuntimeError("PIX_EXPORT_SECRETS_KEY must be set in production (base64, 32 bytes)")
    box = SecretBox.from_config(key, runtime.internal_key, "export-secrets")
    hooks = WebhookDesk(runtime.db, box, settings, clock=runtime.clock)
    crm = CrmDesk(runtime.db, runtime.storage, box, settings, clock=runtime.clock)
    desk = ExportDesk(runtime.db, runtime.storage, settings, hooks, crm=crm, clock=runtime.clock)
    register_handlers(runtime.broker, desk)
    register_title_from_media(runtime.broker, TitleFromMedia(runtime.db, runtime.clock, desk))
    subscribe_organisation_erasure(runtime, ORGANISATION_DATA, ExportOrganisationErased)
    declare_publishers(runtime.broker, GalleryExported)
    runtime.every(settings.flush_every_seconds, desk.flush_due)
    desk.register_jobs(runtime.jobs)
    hooks.register_jobs(runtime.jobs)
    crm.register_jobs(runtime.jobs)
    app = runtime.create_app(title="pix.immo export")
    declare(app, "export", PERSONAL_DATA)
    app.include_router(router)
    app.state.desk = desk
    app.state.webhooks = hooks
    app.state.crm = crm
    return app, runtime


def main() -> None:
    settings = ExportSettings()
    app, _ = create_app(settings)
    serve(app, settings, migrations_package="pix_export")
