"""An organisation deleted by its owner is gone from every service once its grace period ends.

The stack runs as `make run` starts it. The organisation gets orders, photos through the real
upload path, captions, a delivered export, leads, listings with an exposé and a connected CRM;
a second organisation gets some of the same. The owner deletes theirs; a second auth process
(a replica, in-process, on the stack's database) moves its clock past the grace period and runs
the due job, as the stack's auth would in 14 days. Then the check finds every table of every
schema by itself (information_schema) and every stored file, so a table or a storage folder
added later cannot be forgotten.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from client import (
    COOKIE,
    login,
    new_client_account,
    place_order,
    upload,
    wait_for,
    wait_for_gallery,
)
from photos import jpeg_with_gps, room_photo
from pix_auth.app import create_app
from pix_auth.settings import AuthSettings
from pix_contracts import PRIVACY_EVENTS, UserDeletedV2
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from stack import Stack

PASSWORD = "Sonnenblume-Dach-42"  # what `new_client_account` registers with
PHOTOS = int(os.environ.get("PIX_ERASURE_PHOTOS", "20"))
# Stays by design: the erasure's own record (ids and counts, so an admin sees it happened).
KEPT_TABLES = {("auth", "organisation_erasures"), ("auth", "erasure_reports")}
# The erasure's own events and each member's account deletion carry ids (and a keyed digest)
# only, as does auth's job that started it.
ERASURE_TOPICS = {event.topic for event in (*PRIVACY_EVENTS, UserDeletedV2)}
ERASURE_JOB = "auth.organisation-erasure"
SEARCHED_TYPES = ("uuid", "text", "character varying", "character", "jsonb", "json", "bytea")


async def json_of(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


class Organisation:
    """One agency's data, built through the platform's APIs, and every id it was given."""

    def __init__(self, http: httpx.AsyncClient, auth: dict[str, str], mail: Path) -> None:
        self.http = http
        self.mail = mail
        self.auth = auth
        self.ids: set[str] = set()
        self.org_id = ""
        self.gallery_ids: list[str] = []

    async def build(self, admin: dict[str, str], photos: int) -> None:
        me = await json_of(await self.http.get("/api/auth/me", headers=self.auth))
        users = await json_of(await self.http.get("/api/auth/admin/users", headers=admin))
        [user] = [u for u in users if u["id"] == me["id"]]
        self.org_id = str(user["org_id"])
        self.ids |= {self.org_id, str(me["id"])}
        order = await place_order(self.http, self.auth)
        gallery_id = order["gallery_id"]
        self.gallery_ids.append(gallery_id)
        self.ids |= {order["id"], gallery_id}
        await wait_for_gallery(self.http, self.auth, gallery_id)
        rooms = ["Küche", "Bad", "Wohnzimmer", "Schlafzimmer", "Flur"]
        for index in range(photos):
            name = f"{rooms[index % len(rooms)]}_{index // len(rooms) + 1:02d}.jpg"
            colour = (120 + index * 6 % 120, 170 - index * 3 % 100, 130 + index * 5 % 90)
            photo = jpeg_with_gps(room_photo(640, 480, colour=colour), quality=80)
            done = await upload(self.http, self.auth, gallery_id, name, photo)
            assert done.status_code == 200, done.text
            self.ids.add(done.json()["id"])

        async def captioned() -> bool:
            gallery = await json_of(
                await self.http.get(f"/api/media/galleries/{gallery_id}", headers=self.auth)
            )
            return all(a["status"] == "captioned" for a in gallery["assets"])

        await wait_for(captioned, timeout=180, interval=0.5)
        delivered = await self.http.post(
            f"/api/media/galleries/{gallery_id}/deliver", headers=admin
        )
        assert delivered.status_code == 200, delivered.text

        async def exported() -> list[Any]:
            exports = await json_of(
                await self.http.get(
                    f"/api/exports/galleries/{gallery_id}/exports", headers=self.auth
                )
            )
            return [e for e in exports if e["delivery"] is not None]

        await wait_for(exported, timeout=120, interval=0.5)

        # The pipeline is quiet once the client heard the gallery is ready (in 14 days of grace
        # it always is; here the deletion follows at once).
        def ready_mails() -> list[Path]:
            return [
                p
                for p in self.mail.glob("*ready.eml")
                if order["reference"] in p.read_text(errors="replace")
            ]

        async def ready_mailed() -> bool:
            return bool(ready_mails())

        await wait_for(ready_mailed, timeout=120, interval=0.5)

        crm = await self.http.put(
            "/api/exports/crm/connections/onoffice",
            headers=self.auth,
            json={"token": "tok-" + uuid.uuid4().hex, "secret": "sec-" + uuid.uuid4().hex},
        )
        assert crm.status_code == 200, crm.text

        listing = await json_of(
            await self.http.post(
                "/api/listings/listings",
                headers=self.auth,
                json={
                    "title": "Helle Altbauwohnung",
                    "property_type": "apartment",
                    "marketing": "sale",
                    "price_eur": 420000,
                    "rooms": 3,
                    "living_area_m2": 84.5,
                    "street": "Lindenallee 5",
                    "postcode": "10115",
                    "city": "Berlin",
                    "country": "DE",
                    "description_de": "Drei Zimmer, Balkon, ruhige Lage.",
                },
            ),
            201,
        )
        self.ids.add(listing["id"])
        exposes = f"/api/listings/listings/{listing['id']}/exposes"
        await json_of(await self.http.post(exposes, headers=self.auth, json={"locale": "de"}), 202)

        async def expose_done() -> bool:
            found = await json_of(await self.http.get(exposes, headers=self.auth))
            return bool(found) and found[0]["status"] == "done"

        await wait_for(expose_done, timeout=120, interval=0.5)

        for index in range(3):
            lead = await json_of(
                await self.http.post(
                    "/api/leads/leads",
                    headers=self.auth,
                    json={
                        "name": f"Max Interessent {index}",
                        "email": f"max{index}-{uuid.uuid4().hex[:6]}@example.org",
                        "phone": "+49 30 1234567",
                        "message": "Ist die Wohnung noch frei? Ich suche 3 Zimmer in Berlin.",
                        "listing_id": listing["id"],
                    },
                ),
                201,
            )
            self.ids.add(lead["id"])

        # Listings made their own listing of the order: its id is theirs too.
        mine = await json_of(await self.http.get("/api/listings/listings", headers=self.auth))
        self.ids |= {str(item["id"]) for item in mine}


@pytest.fixture
async def database(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(stack.database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def auth_replica(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ServiceRuntime]:
    """A second auth process on the stack's database, whose clock the test moves. It is never
    started: only its job layer runs; the stack's auth relays what it writes to the outbox."""
    monkeypatch.setenv("PIX_DATABASE_URL", stack.database_url)
    monkeypatch.setenv("PIX_KAFKA_BOOTSTRAP", stack.kafka_bootstrap)
    monkeypatch.setenv("PIX_STORAGE_URL", f"file://{stack.data_dir / 'storage'}")
    _, runtime = create_app(AuthSettings())
    yield runtime
    await runtime.db.dispose()


