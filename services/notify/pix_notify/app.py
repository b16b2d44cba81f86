import sys
from datetime import timedelta

from fastapi import FastAPI
from pix_contracts.privacy import NotifyOrganisationErased
from pix_runtime.erasure import subscribe_organisation_erasure
from pix_runtime.jobs import RetryPolicy
from pix_runtime.lifecycle import ServiceRuntime, serve
from pix_runtime.logging import get_logger
from pix_runtime.personal_data import declare, declare_subjects, subject_key
from pix_runtime.sealing import derive_key

from pix_notify.api import router
from pix_notify.bounces import MailgunWebhooks
from pix_notify.delivery import Courier
from pix_notify.gallery_mail import GALLERY_MAIL, GalleryMailDue
from pix_notify.handlers import register_handlers
from pix_notify.models import ORGANISATION_DATA, jobs, outbox
from pix_notify.operations import email_failures
from pix_notify.preferences import Preferences
from pix_notify.preferences_api import router as preferences_router
from pix_notify.privacy import PERSONAL_DATA
from pix_notify.providers import MailConfigError, build_provider
from pix_notify.service import PostOffice
from pix_notify.settings import NotifySettings
from pix_notify.subjects import MailSubjects

log = get_logger(__name__)


def create_app(settings: NotifySettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or NotifySettings()
    # Before anything connects: a mis-configured provider stops the service with a message.
    provider = build_provider(settings)
    runtime = ServiceRuntime(settings, jobs=jobs, outbox=outbox)
    courier = Courier(
        runtime.db,
        provider,
        sender=settings.sender,
        policy=RetryPolicy(
            max_attempts=settings.max_attempts,
            base_seconds=settings.retry_base_seconds,
            max_seconds=settings.retry_max_seconds,
        ),
        lease=timedelta(seconds=settings.stuck_after_seconds),
        subject_key=subject_key(runtime.internal_key),
        log_retention=timedelta(days=settings.mail_log_retention_days),
    )
    courier.register(runtime.jobs)
    runtime.jobs.every(
        "notify.retention.mail-log",
        timedelta(seconds=settings.retention_interval_seconds),
        courier.purge_log,
    )
    signing_key = settings.mailgun.webhook_signing_key
    webhooks = MailgunWebhooks(
        runtime.db,
        courier,
        signing_key=signing_key.get_secret_value() if signing_key else None,
        tolerance=settings.webhook_tolerance_seconds,
    )
    if settings.provider == "mailgun" and signing_key is None:
        log.warning("mailgun.webhook_unverifiable", hint="set MAILGUN_WEBHOOK_SIGNING_KEY")
    office = PostOffice(
        runtime.db,
        courier,
        link_key=derive_key(runtime.internal_key, "email-link"),
        subject_key=subject_key(runtime.internal_key),
        admin_emails=settings.admin_emails,
        clock=runtime.clock,
        gallery_update_interval=timedelta(seconds=settings.gallery_update_interval_seconds),
    )
    runtime.jobs.register(
        GALLERY_MAIL,
        GalleryMailDue,
        office.gallery_mail.send,
        policy=RetryPolicy(max_attempts=12, base_seconds=5, max_seconds=600),
    )
    register_handlers(runtime.broker, office)
    runtime.operations.add(email_failures(runtime.db, runtime.clock))
    subscribe_organisation_erasure(runtime, ORGANISATION_DATA, NotifyOrganisationErased)
    runtime.every(settings.webhook_tolerance_seconds, webhooks.purge_tokens)
    app = runtime.create_app(title="pix.immo notify")
    declare(app, "notify", PERSONAL_DATA)
    declare_subjects(app, "notify", MailSubjects(runtime.db))
    app.include_router(router)
    app.include_router(preferences_router)
    app.state.preferences = Preferences(runtime.db)
    app.state.courier = courier
    app.state.webhooks = webhooks
    return app, runtime


def main() -> None:
    settings = NotifySettings()
    try:
        app, _ = create_app(settings)
    except MailConfigError as exc:
        sys.exit(f"pix-notify: {exc}")
    serve(app, settings, migrations_package="pix_notify")
