"""The AsyncAPI documents of every service, generated from the FastStream apps themselves.

pix-stack asyncapi write    # regenerate contracts/asyncapi/<service>.yaml
pix-stack asyncapi check    # exit 1 if a committed document drifted from the code
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from faststream.specification import AsyncAPI
from pix_assistant.app import create_app as assistant_app
from pix_assistant.settings import AssistantSettings
from pix_auth.app import create_app as auth_app
from pix_auth.settings import AuthSettings
from pix_billing.app import create_app as billing_app
from pix_billing.settings import BillingSettings
from pix_captioning.app import create_app as captioning_app
from pix_captioning.settings import CaptioningSettings
from pix_export.app import create_app as export_app
from pix_export.settings import ExportSettings
from pix_leads.app import create_app as leads_app
from pix_leads.settings import LeadsSettings
from pix_listings.app import create_app as listings_app
from pix_listings.settings import ListingsSettings
from pix_media.app import create_app as media_app
from pix_media.settings import MediaSettings
from pix_notify.app import create_app as notify_app
from pix_notify.settings import NotifySettings
from pix_orders.app import create_app as orders_app
from pix_orders.settings import OrdersSettings
from pix_runtime.lifecycle import ServiceRuntime
from pix_runtime.settings import PlatformSettings

DOCS_DIR = Path(__file__).resolve().parents[2] / "contracts" / "asyncapi"
# Placeholder server so the documents do not depend on the machine that generated them.
DOC_BOOTSTRAP = "kafka:9092"

Factory = Callable[[Any], tuple[Any, ServiceRuntime]]
SERVICES: dict[str, tuple[Factory, type[Any]]] = {
    "auth": (auth_app, AuthSettings),
    "orders": (orders_app, OrdersSettings),
    "media": (media_app, MediaSettings),
    "captioning": (captioning_app, CaptioningSettings),
    "export": (export_app, ExportSettings),
    "notify": (notify_app, NotifySettings),
    "leads": (leads_app, LeadsSettings),
    "listings": (listings_app, ListingsSettings),
    "billing": (billing_app, BillingSettings),
    "assistant": (assistant_app, AssistantSettings),
}


def documents() -> dict[str, str]:
    result = {}
    with tempfile.TemporaryDirectory() as scratch:
        platform = PlatformSettings(
            kafka_bootstrap=DOC_BOOTSTRAP,
            storage_url=f"file://{scratch}/storage",
            database_url="postgresql+asyncpg://docs@localhost/pix",
        )
        for name, (factory, settings_class) in SERVICES.items():
            extra = {"outbox_dir": Path(scratch) / "mail"} if name == "notify" else {}
            _, runtime = factory(settings_class(platform=platform, **extra))
            spec = AsyncAPI(
                runtime.broker,
                title=f"pix.immo {name}",
                version="1.0.0",
                description=f"Events the {name} service consumes and publishes.",
            )
            # Sorted keys: FastStream's own order varies between runs, diffs should not.
            result[name] = yaml.safe_dump(
                spec.to_specification().to_jsonable(), sort_keys=True, allow_unicode=True
            )
    return result


def write() -> None:
    DOCS_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in documents().items():
        (DOCS_DIR / f"{name}.yaml").write_text(text)


def drifted() -> list[str]:
    stale = []
    for name, text in documents().items():
        path = DOCS_DIR / f"{name}.yaml"
        if not path.is_file() or yaml.safe_load(path.read_text()) != yaml.safe_load(text):
            stale.append(name)
    return stale
