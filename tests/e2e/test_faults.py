"""The fault suite: 40 photos flow while a service, the broker or the database dies.

Each scenario uploads a shoot into a new gallery, breaks one part of the platform after the
first photos, brings it back, and then checks what the client and the operator see: every
photo processed and captioned once, one delivered export with all of them, exactly one
"gallery ready" email, no dead letters; and how long the platform took to finish after the
part came back.

`make faults` runs every scenario (`PIX_FAULTS=1`) and prints the table; `make test` runs the
broker scenario with a smaller shoot.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from client import login, new_client_account, place_order, wait_for, wait_for_gallery
from faultstack import FaultStack, fault_stack
from photos import room_photo
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]
ALL = bool(os.environ.get("PIX_FAULTS"))
SHOOT = 40
ROOMS = ["Küche", "Bad", "Wohnzimmer", "Schlafzimmer", "Flur", "Balkon", "Arbeitszimmer", "Keller"]
RESULTS: list[dict[str, Any]] = []


@pytest.fixture(scope="module")
def faults(scratch: Path) -> Iterator[FaultStack]:
    # `scratch`, not pytest's tmp dir: embedded PostgreSQL runs as another user.
    with fault_stack(scratch / "faults") as stack:
        yield stack
    if RESULTS:
        print("\nscenario | lost | duplicated | ready emails | dead letters | recovery (s)")
        for r in RESULTS:
            print(
                f"{r['scenario']} | {r['lost']} | {r['duplicated']} | {r['ready']} | "
                f"{r['dead_letters']} | {r['recovery']:.1f}"
            )


def shoot(count: int) -> list[tuple[str, bytes]]:
    photos = []
    for index in range(count):
        room = ROOMS[index % len(ROOMS)]
        colour = (120 + (index * 7) % 120, 100 + (index * 13) % 120, 90 + (index * 29) % 120)
        image = room_photo(960, 640, colour=colour)
        from io import BytesIO

        buffer = BytesIO()
        image.save(buffer, "JPEG", quality=85)
        photos.append((f"{room}_{index + 1:02d}.jpg", buffer.getvalue()))
    return photos


async def retried(call: Callable[[], Any], *, what: str, timeout: float = 180) -> httpx.Response:
    """What the upload page does: try again while the platform answers 503 or not at all."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        try:
            response: httpx.Response = await call()
            if response.status_code not in (502, 503, 504):
                return response
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: no answer within {timeout:.0f} s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


async def upload_one(
    http: httpx.AsyncClient, auth: dict[str, str], gallery_id: str, name: str, data: bytes
) -> str:
    ticket = await retried(
        lambda: http.post(
            f"/api/media/galleries/{gallery_id}/uploads",
            headers=auth,
            json={"file_name": name, "byte_size": len(data)},
        ),
        what=f"ticket for {name}",
    )
    assert ticket.status_code == 201, ticket.text
    body = ticket.json()
    put = await retried(lambda: http.put(body["upload_url"], content=data), what=f"PUT {name}")
    assert put.status_code == 200, put.text
    completed = await retried(
        lambda: http.post(f"/api/media/assets/{body['asset_id']}/complete", headers=auth),
        what=f"complete {name}",
    )
    assert completed.status_code in (200, 202), completed.text
    asset_id: str = body["asset_id"]
    return asset_id


@dataclass
class Scenario:
    name: str
    break_it: Callable[[FaultStack], None]
    mend_it: Callable[[FaultStack], None]
    down_seconds: float = 3.0


def kill_service(name: str) -> Scenario:
    return Scenario(
        f"kill -9 {name}",
        lambda s: s.kill(name),
        lambda s: (s.start(name), s.wait_ready(name)),  # type: ignore[func-returns-value]
    )


BROKER = Scenario(
    "kill -9 broker (restarts empty)", FaultStack.kill_broker, FaultStack.start_broker
)
DATABASE = Scenario(
    "database stopped ~10 s", FaultStack.stop_database, FaultStack.start_database, 4.0
)
SCENARIOS = [
    kill_service("media"),
    kill_service("captioning"),
    kill_service("export"),
    kill_service("notify"),
    BROKER,
    DATABASE,
]


