"""The record of processing (GDPR Art. 30) comes from the services' own declarations: every
service answers GET /privacy/processing with what it stores, why, how long, and which
processors receive what."""

from __future__ import annotations

import importlib

import httpx
import pytest
from pix_runtime.personal_data import ProcessingRecord

SERVICES = (
    "auth",
    "orders",
    "media",
    "captioning",
    "export",
    "notify",
    "leads",
    "listings",
    "assistant",
    "billing",
)


async def record_of(service: str) -> ProcessingRecord:
    app, runtime = importlib.import_module(f"pix_{service}.app").create_app()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            response = await client.get("/privacy/processing")
        assert response.status_code == 200, response.text
        return ProcessingRecord.model_validate(response.json())
    finally:
        await runtime.db.dispose()


@pytest.mark.parametrize("service", SERVICES)
async def test_every_service_declares_its_personal_data(service: str, migrated: set[str]) -> None:
    record = await record_of(service)
    assert record.service == service
    assert record.declarations
    assert all(d.purpose and d.retention and d.legal_basis for d in record.declarations)


async def test_processors_receive_only_what_is_declared(migrated: set[str]) -> None:
    captioning = await record_of("captioning")
    [replicate] = [
        p for d in captioning.declarations for p in d.processors if p.name == "Replicate"
    ]
    assert replicate.receives.startswith("anonymised photos only")
    notify = await record_of("notify")
    assert any("EU" in p.location for d in notify.declarations for p in d.processors)
    billing = await record_of("billing")
    assert any("Stripe" in p.name for d in billing.declarations for p in d.processors)
