"""CRM push against local onOffice and Propstack servers that speak their documented API; the
pushes are jobs, run with `run_due` as the service's clock moves."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
from crm_fakes import ACTION_DO, ONOFFICE_PATH, FakeOnOffice, FakePropstack, serve
from export_testkit import (
    TITLES,
    Service,
    caption_ready,
    export_service,
    order_placed,
    uploaded,
)
from pix_export.models import crm_connections
from sqlalchemy import select

TOKEN = "a1b2c3d4" * 4  # onOffice tokens have 32 characters, secrets 64
SECRET = "S3cr3t-x" * 8
API_KEY = "ps-key-" + "k" * 30
ESTATE = 4711
PROPERTY = 815
FACTS = {
    "street": "Lindenallee",
    "house_number": "5a",
    "postcode": "10115",
    "city": "Berlin",
    "country": "DE",
    "property_type": "house",
    "marketing": "sale",
    "living_area_m2": 160.0,
    "rooms": 5.0,
}
TITLE = "5-Zimmer-Haus in Berlin, 160 m²"


async def complete_gallery(svc: Service, gallery_id: uuid.UUID, org_id: uuid.UUID) -> None:
    """Two photos uploaded, then both captioned, then delivered: one complete version."""
    for name in ("Floorplan_01", "Kitchen_01"):
        await svc.publish(await uploaded(svc, gallery_id, org_id, name))
    for name in ("Floorplan_01", "Kitchen_01"):
        await svc.publish(caption_ready(gallery_id, org_id, name))
    await svc.deliver(gallery_id, org_id, ["Floorplan_01", "Kitchen_01"])


def backoff_passes(svc: Service) -> None:
    """The time a retrying push waits has passed: the service's clock moves past the first
    backoff (at most `crm_retry_base_seconds`, 30 s) instead of sleeping through it."""
    svc.runtime.clock.advance(timedelta(seconds=31))


async def push_log(
    http: httpx.AsyncClient, svc: Service, gallery_id: uuid.UUID, org_id: uuid.UUID
) -> list[dict[str, Any]]:
    response = await http.get(f"/galleries/{gallery_id}/crm-pushes", headers=svc.headers(org_id))
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


async def test_onoffice_push_is_signed_retried_and_never_repeated(migrated: set[str]) -> None:
    fake = FakeOnOffice(TOKEN, SECRET, {ESTATE})
    with serve(fake.app) as base:
        async with export_service(onoffice_url=base + ONOFFICE_PATH) as svc:
            gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
            async with svc.client() as http:
                saved = await http.put(
                    "/crm/connections/onoffice",
                    json={"token": TOKEN, "secret": SECRET},
                    headers=svc.headers(org_id),
                )
                assert saved.status_code == 200, saved.text
                assert saved.json()["hint"] == "…" + TOKEN[-4:]
                await svc.publish(order_placed(gallery_id, org_id, "PIX-004711", **FACTS))
                assert TOKEN not in saved.text
                assert SECRET not in saved.text
                listed = await http.get("/crm/connections", headers=svc.headers(org_id))
                assert [c["crm"] for c in listed.json()] == ["onoffice"]
                assert SECRET not in listed.text
                assert TOKEN not in listed.text
                other = await http.get("/crm/connections", headers=svc.headers(uuid.uuid4()))
                assert other.json() == []
                async with svc.runtime.db.sessions() as session:
                    sealed = await session.scalar(
                        select(crm_connections.c.credentials_sealed).where(
                            crm_connections.c.org_id == org_id
                        )
                    )
                assert sealed
                assert SECRET.encode() not in sealed
                assert TOKEN.encode() not in sealed

                await complete_gallery(svc, gallery_id, org_id)
                assert await svc.versions(gallery_id) == [1]
                assert await push_log(http, svc, gallery_id, org_id) == []  # no estate id yet

                bad = await http.put(
                    f"/galleries/{gallery_id}/crm-targets/onoffice",
                    json={"record_id": "abc"},
                    headers=svc.headers(org_id),
                )
                assert bad.status_code == 422
                foreign = await http.put(
                    f"/galleries/{gallery_id}/crm-targets/onoffice",
                    json={"record_id": ESTATE},
                    headers=svc.headers(uuid.uuid4()),
                )
                assert foreign.status_code == 404
                target = await http.put(
                    f"/galleries/{gallery_id}/crm-targets/onoffice",
                    json={"record_id": ESTATE},
                    headers=svc.headers(org_id),
                )
                assert target.json()["record_id"] == str(ESTATE)
                # The complete version built before the mapping is queued now.
                [queued] = await push_log(http, svc, gallery_id, org_id)
                assert (queued["version"], queued["status"]) == (1, "pending")

                fake.fail_next = [503]
                assert await svc.runtime.jobs.run_due() == 1
                [retrying] = await push_log(http, svc, gallery_id, org_id)
                assert retrying["status"] == "retrying"
                assert retrying["last_status_code"] == 503
                assert await svc.runtime.jobs.run_due() == 0  # backoff not over yet
                backoff_passes(svc)
                assert await svc.runtime.jobs.run_due() == 1
                [pushed] = await push_log(http, svc, gallery_id, org_id)
                assert pushed["status"] == "pushed", pushed
                assert (pushed["attempts"], pushed["images_pushed"]) == (2, 2)

                by_file = {f["file"]: f for f in fake.files}
                assert set(by_file) == {"Floorplan_01.jpg", "Kitchen_01.jpg"}
                kitchen = by_file["Kitchen_01.jpg"]
                assert kitchen["relatedRecordId"] == ESTATE
                assert kitchen["Art"] == "Titelbild"
                assert by_file["Floorplan_01.jpg"]["Art"] == "Grundriss"
                assert kitchen["title"] == TITLES["kitchen"][0][:30]
                assert kitchen["freetext"] == "Beschreibung Kitchen_01."
                assert kitchen["language"] == "DEU"
                assert kitchen["bytes"] == b"\xff\xd8\xff\xe0web-Kitchen_01"

                # Redelivered caption: no new version, nothing pushed again.
                await svc.publish(caption_ready(gallery_id, org_id, "Kitchen_01"))
                assert await svc.runtime.jobs.run_due() == 0
                # A new caption is delivered as an update: a new complete version, which is
                # pushed by itself.
                await svc.publish(caption_ready(gallery_id, org_id, "Kitchen_01", version=2))
                await svc.deliver(
                    gallery_id,
                    org_id,
                    ["Floorplan_01", "Kitchen_01"],
                    delivery=2,
                    caption_versions={"Kitchen_01": 2},
                )
                assert await svc.versions(gallery_id) == [1, 2]
                assert await svc.runtime.jobs.run_due() == 1
                log = await push_log(http, svc, gallery_id, org_id)
                assert [(p["version"], p["status"]) for p in log] == [(2, "pushed"), (1, "pushed")]
                assert len(fake.files) == 4
                # The estate's own fields: the order's facts in onOffice's names.
                assert fake.estate_fields[ESTATE] == {
                    "objekttitel": TITLE,
                    "objektart": "haus",
                    "nutzungsart": "wohnen",
                    "vermarktungsart": "kauf",
                    "wohnflaeche": 160.0,
                    "anzahl_zimmer": 5.0,
                    "strasse": "Lindenallee",
                    "hausnummer": "5a",
                    "plz": "10115",
                    "ort": "Berlin",
                    "land": "DEU",
                    "ausstatt_beschr": "Hell, Küche",
                }
                assert fake.problems == []
                assert fake.rejected == []

        # The server really checks the signature: the same request with a wrong one is refused.
        async with httpx.AsyncClient() as client:
            timestamp = str(int(time.time()))
            action = {
                "actionid": ACTION_DO,
                "resourceid": "",
                "resourcetype": "uploadfile",
                "identifier": "",
                "timestamp": timestamp,
                "hmac": "d3Jvbmc=",
                "hmac_version": "2",
                "parameters": {"data": "AAAA"},
            }
            body = {"token": TOKEN, "request": {"actions": [action]}}
            answer = (await client.post(base + ONOFFICE_PATH, json=body)).json()
        assert answer["status"]["code"] == 400
        assert fake.rejected == ["hmac"]


async def test_onoffice_wrong_secret_fails_clearly_until_fixed(migrated: set[str]) -> None:
    fake = FakeOnOffice(TOKEN, SECRET, {ESTATE})
    with serve(fake.app) as base:
        async with export_service(onoffice_url=base + ONOFFICE_PATH) as svc:
            gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
            async with svc.client() as http:
                await http.put(
                    "/crm/connections/onoffice",
                    json={"token": TOKEN, "secret": "wrong-secret-123"},
                    headers=svc.headers(org_id),
                )
                await complete_gallery(svc, gallery_id, org_id)
                await http.put(
                    f"/galleries/{gallery_id}/crm-targets/onoffice",
                    json={"record_id": str(ESTATE)},
                    headers=svc.headers(org_id),
                )
                assert await svc.runtime.jobs.run_due() == 1
                [failed] = await push_log(http, svc, gallery_id, org_id)
                assert failed["status"] == "failed"
                assert "not authenticated" in failed["last_error"]
                assert "wrong-secret" not in failed["last_error"]
                assert fake.rejected == ["hmac"]
                assert fake.files == []

                await http.put(
                    "/crm/connections/onoffice",
                    json={"token": TOKEN, "secret": SECRET},
                    headers=svc.headers(org_id),
                )
                retried = await http.post(
                    f"/galleries/{gallery_id}/crm-pushes/{failed['id']}/retry",
                    headers=svc.headers(org_id),
                )
                assert retried.json()["status"] == "pending", retried.text
                assert await svc.runtime.jobs.run_due() == 1
                [pushed] = await push_log(http, svc, gallery_id, org_id)
                assert pushed["status"] == "pushed"
                assert pushed["last_error"] is None
                again = await http.post(
                    f"/galleries/{gallery_id}/crm-pushes/{failed['id']}/retry",
                    headers=svc.headers(org_id),
                )
                assert again.status_code == 409
                assert len(fake.files) == 2
                assert fake.problems == []


async def test_propstack_push_with_api_key_admin_setup_and_rate_limit(migrated: set[str]) -> None:
    fake = FakePropstack(API_KEY, {PROPERTY})
    with serve(fake.app) as base:
        async with export_service(propstack_url=base + "/v1") as svc:
            gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
            admin = svc.headers(uuid.uuid4(), role="admin")
            async with svc.client() as http:
                # A client cannot act for another organisation; an admin can.
                refused = await http.put(
                    f"/crm/connections/propstack?org_id={uuid.uuid4()}",
                    json={"api_key": API_KEY},
                    headers=svc.headers(org_id),
                )
                assert refused.status_code == 404
                short = await http.put(
                    "/crm/connections/propstack", json={"api_key": "x"}, headers=admin
                )
                assert short.status_code == 422
                assert short.json()["error"]["field"] == "api_key"
                wrong = await http.put(
                    f"/crm/connections/propstack?org_id={org_id}",
                    json={"api_key": "not-the-right-key-000"},
                    headers=admin,
                )
                assert wrong.status_code == 200
                assert wrong.json()["org_id"] == str(org_id)
                await svc.publish(order_placed(gallery_id, org_id, "PIX-000815", **FACTS))

                await complete_gallery(svc, gallery_id, org_id)
                await http.put(
                    f"/galleries/{gallery_id}/crm-targets/propstack",
                    json={"record_id": PROPERTY},
                    headers=svc.headers(org_id),
                )
                assert await svc.runtime.jobs.run_due() == 1
                [failed] = await push_log(http, svc, gallery_id, org_id)
                assert failed["status"] == "failed"
                assert failed["last_status_code"] == 401
                assert "rejected the credentials" in failed["last_error"]
                assert fake.rejected == 1

                await http.put(
                    "/crm/connections/propstack",
                    json={"api_key": API_KEY},
                    headers=svc.headers(org_id),
                )
                # Saving the key does not duplicate the version's push; retrying it does the job.
                assert len(await push_log(http, svc, gallery_id, org_id)) == 1
                await http.post(
                    f"/galleries/{gallery_id}/crm-pushes/{failed['id']}/retry",
                    headers=svc.headers(org_id),
                )
                fake.fail_next = [429]
                assert await svc.runtime.jobs.run_due() == 1
                [limited] = await push_log(http, svc, gallery_id, org_id)
                assert (limited["status"], limited["last_status_code"]) == ("retrying", 429)
                backoff_passes(svc)
                assert await svc.runtime.jobs.run_due() == 1
                [pushed] = await push_log(http, svc, gallery_id, org_id)
                assert pushed["status"] == "pushed", pushed
                assert await svc.runtime.jobs.run_due() == 0

            assert [
                (i["title"], i["position"], i["is_floorplan"], i["imageable_id"])
                for i in fake.images
            ] == [
                (TITLES["kitchen"][0][:30], 0, False, PROPERTY),
                ("Grundriss Erdgeschoss", 1, True, PROPERTY),
            ]
            assert all(i["is_private"] is False for i in fake.images)
            assert fake.images[0]["photo"] == b"\xff\xd8\xff\xe0web-Kitchen_01"
            assert fake.units[PROPERTY] == {
                "title": TITLE,
                "marketing_type": "BUY",
                "object_type": "LIVING",
                "rs_type": "HOUSE",
                "living_space": 160.0,
                "number_of_rooms": 5.0,
                "street": "Lindenallee",
                "house_number": "5a",
                "zip_code": "10115",
                "city": "Berlin",
                "country": "DE",
                "furnishing_note": "Hell, Küche",
            }
            assert fake.problems == []