async def rows_holding(engine: AsyncEngine, ids: set[str]) -> dict[str, int]:
    """Every column of every table in every schema that could hold an id, searched for any of
    `ids`; answers `schema.table.column` -> rows, leaving out what stays by design."""
    pattern = "|".join(sorted(ids))
    found: dict[str, int] = {}
    async with engine.connect() as db:
        columns = (
            await db.execute(
                text(
                    "SELECT c.table_schema, c.table_name, c.column_name, c.data_type "
                    "FROM information_schema.columns c JOIN information_schema.tables t "
                    "USING (table_schema, table_name) "
                    "WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN "
                    "('pg_catalog', 'information_schema') AND c.table_schema NOT LIKE 'pg_%' "
                    "AND c.data_type = ANY(:types)"
                ),
                {"types": list(SEARCHED_TYPES)},
            )
        ).all()
        assert len({(c[0], c[1]) for c in columns}) > 50  # every service's tables, not a few
        for schema, table, column, data_type in columns:
            if (schema, table) in KEPT_TABLES:
                continue
            value = (
                f"encode(\"{column}\", 'escape')" if data_type == "bytea" else f'"{column}"::text'
            )
            where = f"{value} ~ :pattern"
            if table == "outbox":
                where += " AND topic <> ALL(:topics)"
            if table == "jobs":
                where += " AND kind <> :job"
            count = (
                await db.execute(
                    # Names from information_schema itself, quoted; values are bound.
                    text(f'SELECT count(*) FROM "{schema}"."{table}" WHERE {where}'),  # noqa: S608
                    {"pattern": pattern, "topics": sorted(ERASURE_TOPICS), "job": ERASURE_JOB},
                )
            ).scalar_one()
            if count:
                found[f"{schema}.{table}.{column}"] = count
    return found


async def described(engine: AsyncEngine, leftovers: dict[str, int]) -> str:
    """The rows left behind, to read in a failure."""
    lines = [str(leftovers)]
    async with engine.connect() as db:
        for table in sorted({name.rsplit(".", 1)[0] for name in leftovers}):
            schema, name = table.split(".")
            rows = await db.execute(text(f'SELECT * FROM "{schema}"."{name}" LIMIT 5'))  # noqa: S608
            lines += [f"{table}: {dict(row._mapping)}"[:600] for row in rows]
    return "\n".join(lines)