async def run_scenario(stack: FaultStack, scenario: Scenario, photos: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        admin = await login(http, stack.admin_email, stack.admin_password)
        agent = await new_client_account(http, stack.mail_dir)
        order = await place_order(http, agent)
        gallery_id = order["gallery_id"]
        await wait_for_gallery(http, agent, gallery_id)
        files = shoot(photos)
        limit = asyncio.Semaphore(3)  # the upload page sends three at a time

        async def send(name: str, data: bytes) -> str:
            async with limit:
                return await upload_one(http, agent, gallery_id, name, data)

        first = [asyncio.create_task(send(n, d)) for n, d in files[: photos // 4]]
        await asyncio.gather(*first)
        rest = [asyncio.create_task(send(n, d)) for n, d in files[photos // 4 :]]
        await asyncio.to_thread(scenario.break_it, stack)
        await asyncio.sleep(scenario.down_seconds)
        await asyncio.to_thread(scenario.mend_it, stack)
        mended = time.monotonic()
        await asyncio.gather(*rest)

        async def all_captioned() -> dict[str, Any] | None:
            response = await http.get(f"/api/media/galleries/{gallery_id}", headers=agent)
            if response.status_code != 200:
                return None
            gallery: dict[str, Any] = response.json()
            done = [a for a in gallery["assets"] if a["status"] == "captioned"]
            return gallery if len(done) >= photos else None

        gallery = await wait_for(all_captioned, timeout=600, interval=0.5)
        recovery = time.monotonic() - mended
        delivered = await retried(
            lambda: http.post(f"/api/media/galleries/{gallery_id}/deliver", headers=admin),
            what="deliver",
        )
        assert delivered.status_code == 200, delivered.text

        def ready_mails() -> list[Path]:
            return [
                p for p in stack.mail_dir.glob("*ready.eml") if order["reference"] in p.read_text()
            ]

        async def delivered_export() -> list[dict[str, Any]] | None:
            response = await http.get(f"/api/exports/galleries/{gallery_id}/exports", headers=agent)
            exports: list[dict[str, Any]] = response.json() if response.status_code == 200 else []
            final = [e for e in exports if e.get("delivery") is not None]
            return final if final and ready_mails() else None

        final = await wait_for(delivered_export, timeout=300, interval=0.5)
        captions = (
            await http.get(f"/api/captioning/galleries/{gallery_id}/captions", headers=agent)
        ).json()
        names = [a["label"] for a in gallery["assets"] if a["status"] == "captioned"]
        result = {
            "scenario": scenario.name,
            "lost": photos - len(set(names)),
            "duplicated": len(names) - len(set(names)),
            "captions": len({c["asset_id"] for c in captions}),
            "ready": len(ready_mails()),
            "exports": [(e["delivery"], e["asset_count"]) for e in final],
            "dead_letters": await dead_letters(stack),
            "recovery": recovery,
        }
        RESULTS.append(result)
        return result


async def dead_letters(stack: FaultStack) -> int:
    engine = create_async_engine(stack.postgres.url)
    try:
        async with engine.connect() as conn:
            tables = (
                (
                    await conn.execute(
                        text(
                            "SELECT table_schema FROM information_schema.tables "
                            "WHERE table_name = 'dead_letters'"
                        )
                    )
                )
                .scalars()
                .all()
            )
            total = 0
            for schema in tables:
                total += int(
                    await conn.scalar(
                        text(f'SELECT count(*) FROM "{schema}".dead_letters')  # noqa: S608
                    )
                    or 0
                )
            return total
    finally:
        await engine.dispose()


def check(result: dict[str, Any], photos: int) -> None:
    assert result["lost"] == 0, result
    assert result["duplicated"] == 0, result
    assert result["captions"] == photos, result
    assert result["ready"] == 1, result
    assert result["exports"] == [(1, photos)], result
    assert result["dead_letters"] == 0, result


async def test_a_broker_that_comes_back_empty_loses_nothing(faults: FaultStack) -> None:
    photos = SHOOT if ALL else 12
    check(await run_scenario(faults, BROKER, photos), photos)


@pytest.mark.skipif(not ALL, reason="the whole fault suite: make faults (PIX_FAULTS=1)")
@pytest.mark.parametrize(
    "scenario", [s for s in SCENARIOS if s is not BROKER], ids=lambda s: s.name
)
async def test_nothing_is_lost_when_a_part_dies_mid_shoot(
    faults: FaultStack, scenario: Scenario
) -> None:
    check(await run_scenario(faults, scenario, SHOOT), SHOOT)
