"""Bad input against the running stack: clear errors, nothing lost, no crash loops."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from client import (
    full_order,
    new_client_account,
    place_order,
    upload,
    wait_for,
    wait_for_gallery,
)
from photos import decompression_bomb_png, jpeg_with_gps, room_photo, truncated_jpeg
from pix_contracts import AssetUploaded
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from stack import Stack


@pytest.fixture
async def http(stack: Stack) -> Any:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        yield client


@pytest.fixture
async def agent_gallery(stack: Stack, http: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    agent = await new_client_account(http, stack.data_dir / "mail")
    order = await place_order(http, agent)
    await wait_for_gallery(http, agent, order["gallery_id"])
    return agent, order["gallery_id"]


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("Bad_01.jpg", b"this is a text file, not a photo\n" * 20, "not_an_image"),
        ("Bad_02.jpg", truncated_jpeg(), "corrupt_image"),
        ("Bad_03.png", decompression_bomb_png(), "too_many_pixels"),
    ],
)
async def test_unusable_files_are_refused_with_a_clear_error(
    http: httpx.AsyncClient,
    agent_gallery: tuple[dict[str, str], str],
    name: str,
    data: bytes,
    code: str,
) -> None:
    agent, gallery_id = agent_gallery
    response = await upload(http, agent, gallery_id, name, data)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    gallery = (await http.get(f"/api/media/galleries/{gallery_id}", headers=agent)).json()
    [asset] = gallery["assets"]
    assert asset["status"] == "rejected"
    assert asset["error_code"] == code


async def test_unknown_and_foreign_galleries_are_not_found(
    stack: Stack, http: httpx.AsyncClient, agent_gallery: tuple[dict[str, str], str]
) -> None:
    agent, gallery_id = agent_gallery
    body = {"file_name": "Bad_01.jpg", "byte_size": 10}
    unknown = await http.post(
        f"/api/media/galleries/{uuid.uuid4()}/uploads", headers=agent, json=body
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    other_agency = await new_client_account(http, stack.data_dir / "mail")
    foreign = await http.post(
        f"/api/media/galleries/{gallery_id}/uploads", headers=other_agency, json=body
    )
    assert foreign.status_code == 404
    assert (
        await http.get(f"/api/media/galleries/{gallery_id}", headers=other_agency)
    ).status_code == 404


async def test_malformed_requests_get_json_errors(
    http: httpx.AsyncClient, agent_gallery: tuple[dict[str, str], str]
) -> None:
    agent, gallery_id = agent_gallery
    url = f"/api/media/galleries/{gallery_id}/uploads"
    broken = await http.post(
        url, headers={**agent, "content-type": "application/json"}, content=b"{not json"
    )
    assert broken.status_code == 422
    assert broken.json()["error"]["code"] == "malformed_json"
    wrong_type = await http.post(
        url, headers=agent, json={"file_name": "x.jpg", "byte_size": "big"}
    )
    assert wrong_type.status_code == 422
    assert wrong_type.json()["error"]["field"] == "byte_size"
    too_big = await http.post(url, headers=agent, json={"file_name": "x.jpg", "byte_size": 10**12})
    assert too_big.status_code == 413
    anonymous = await http.post(url, json={"file_name": "x.jpg", "byte_size": 10})
    assert anonymous.status_code == 401


async def test_the_same_photo_twice_is_a_duplicate(
    http: httpx.AsyncClient, agent_gallery: tuple[dict[str, str], str]
) -> None:
    agent, gallery_id = agent_gallery
    photo = jpeg_with_gps(room_photo(640, 480))
    first = await upload(http, agent, gallery_id, "Bad_1.jpg", photo)
    assert first.status_code == 200, first.text
    second = await upload(http, agent, gallery_id, "Bathroom copy.jpg", photo)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "duplicate"
    gallery = (await http.get(f"/api/media/galleries/{gallery_id}", headers=agent)).json()
    # The second copy is kept only as a refused entry (so the upload page can say why).
    assert [a["pseudonym"] for a in gallery["assets"] if a["status"] != "rejected"] == [
        "Bathroom_01"
    ]
    assert [a["error_code"] for a in gallery["assets"] if a["status"] == "rejected"] == [
        "duplicate"
    ]


async def captioned(http: httpx.AsyncClient, agent: dict[str, str], asset_id: str) -> None:
    async def done() -> bool:
        asset = (await http.get(f"/api/media/assets/{asset_id}", headers=agent)).json()
        return asset["status"] == "captioned"

    await wait_for(done, timeout=30)


async def test_replayed_and_malformed_events_change_nothing_and_block_nothing(
    stack: Stack, http: httpx.AsyncClient, agent_gallery: tuple[dict[str, str], str]
) -> None:
    agent, gallery_id = agent_gallery
    first = await upload(
        http,
        agent,
        gallery_id,
        "Wohnzimmer 1.jpg",
        jpeg_with_gps(room_photo(800, 600, colour=(90, 120, 160))),
    )
    asset_id = first.json()["id"]
    await captioned(http, agent, asset_id)

    record = await find_record(stack, AssetUploaded.topic, lambda v: asset_id.encode() in v)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    try:
        # The very same event again (a replay), then garbage, on the gallery's partition.
        await producer.send_and_wait(
            AssetUploaded.topic, record.value, key=record.key, headers=list(record.headers)
        )
        await producer.send_and_wait(
            AssetUploaded.topic, b"\x00garbage", key=record.key, headers=[("ce_id", b"not-a-uuid")]
        )
    finally:
        await producer.stop()

    # A later photo on the same partition still gets through, so neither blocked the consumer.
    sentinel = await upload(
        http,
        agent,
        gallery_id,
        "Garten.jpg",
        jpeg_with_gps(room_photo(800, 600, colour=(60, 140, 60))),
    )
    await captioned(http, agent, sentinel.json()["id"])

    engine = create_async_engine(stack.database_url)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(
                text("SELECT count(*) FROM captioning.captions WHERE asset_id = :a"),
                {"a": asset_id},
            )
    finally:
        await engine.dispose()
    assert count == 1, "a replayed upload event captioned the photo again"

    dead = await find_record(stack, AssetUploaded.topic + ".dlq", lambda v: v == b"\x00garbage")
    headers = dict(dead.headers)
    assert headers["dlq_source_topic"] == AssetUploaded.topic.encode()
    assert headers["dlq_error"]


async def find_record(stack: Stack, topic: str, match: Any, timeout: float = 20) -> Any:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=stack.kafka_bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(timeout):
            async for record in consumer:
                if match(record.value):
                    return record
    finally:
        await consumer.stop()
    raise AssertionError(f"no matching record on {topic}")


async def test_an_upload_link_closes_once_the_upload_is_complete(
    http: httpx.AsyncClient, agent_gallery: tuple[dict[str, str], str]
) -> None:
    agent, gallery_id = agent_gallery
    photo = jpeg_with_gps(room_photo(640, 480, colour=(120, 160, 200)))
    ticket = (
        await http.post(
            f"/api/media/galleries/{gallery_id}/uploads",
            headers=agent,
            json={"file_name": "Balkon.jpg", "byte_size": len(photo)},
        )
    ).json()
    assert (await http.put(ticket["upload_url"], content=photo)).status_code == 200
    done = await http.post(f"/api/media/assets/{ticket['asset_id']}/complete", headers=agent)
    assert done.status_code == 202
    # The same signed link, still unexpired, can no longer swap the validated original.
    swap = await http.put(ticket["upload_url"], content=b"not the photo that was checked")
    assert swap.status_code == 409
    assert swap.json()["error"]["code"] == "upload_closed"


async def test_nul_characters_are_clean_422s_everywhere(
    http: httpx.AsyncClient, agent_gallery: tuple[dict[str, str], str]
) -> None:
    agent, gallery_id = agent_gallery
    order = {**full_order(), "contact_name": "Erika\x00Muster"}
    for method, path, body, headers in [
        ("POST", "/api/auth/login", {"email": "a\x00@b.de", "password": "x"}, {}),
        ("POST", "/api/auth/password/forgot", {"email": "a@b.de\x00"}, {}),
        ("POST", "/api/auth/register", {"name": "\x00", "email": "n@b.de"}, {}),
        ("PATCH", "/api/auth/me", {"name": "Erika\x00"}, agent),
        ("POST", "/api/orders/orders", order, agent),
        ("POST", f"/api/media/galleries/{gallery_id}/uploads", {"file_name": "a\x00.jpg"}, agent),
        ("PATCH", f"/api/captioning/assets/{uuid.uuid4()}/caption", {"title_de": "\x00"}, agent),
        ("POST", "/api/exports/webhooks", {"url": "https://crm.example/\x00"}, agent),
    ]:
        response = await http.request(method, path, json=body, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["code"] == "invalid", path
    search = await http.get("/api/orders/orders?q=%00", headers=agent)
    assert search.status_code == 422


async def test_out_of_range_numbers_and_bodies_on_get_or_delete_are_clean_4xx(
    http: httpx.AsyncClient, agent_gallery: tuple[dict[str, str], str]
) -> None:
    agent, gallery_id = agent_gallery
    for version in (2**31, 2**63, -(2**31) - 1):
        response = await http.get(
            f"/api/exports/galleries/{gallery_id}/exports/{version}", headers=agent
        )
        assert 400 <= response.status_code < 500, (version, response.text)
        assert response.json()["error"]["code"]
    for method in ("GET", "DELETE"):
        response = await http.request(
            method, f"/api/exports/webhooks/{uuid.uuid4()}", headers=agent, json={"a": 1}
        )
        assert response.status_code == 400, method
        assert response.json()["error"]["code"] == "body_not_allowed"


async def test_json_bodies_over_a_mebibyte_are_refused_before_parsing(
    http: httpx.AsyncClient, agent_gallery: tuple[dict[str, str], str]
) -> None:
    agent, _ = agent_gallery
    huge = b'{"name": "' + b"x" * (10 << 20) + b'"}'
    json_type = {"content-type": "application/json"}
    for path, headers in [
        ("/api/auth/register", json_type),
        ("/api/auth/password/forgot", json_type),
        ("/api/orders/orders", {**json_type, **agent}),
    ]:
        response = await http.post(path, content=huge, headers=headers)
        assert response.status_code == 413, path
        assert response.json()["error"]["code"] == "too_large"


async def test_hostile_file_names_come_back_as_clean_labels(
    http: httpx.AsyncClient, agent_gallery: tuple[dict[str, str], str]
) -> None:
    agent, gallery_id = agent_gallery
    labels = {}
    for name in ("../../etc/passwd.jpg", "<script>x</script>.jpg", "Bad\u202egpj.exe.jpg"):
        ticket = await http.post(
            f"/api/media/galleries/{gallery_id}/uploads",
            headers=agent,
            json={"file_name": name, "byte_size": 1000},
        )
        assert ticket.status_code == 201, ticket.text
        asset = await http.get(f"/api/media/assets/{ticket.json()['asset_id']}", headers=agent)
        labels[name] = asset.json()["label"]
    assert labels == {
        "../../etc/passwd.jpg": "passwd.jpg",
        "<script>x</script>.jpg": "script.jpg",
        "Bad\u202egpj.exe.jpg": "Badgpj.exe.jpg",
    }


async def test_another_organisations_gallery_is_not_found_on_the_page_and_the_api(
    stack: Stack, http: httpx.AsyncClient, agent_gallery: tuple[dict[str, str], str]
) -> None:
    _, gallery_id = agent_gallery
    other = await new_client_account(http, stack.data_dir / "mail")
    session = {"cookie": f"__Host-session={other['Authorization'].removeprefix('Bearer ')}"}
    own = await http.get("/dashboard", headers=session)
    assert own.status_code == 200
    assert own.headers["cache-control"] == "no-store"
    for path in (f"/galleries/{gallery_id}", "/galleries/not-a-gallery-id"):
        page = await http.get(path, headers=session)
        assert page.status_code == 404, path
    for path in (
        f"/api/media/galleries/{gallery_id}",
        f"/api/captioning/galleries/{gallery_id}/captions",
    ):
        assert (await http.get(path, headers=other)).status_code == 404, path


async def test_webhooks_into_our_own_network_are_refused_at_registration(
    http: httpx.AsyncClient, agent_gallery: tuple[dict[str, str], str]
) -> None:
    agent, _ = agent_gallery
    for url in ("https://10.1.2.3/hook", "https://169.254.169.254/latest", "https://[fd00::1]/h"):
        response = await http.post("/api/exports/webhooks", headers=agent, json={"url": url})
        assert response.status_code == 422, url
        assert response.json()["error"] == {
            "code": "internal_address",
            "message": response.json()["error"]["message"],
            "field": "url",
        }
