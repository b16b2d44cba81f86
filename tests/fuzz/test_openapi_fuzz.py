"""Schemathesis on every service's OpenAPI document and the gateway's: generated requests
(valid and not), as a client of an organisation and as an administrator, must never meet a
server error.

Each service runs as a real HTTP server (uvicorn in a thread) on a database of its own, so the
generated rows stay out of the other tests' way; the gateway runs in front of them. Bounded: a
few cases per operation, a few hundred in all; the figures are printed (`-s`).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pix_auth.app import create_app as auth_app
from pix_auth.settings import AuthSettings
from pix_captioning.app import create_app as captioning_app
from pix_captioning.settings import CaptioningSettings
from pix_export.app import create_app as export_app
from pix_export.settings import ExportSettings
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_media.app import create_app as media_app
from pix_media.settings import MediaSettings
from pix_notify.app import create_app as notify_app
from pix_notify.settings import MailgunSettings, NotifySettings
from pix_orders.app import create_app as orders_app
from pix_orders.settings import OrdersSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.migrations import upgrade_to_head
from pix_runtime.settings import PlatformSettings
from pix_stack.embedded import EmbeddedPostgres, free_port
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

CASES_PER_OPERATION = 3
# What a deployment configures; without it a webhook answers 503 "not configured", on purpose.
CONFIGURED: dict[str, dict[str, Any]] = {
    "notify": {"mailgun": MailgunSettings(webhook_signing_key="fuzz-signing-key")},
}
# The gateway's public pages served by a service that does not run here (leads: the lead's own
# viewing page): their 503 is the outage page, as for the proxied APIs of leads and listings.
PAGES_OF_SERVICES_NOT_RUNNING = ("/viewing/",)
SERVICES: dict[str, tuple[Callable[..., Any], type[Any]]] = {
    "auth": (auth_app, AuthSettings),
    "orders": (orders_app, OrdersSettings),
    "media": (media_app, MediaSettings),
    "captioning": (captioning_app, CaptioningSettings),
    "export": (export_app, ExportSettings),
    "notify": (notify_app, NotifySettings),
}


@pytest.fixture(scope="module")
async def fuzz_database(postgres: EmbeddedPostgres, platform_env: dict[str, str]) -> str:
    """A database of its own, migrated exactly as the services migrate at start."""
    name = f"fuzz_{secrets.token_hex(4)}"
    admin = create_async_engine(postgres.url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    url = make_url(postgres.url).set(database=name).render_as_string(hide_password=False)
    for service in SERVICES:
        await upgrade_to_head(url, f"pix_{service}", service)
    return url


class ServerThread:
    """A service's app behind uvicorn in a thread (its own event loop), as a process runs it."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, lifespan="off", log_config=None
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def services(fuzz_database: str) -> Iterator[dict[str, str]]:
    threads = []
    urls = {}
    for name, (create_app, settings_type) in SERVICES.items():
        configured = CONFIGURED.get(name, {})
        app, _ = create_app(settings_type(database_url=fuzz_database, **configured))
        threads.append(ServerThread(app))
        urls[name] = threads[-1].__enter__()
    # The front door too, in front of these very services (leads and listings not running:
    # the gateway answers for them with 503, which is what an outage is).
    platform = PlatformSettings(
        auth_url=urls["auth"],
        orders_url=urls["orders"],
        media_url=urls["media"],
        captioning_url=urls["captioning"],
        export_url=urls["export"],
        notify_url=urls["notify"],
    )
    threads.append(ServerThread(gateway_app(GatewaySettings(platform=platform))))
    urls["gateway"] = threads[-1].__enter__()
    yield urls
    for thread in threads:
        thread.__exit__()


def callers() -> list[Identity]:
    org = uuid.uuid4()
    common = {"email": "fuzz@makler-example.de", "name": "Fuzz", "email_verified": True}
    return [
        Identity(user_id=uuid.uuid4(), org_id=org, role="client", **common),
        Identity(user_id=uuid.uuid4(), org_id=uuid.uuid4(), role="admin", **common),
    ]


class Run:
    """Cases sent and server errors met, per service."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.who = callers()
        self.session = requests.Session()
        self.cases: dict[str, int] = {}
        self.server_errors: list[str] = []

    def fuzz(self, service: str, base_url: str, operation: Any) -> None:
        @given(case=operation.as_strategy(), caller=st.sampled_from(self.who))
        @settings(
            max_examples=CASES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any, caller: Identity) -> None:
            self.cases[service] = self.cases.get(service, 0) + 1
            headers = {IDENTITY_HEADER: sign_identity(caller, self.key)}
            response = case.call(base_url=base_url, session=self.session, headers=headers)
            outage_page = (
                service == "gateway"
                and response.status_code == 503
                and case.path.startswith(PAGES_OF_SERVICES_NOT_RUNNING)
            )
            if response.status_code >= 500 and not outage_page:
                self.server_errors.append(
                    f"{service} {case.method} {case.formatted_path} as {caller.role}: "
                    f"{response.status_code} {response.text[:200]}"
                )

        call()


def test_no_generated_request_meets_a_server_error(services: dict[str, str]) -> None:
    run = Run(os.environ["PIX_INTERNAL_KEY"].encode())
    started = time.perf_counter()
    for service, base_url in services.items():
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
        for result in schema.get_all_operations():
            run.fuzz(service, base_url, result.ok())
    total = sum(run.cases.values())
    print(
        f"\nSchemathesis: {total} cases over {len(run.cases)} services ({run.cases}), "
        f"{len(run.server_errors)} server errors, {time.perf_counter() - started:.1f} s"
    )
    assert total >= 300
    assert run.server_errors == [], "\n".join(run.server_errors)
