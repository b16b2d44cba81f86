"""What the platform costs doing nothing, and how fast an event still goes through.

`PIX_BENCH=1 .venv/bin/pytest tests/perf/test_idle_bench.py -s`

Starts the whole stack as `make run` does (`tests/stack.py`: every service, embedded
PostgreSQL and Tansu), waits until it is ready and has settled (`PIX_BENCH_IDLE_SETTLE_SECONDS`,
default 15: consumers joined, start-up replays done), then reads every process's CPU time from
/proc over `PIX_BENCH_IDLE_SECONDS` (default 60) of nothing and prints a table per process with
the total, in % of one core. CPU of exited children (PostgreSQL's backends) counts for their
parent.

In the same run it then uploads photos one at a time, each after the stack went idle again, and
prints the time from the photo's `media.asset.uploaded.v1` to the gallery's interim
`export.gallery.exported.v1` (captioning and export each woken from idle), both read by one
consumer of the benchmark's own that fetches every 10 ms.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from photos import room_photo
from PIL import Image
from pix_contracts import AssetUploaded, CaptionReady, GalleryExported
from stack import Stack

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from client import new_client_account, place_order, upload, wait_for_gallery

pytestmark = pytest.mark.skipif(not os.environ.get("PIX_BENCH"), reason="set PIX_BENCH=1")

IDLE_SECONDS = float(os.environ.get("PIX_BENCH_IDLE_SECONDS", "60"))
SETTLE_SECONDS = float(os.environ.get("PIX_BENCH_IDLE_SETTLE_SECONDS", "15"))
PHOTOS = int(os.environ.get("PIX_BENCH_IDLE_PHOTOS", "5"))
# Longer than a consumer stays awake after its last event (pix_runtime.broker.Doorbell).
QUIET_BETWEEN_PHOTOS = 4.0
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Proc:
    pid: int
    name: str
    ticks: int  # utime + stime + cutime + cstime


def read_proc(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, command line, CPU ticks with reaped children) of a live process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    # After the name: state ppid ... utime(14) stime(15) cutime(16) cstime(17), 1-based.
    return int(fields[1]), cmdline, sum(int(f) for f in fields[11:15])


def label(cmdline: str) -> str:
    if "tansu" in cmdline:
        return "tansu"
    if "postgres" in cmdline.split(" ", 1)[0] or cmdline.startswith("postgres:"):
        return "postgresql"
    for word in cmdline.split():
        name = os.path.basename(word)
        if name.startswith("pix-") and name != "pix-stack":
            return name.removeprefix("pix-")
    if "pix_stack" in cmdline:
        return "runner (honcho)"
    return cmdline[:40]


def stack_processes(data_dir: Path) -> list[Proc]:
    """The runner started for `data_dir` and everything below it."""
    table: dict[int, tuple[int, str, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (read := read_proc(int(entry.name))) is not None:
            table[int(entry.name)] = read
    roots = [
        pid
        for pid, (_, cmdline, _) in table.items()
        if "pix_stack run" in cmdline and str(data_dir) in cmdline
    ]
    # PostgreSQL's postmaster runs detached from the runner: found by its pid file.
    for pid_file in data_dir.rglob("postmaster.pid"):
        postmaster = int(pid_file.read_text().split()[0])
        if postmaster in table:
            roots.append(postmaster)
    found: list[Proc] = []
    pending = list(roots)
    while pending:
        pid = pending.pop()
        _, cmdline, ticks = table[pid]
        found.append(Proc(pid, label(cmdline), ticks))
        pending.extend(child for child, (ppid, _, _) in table.items() if ppid == pid)
    return found


def idle_table(data_dir: Path, seconds: float) -> list[tuple[str, float]]:
    before = {p.pid: p for p in stack_processes(data_dir)}
    time.sleep(seconds)
    used: dict[str, float] = {}
    for proc in stack_processes(data_dir):
        start = before[proc.pid].ticks if proc.pid in before else 0
        used[proc.name] = used.get(proc.name, 0.0) + (proc.ticks - start) / TICKS
    # A process's name counts once however many processes carry it (PostgreSQL's backends).
    return sorted(((name, 100 * cpu / seconds) for name, cpu in used.items()), key=lambda r: -r[1])


def small_photo(n: int) -> bytes:
    import io

    out = io.BytesIO()
    image: Image.Image = room_photo(1600, 1200, colour=(200 - 10 * n, 170, 130))
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


async def event_latencies(stack: Stack) -> list[tuple[float, float]]:
    """Per photo: (asset uploaded → caption ready, caption ready → export event) seconds."""
    arrivals: dict[tuple[str, str], list[float]] = {}
    consumer = AIOKafkaConsumer(
        AssetUploaded.topic,
        CaptionReady.topic,
        GalleryExported.topic,
        bootstrap_servers=stack.kafka_bootstrap,
        auto_offset_reset="latest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()

    async def read() -> None:
        async for record in consumer:
            event = {
                AssetUploaded.topic: AssetUploaded,
                CaptionReady.topic: CaptionReady,
                GalleryExported.topic: GalleryExported,
            }[record.topic].model_validate_json(record.value)
            gallery = str(event.gallery_id)  # type: ignore[attr-defined]
            arrivals.setdefault((record.topic, gallery), []).append(time.perf_counter())

    reader = asyncio.create_task(read())
    latencies: list[tuple[float, float]] = []
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.1)
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as http:
            agent = await new_client_account(http, stack.data_dir / "mail")
            gallery_id = (await place_order(http, agent))["gallery_id"]
            await wait_for_gallery(http, agent, gallery_id)
            for n in range(PHOTOS):
                await asyncio.sleep(QUIET_BETWEEN_PHOTOS)  # every consumer asleep again
                done = await upload(
                    http, agent, gallery_id, f"Wohnzimmer_{n + 1:02}.jpg", small_photo(n)
                )
                assert done.status_code == 200, done.text
                uploaded, captioned, exported = (
                    arrivals.setdefault((topic, gallery_id), [])
                    for topic in (AssetUploaded.topic, CaptionReady.topic, GalleryExported.topic)
                )
                async with asyncio.timeout(60):
                    while min(len(uploaded), len(captioned), len(exported)) <= n:
                        await asyncio.sleep(0.01)
                latencies.append((captioned[n] - uploaded[n], exported[n] - captioned[n]))
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await consumer.stop()
    return latencies


async def test_idle_cpu_of_the_stack_and_event_latency(stack: Stack) -> None:
    await asyncio.sleep(SETTLE_SECONDS)
    rows = await asyncio.to_thread(idle_table, stack.data_dir, IDLE_SECONDS)
    total = sum(share for _, share in rows)
    print(f"\nidle stack, CPU over {IDLE_SECONDS:g} s after {SETTLE_SECONDS:g} s settling")
    print(f"{'process':24} {'% of one core':>14}")
    for name, share in rows:
        print(f"{name:24} {share:>14.1f}")
    print(f"{'total':24} {total:>14.1f}")
    latencies = await event_latencies(stack)
    for what, seconds in (
        ("asset uploaded → caption ready (captioning)", [c for c, _ in latencies]),
        ("caption ready → interim export event (export)", [e for _, e in latencies]),
        ("asset uploaded → interim export event", [c + e for c, e in latencies]),
    ):
        ms = sorted(1000 * s for s in seconds)
        print(
            f"{what}, {len(ms)} photos each after {QUIET_BETWEEN_PHOTOS:g} s quiet: "
            f"p50 {statistics.median(ms):.0f} ms, min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms"
        )
    assert rows
