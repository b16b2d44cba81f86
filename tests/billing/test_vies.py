"""EU VAT ids are checked against VIES (the EU Commission's register) when a business customer
enters one: a registered id is verified (reverse charge for an EU business abroad), an
unregistered one refused; while VIES cannot answer the id is accepted provisionally, German VAT
applies, and a job asks VIES again until it answers.

Billing's own httpx client talks to a local server that speaks VIES's REST API
(tests/billing/vies_fake.py) over real HTTP; Stripe is the local fake as in the other tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from billing_helpers import BillingApp, billing_settings, person
from pix_billing.app import create_app
from pix_runtime.identity import Identity
from stripe_fake import FakeStripe
from test_billing_orders import FRENCH, invoice_of, order_delivered, placed
from vies_fake import FakeVies

FRENCH_ID = FRENCH["vat_id"]


async def _save(billing: BillingApp, who: Identity, profile: dict[str, Any]) -> httpx.Response:
    return await billing.client.put("/account/profile", json=profile, headers=billing.headers(who))


async def _licence(billing: BillingApp, who: Identity) -> dict[str, Any]:
    answer = await billing.client.get("/account", headers=billing.headers(who))
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def _invoiced(billing: BillingApp, who: Identity) -> dict[str, Any]:
    order = placed(who.org_id, {"photos": 22900})
    await order_delivered(billing, order)
    invoice: dict[str, Any] = (await invoice_of(billing, who, order))["invoice"]
    return invoice


async def test_a_registered_vat_id_is_verified_and_gets_reverse_charge(
    billing: BillingApp, vies: FakeVies
) -> None:
    french = person()

    saved = await _save(billing, french, FRENCH)

    assert saved.status_code == 200, saved.text
    assert saved.json()["vat_status"] == "verified"
    assert saved.json()["vat_name"] == f"Trader {FRENCH_ID}"
    assert saved.json()["vat_checked_at"] is not None
    assert vies.requests[-1] == {"countryCode": "FR", "vatNumber": FRENCH_ID[2:]}
    invoice = await _invoiced(billing, french)
    assert invoice["vat_treatment"] == "reverse_charge"
    assert invoice["vat_cents"] == 0
    # An address edit with the same, verified id does not ask VIES again.
    again = await _save(billing, french, {**FRENCH, "street": "14 rue de la Paix"})
    assert again.json()["vat_status"] == "verified"
    assert vies.asked_for(FRENCH_ID) == 1


async def test_an_unregistered_vat_id_is_refused(billing: BillingApp, vies: FakeVies) -> None:
    french = person()
    vies.unregistered.add(FRENCH_ID)

    saved = await _save(billing, french, FRENCH)

    assert saved.status_code == 422, saved.text
    assert saved.json()["error"]["code"] == "vat_id_not_registered"
    assert saved.json()["error"]["field"] == "vat_id"
    assert (await _licence(billing, french))["profile"]["vat_id"] is None


async def test_a_non_eu_tax_id_is_not_sent_to_vies(billing: BillingApp, vies: FakeVies) -> None:
    swiss = person()
    profile = {**FRENCH, "country": "CH", "vat_id": "CHE123456789"}

    saved = await _save(billing, swiss, profile)

    assert saved.status_code == 200, saved.text
    assert saved.json()["vat_status"] == "foreign"
    assert vies.requests == []
    assert (await _invoiced(billing, swiss))["vat_treatment"] == "not_taxable"


@pytest.mark.parametrize("as_user_error", [False, True])
async def test_while_vies_is_down_the_id_is_provisional_and_a_job_verifies_it_later(
    billing: BillingApp, vies: FakeVies, as_user_error: bool
) -> None:
    fake = billing.stripe
    assert fake is not None
    french = person()
    vies.outage = True
    vies.outage_as_user_error = as_user_error

    saved = await _save(billing, french, FRENCH)

    # Accepted, but not trusted: German VAT until VIES confirms the id.
    assert saved.status_code == 200, saved.text
    assert saved.json()["profile"]["vat_id"] == FRENCH_ID
    assert saved.json()["vat_status"] == "unverified"
    before = await _invoiced(billing, french)
    assert before["vat_treatment"] == "de_vat"
    assert before["vat_cents"] > 0
    # The recheck ran (order_delivered runs the due jobs) and VIES was still down.
    assert vies.asked_for(FRENCH_ID) >= 2
    assert (await _licence(billing, french))["vat_status"] == "unverified"

    vies.outage = False
    billing.runtime.clock.advance(timedelta(hours=5))  # beyond the recheck's backoff
    await billing.handled()

    licence = await _licence(billing, french)
    assert licence["vat_status"] == "verified"
    assert licence["vat_name"] == f"Trader {FRENCH_ID}"
    after = await _invoiced(billing, french)
    assert after["vat_treatment"] == "reverse_charge"
    # Stripe's customer followed the verification.
    stripe_invoice = next(
        o
        for o in fake.objects.values()
        if o["object"] == "invoice" and o["number"] == after["number"]
    )
    assert fake.objects[stripe_invoice["customer"]]["tax_exempt"] == "reverse"


async def test_a_recheck_that_finds_the_id_unregistered_keeps_german_vat(
    billing: BillingApp, vies: FakeVies
) -> None:
    french = person()
    vies.outage = True
    assert (await _save(billing, french, FRENCH)).json()["vat_status"] == "unverified"

    vies.outage = False
    vies.unregistered.add(FRENCH_ID)
    await billing.handled()

    licence = await _licence(billing, french)
    assert licence["vat_status"] == "invalid"
    assert licence["profile"]["vat_id"] == FRENCH_ID
    assert (await _invoiced(billing, french))["vat_treatment"] == "de_vat"


@pytest.fixture
async def impatient(
    billing_schema: str, stripe_fake: FakeStripe, vies: FakeVies
) -> AsyncIterator[BillingApp]:
    """Billing with a VIES timeout far below the time the held VIES takes."""
    settings = billing_settings(stripe_fake, vies_base_url=vies.url, vies_timeout_seconds=0.2)
    app, runtime = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://billing"
    ) as client:
        yield BillingApp(client, runtime, settings, app, stripe_fake)
    await runtime.db.dispose()


async def test_a_vies_that_does_not_answer_in_time_counts_as_down(
    impatient: BillingApp, vies: FakeVies
) -> None:
    french = person()
    vies.hold = asyncio.Event()  # VIES keeps the request until the test lets it go

    saved = await _save(impatient, french, FRENCH)

    assert saved.status_code == 200, saved.text
    assert saved.json()["vat_status"] == "unverified"
    vies.hold.set()