async def quiet(engine: AsyncEngine, ids: set[str]) -> bool:
    """No service has an event left to publish or a job due: what the organisation set off
    (an export's new version, a listing's media, the mails) has run its course, as it has long
    before a grace period of days ends."""
    async with engine.connect() as db:
        tables = (
            await db.execute(
                text(
                    "SELECT table_schema, table_name FROM information_schema.tables "
                    "WHERE table_name IN ('outbox', 'jobs') AND table_type = 'BASE TABLE'"
                )
            )
        ).all()
        for schema, table in tables:
            busy = (
                "published_at IS NULL"
                if table == "outbox"
                else "status IN ('queued', 'running') AND run_at < now() + interval '5 minutes'"
                " AND (coalesce(key, '') ~ :pattern OR payload::text ~ :pattern)"
            )
            query = text(f'SELECT count(*) FROM "{schema}"."{table}" WHERE {busy}')  # noqa: S608
            if (await db.execute(query, {"pattern": "|".join(sorted(ids))})).scalar_one():
                return False
    return True


def files_naming(storage: Path, ids: set[str]) -> list[str]:
    """Every stored file with one of `ids` in its key (a folder or the file's name)."""
    found = []
    for path in storage.rglob("*"):
        key = str(path.relative_to(storage))
        if path.is_file() and any(i in key for i in ids):
            found.append(key)
    return sorted(found)


async def test_an_organisation_is_erased_everywhere_after_its_grace_period(
    stack: Stack, database: AsyncEngine, auth_replica: ServiceRuntime
) -> None:
    storage = stack.data_dir / "storage"
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as http:
        admin = await login(http, stack.admin_email, stack.admin_password)
        mail = stack.data_dir / "mail"
        erased = Organisation(http, await new_client_account(http, mail), mail)
        kept = Organisation(http, await new_client_account(http, mail), mail)
        await erased.build(admin, PHOTOS)
        await kept.build(admin, 2)
        assert files_naming(storage, erased.ids), "the organisation stored files"
        assert await rows_holding(database, erased.ids)
        calm = 0

        async def settled() -> bool:
            nonlocal calm
            calm = calm + 1 if await quiet(database, erased.ids | kept.ids) else 0
            return calm >= 3

        await wait_for(settled, timeout=120, interval=0.5)
        kept_rows = await rows_holding(database, kept.ids)
        kept_files = files_naming(storage, kept.ids)

        requested = await json_of(
            await http.post(
                "/api/auth/organisation/erasure", headers=erased.auth, json={"password": PASSWORD}
            ),
            202,
        )
        assert requested["status"] == "pending"
        # Locked: the session ended (the gateway remembers a check for two seconds), so nothing
        # reaches the organisation's data any more.
        gallery_url = f"/api/media/galleries/{erased.gallery_ids[0]}"

        async def refused() -> bool:
            return (await http.get(gallery_url, headers=erased.auth)).status_code == 401

        await wait_for(refused, timeout=10, interval=0.2)
        status_url = f"/api/auth/admin/organisations/{erased.org_id}/erasure"
        assert (await json_of(await http.get(status_url, headers=admin)))["status"] == "pending"

        auth_replica.clock.advance(timedelta(days=14, minutes=1))
        assert await auth_replica.jobs.run_due() >= 1
        due_at = time.perf_counter()

        last: dict[str, Any] = {}

        async def completed() -> dict[str, Any] | None:
            view: dict[str, Any] = await json_of(await http.get(status_url, headers=admin))
            last.update(view)
            return view if view["status"] == "done" else None

        try:
            view = await wait_for(completed, timeout=120, interval=0.2)
        except TimeoutError:
            errors = [
                line
                for line in stack.log.read_text(errors="replace").splitlines()
                if "organisation" in line and ("error" in line or "Traceback" in line)
            ]
            waiting = last.get("waiting_for")
            raise AssertionError(f"still waiting for {waiting}: {errors[-5:]}") from None
        reported_at = time.perf_counter()
        leftovers = await rows_holding(database, erased.ids)
        files = files_naming(storage, erased.ids)
        checked_at = time.perf_counter()
        print(
            f"\nerasure of an organisation with {PHOTOS} photos: every service reported "
            f"{reported_at - due_at:.1f} s after the grace period ended; checked empty at "
            f"{checked_at - due_at:.1f} s; "
            + ", ".join(f"{r['service']} {r['rows']}/{r['objects']}" for r in view["reports"])
        )
        assert leftovers == {}, await described(database, leftovers)
        assert files == [], files
        assert view["waiting_for"] == []
        by_service = {r["service"]: r for r in view["reports"]}
        assert by_service["media"]["objects"] >= PHOTOS
        assert by_service["leads"]["rows"] >= 3

        # The admin page shows the deletion and that nobody is awaited any more.
        token = admin["Authorization"].removeprefix("Bearer ")
        page = await http.get("/admin", headers={"Cookie": f"{COOKIE}={token}"})
        assert page.status_code == 200, page.text
        assert erased.org_id in page.text

        # The other organisation lost nothing.
        assert await rows_holding(database, kept.ids) == kept_rows
        assert files_naming(storage, kept.ids) == kept_files
        gallery = await http.get(f"/api/media/galleries/{kept.gallery_ids[0]}", headers=kept.auth)
        assert gallery.status_code == 200
