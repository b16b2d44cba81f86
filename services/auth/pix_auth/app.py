from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from pix_contracts import (
    ERASURE_REPORTS,
    EmailVerificationRequested,
    OrganisationErased,
    OrganisationErasureDue,
    PasswordChanged,
    PasswordResetRequested,
    UserDeletedV2,
    UserRegistered,
)
from pix_runtime.broker import declare_publishers, subscribe
from pix_runtime.jobs import RetryPolicy
from pix_runtime.lifecycle import ServiceRuntime, serve
from pix_runtime.personal_data import declare, subject_key
from pix_runtime.sealing import derive_key

from pix_auth.api import rate_limited_handler, router
from pix_auth.devices import DeviceTokens
from pix_auth.hashing import HashingBusy, PasswordHashing
from pix_auth.models import jobs, outbox
from pix_auth.organisations import ERASURE_JOB, ErasureDue, OrganisationErasures
from pix_auth.privacy import PERSONAL_DATA
from pix_auth.service import RESET_JOB, Accounts, LinkSettings, PasswordResetJob
from pix_auth.settings import AdminBootstrap, AuthSettings
from pix_auth.throttle import RateLimited, Throttle


def create_app(settings: AuthSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or AuthSettings()
    runtime = ServiceRuntime(settings, outbox=outbox, jobs=jobs)
    hashing = PasswordHashing(
        workers=settings.hash_workers,
        queue=settings.hash_queue,
        max_wait=settings.hash_max_wait_seconds,
    )
    accounts = Accounts(
        runtime.db,
        idle=timedelta(days=settings.session_idle_days),
        absolute=timedelta(days=settings.session_absolute_days),
        links=LinkSettings(
            public_url=settings.platform.public_url,
            sealing_key=derive_key(runtime.internal_key, "email-link"),
        ),
        throttle=Throttle(settings.rate_limits, clock=lambda: runtime.clock.now().timestamp()),
        hashing=hashing,
        devices=DeviceTokens(derive_key(runtime.internal_key, "trusted-device")),
        subject_key=subject_key(runtime.internal_key),
    )
    runtime.jobs.register(
        RESET_JOB,
        PasswordResetJob,
        accounts.send_password_reset,
        policy=RetryPolicy(max_attempts=5, base_seconds=5, max_seconds=300),
    )
    erasures = OrganisationErasures(
        runtime.db,
        hashing=hashing,
        clock=runtime.clock,
        grace=timedelta(days=settings.erasure_grace_days),
        subject_key=subject_key(runtime.internal_key),
    )
    runtime.jobs.register(
        ERASURE_JOB,
        ErasureDue,
        erasures.erasure_due,
        policy=RetryPolicy(max_attempts=10, base_seconds=5, max_seconds=600),
    )
    subscribe_erasure_reports(runtime.broker, erasures)
    declare_publishers(
        runtime.broker,
        OrganisationErasureDue,
        UserRegistered,
        EmailVerificationRequested,
        PasswordResetRequested,
        PasswordChanged,
        UserDeletedV2,
    )
    runtime.on_start(lambda: bootstrap_admin(accounts))
    app = runtime.create_app(title="pix.immo auth")
    declare(app, "auth", PERSONAL_DATA)
    app.add_exception_handler(RateLimited, rate_limited_handler)
    app.add_exception_handler(HashingBusy, rate_limited_handler)
    app.state.password_hashing = hashing
    app.state.accounts = accounts
    app.state.erasures = erasures
    app.include_router(router)
    return app, runtime


def subscribe_erasure_reports(broker: KafkaBroker, erasures: OrganisationErasures) -> None:
    """Each service's report of an organisation's erasure, on its own topic."""
    for service, report in ERASURE_REPORTS.items():
        subscribe(broker, report, group=f"auth.erasure-reports.{service}")(
            erasure_report_handler(erasures, service)
        )


def erasure_report_handler(
    erasures: OrganisationErasures, service: str
) -> Callable[[OrganisationErased], Awaitable[None]]:
    # The body parses as the common report; which service sent it is the topic's.
    async def service_erased(event: OrganisationErased) -> None:
        await erasures.service_erased(event, service)

    return service_erased


async def bootstrap_admin(accounts: Accounts) -> None:
    admin = AdminBootstrap()
    password = admin.password.get_secret_value() if admin.password else None
    generated = await accounts.ensure_admin(admin.email, password)
    if generated:
        # Printed once, on the console of `make run`; never logged as a structured field.
        print(
            f"\n  First administrator created: {admin.email}  password: {generated}\n"
            "  (set PIX_ADMIN_EMAIL / PIX_ADMIN_PASSWORD to choose them)\n",
            flush=True,
        )


def main() -> None:
    settings = AuthSettings()
    app, _ = create_app(settings)
    serve(app, settings, migrations_package="pix_auth")
