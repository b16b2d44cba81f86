"""One photo end to end with the stack on production's parts, started by the real runner
(`python -m pix_stack run`): `PIX_DATABASE_URL` on a PostgreSQL server of its own (Debian's
package, started here with initdb/pg_ctl), `PIX_STORAGE_URL` on moto's S3 server.

The runner starts no embedded PostgreSQL and writes nothing to a local storage folder; the
services migrate their schemas on that server and keep every object in the bucket.

Listings and leads need the `vector` extension (pgvector). Where Debian has no pgvector
package for its PostgreSQL (Debian 12 has none for PostgreSQL 15), those two get their own
`PIX_LISTINGS_DATABASE_URL` / `PIX_LEADS_DATABASE_URL` on the embedded server that has it;
every other service, and the whole photo pipeline, runs on Debian's server.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from client import login, new_client_account, place_order, upload, wait_for, wait_for_gallery
from photos import SECRET, jpeg_with_gps, room_photo
from pix_stack.embedded import EmbeddedPostgres, start_postgres
from production_stack import (
    S3_KEYS,
    DebianPostgres,
    MotoS3,
    debian_postgres_server,
    moto_s3,
    run_stack_with,
)
from stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SCHEMAS = {"auth", "orders", "media", "captioning", "export", "notify"}
# Services whose tables need pgvector (their own database URL where Debian's server lacks it).
VECTOR_SERVICES = ("listings", "leads")


@pytest.fixture(scope="module")
def debian_postgres() -> Iterator[DebianPostgres]:
    with debian_postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    with moto_s3(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="module")
def vector_server(debian_postgres: DebianPostgres) -> Iterator[EmbeddedPostgres | None]:
    """Only where Debian's server lacks pgvector: a server for the services that need it."""
    if debian_postgres.has_vector:
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="pix-vector-pg-"))
    root.chmod(0o755)  # the embedded server runs as a system user when we are root
    server = start_postgres(root / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def production_stack(
    debian_postgres: DebianPostgres,
    s3: MotoS3,
    vector_server: EmbeddedPostgres | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    settings = {
        "PIX_DATABASE_URL": debian_postgres.url,
        "PIX_STORAGE_URL": s3.storage_url,
        **S3_KEYS,
    }
    if vector_server is not None:
        for service in VECTOR_SERVICES:
            settings[f"PIX_{service.upper()}_DATABASE_URL"] = vector_server.url
    data_dir = Path(tempfile.mkdtemp(prefix="pix-production-stack-"))
    data_dir.chmod(0o755)
    yield from run_stack_with(data_dir, settings)


def objects(s3: MotoS3, prefix: str) -> dict[str, int]:
    client: Any = s3.client()
    listed = client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix)
    return {item["Key"]: item["Size"] for item in listed.get("Contents", [])}


async def test_one_photo_end_to_end_on_a_separate_postgresql_and_s3(
    production_stack: Stack, debian_postgres: DebianPostgres, s3: MotoS3
) -> None:
    stack = production_stack
    log = stack.log.read_text(errors="replace")
    # The runner said what it uses and started no embedded PostgreSQL.
    assert not (stack.data_dir / "postgres").exists()
    assert not (stack.data_dir / "storage").exists()
    assert "from the environment" in log, log[-3000:]

    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as http:
        admin = await login(http, stack.admin_email, stack.admin_password)
        agent = await new_client_account(http, stack.data_dir / "mail")
        order = await place_order(http, agent)
        gallery_id = order["gallery_id"]
        await wait_for_gallery(http, agent, gallery_id)

        photo = jpeg_with_gps(room_photo(2400, 1600))
        completed = await upload(http, agent, gallery_id, "Küche_01.jpg", photo)
        assert completed.status_code == 200, completed.text
        asset = completed.json()
        assert asset["pseudonym"] == "Kitchen_01"

        async def captioned() -> bool:
            response = await http.get(f"/api/media/assets/{asset['id']}", headers=agent)
            return bool(response.json()["status"] == "captioned")

        await wait_for(captioned, timeout=120, interval=0.5)
        delivered = await http.post(f"/api/media/galleries/{gallery_id}/deliver", headers=admin)
        assert delivered.status_code == 200, delivered.text

        async def delivered_export() -> dict[str, Any] | None:
            response = await http.get(f"/api/exports/galleries/{gallery_id}/exports", headers=agent)
            found = [e for e in response.json() if e["delivery"] is not None and e["complete"]]
            return found[0] if found else None

        export = await wait_for(delivered_export, timeout=120, interval=0.5)
        files = {f["name"]: f for f in export["files"]}
        # Downloads are signed URLs on the bucket too.
        assert files["captions.json"]["download_url"].startswith(s3.endpoint)
        captions = (await http.get(files["captions.json"]["download_url"])).json()
        assert captions["images"][0]["name"] == "Kitchen_01"
        assert (
            "Küche" in captions["images"][0]["title_de"] + captions["images"][0]["description_de"]
        )

        # The gallery-ready email went out (dev outbox) once the export was delivered.
        async def ready_mail() -> bool:
            return any(
                order["reference"] in p.read_text()
                for p in (stack.data_dir / "mail").glob("*ready.eml")
            )

        await wait_for(ready_mail, timeout=120, interval=0.5)

    # Every object is in the bucket: original, renditions, captions, the export.
    stored = objects(s3, "")
    assert f"originals/{gallery_id}/{asset['id']}" in stored
    assert any(k.startswith(f"renditions/{gallery_id}/") for k in stored), stored
    assert f"captions/{gallery_id}/Kitchen_01.json" in stored
    assert any(k.startswith(f"exports/{gallery_id}/") for k in stored), stored
    client: Any = s3.client()
    caption = json.loads(
        client.get_object(Bucket=s3.bucket, Key=f"captions/{gallery_id}/Kitchen_01.json")[
            "Body"
        ].read()
    )
    assert caption["provider"] == "offline"
    assert SECRET not in json.dumps(caption)

    # And every schema is on Debian's server.
    connection = await asyncpg.connect(
        host="127.0.0.1", port=debian_postgres.port, user="postgres", database="pix"
    )
    try:
        version = await connection.fetchval("SHOW server_version_num")
        schemas = {
            r["schema_name"]
            for r in await connection.fetch("SELECT schema_name FROM information_schema.schemata")
        }
        assets = await connection.fetchval(
            "SELECT count(*) FROM media.assets WHERE gallery_id = $1::uuid", gallery_id
        )
    finally:
        await connection.close()
    assert int(version) // 10000 == int(debian_postgres.version)
    assert schemas >= SCHEMAS, SCHEMAS - schemas
    assert assets >= 1

    # Readiness includes storage where a service uses it, and the scraped figures are there.
    async with httpx.AsyncClient(timeout=30) as http:
        media = stack.service_url(3)
        ready = (await http.get(f"{media}/readyz")).json()
        assert ready["checks"] == {"database": "ok", "broker": "ok", "storage": "ok"}
        orders = (await http.get(f"{stack.service_url(2)}/readyz")).json()
        assert "storage" not in orders["checks"]

        async def scraped() -> str | None:
            text = (await http.get(f"{media}/metrics")).text
            wanted = ('pix_queue_depth{queue="photos",service="media"} 0.0', "pix_consumer_lag{")
            return text if all(w in text for w in wanted) else None

        metrics = await wait_for(scraped, timeout=60, interval=2)
        assert 'pix_outbox_backlog{service="media"}' in metrics
        assert 'pix_http_request_duration_seconds_bucket{le="0.005",method="POST"' in metrics
