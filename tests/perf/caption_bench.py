"""Caption throughput benchmark (a script, not a timed unit test).

Starts embedded PostgreSQL, Tansu and a local OpenAI-compatible fake provider with a fixed
latency (default 2 s), then for 1, 2, 4, 8 worker processes × per-worker concurrency 1 and 8
publishes uploads and measures captions per second, and the system's own overhead per caption:
handling time of an event minus the time spent waiting on the provider, from each worker's
`pix_caption_overhead_seconds` histogram (p50/p95 interpolated within its 1–5 ms buckets).
Provider time there is the wall time of the client call, so the client library's own CPU and a
response's wait for the busy event loop count as provider time, not overhead. The CPU columns
make up for that: CPU seconds per caption while the captions ran, of the worker processes
(everything they do, idle polling included), PostgreSQL (all its processes), Tansu, and this
process (the fake provider, the producer, the completion polling).

    .venv/bin/python tests/perf/caption_bench.py [--latency 2] [--workers 1,2,4,8] \
        [--concurrency 1,8] [--waves 12]

Fair by construction:
- the upload topic has the registry's partition count (32); every partition gets the same
  number of events (gallery ids are picked so the producer's murmur2 hash lands round-robin),
  so every worker owns the same share of the work;
- each in-flight slot gets at least `--waves` events in a row (the event count is rounded up to
  a multiple of the partition count), so start-up and the last stragglers are a small part.
  All slots start at once and the fake answers after exactly the same time, so the first waves
  of a process come back together and queue on its event loop; they drift apart after a few
  rounds. With 4 waves that start was a quarter of the samples, with 12 the p50 is the steady
  state; the mean and p95 columns still carry the start;
- each configuration gets a fresh Tansu: on one that saw earlier members leave the group, new
  members' joins sometimes hang for minutes (`tests/perf/tansu_group_join.py`);
- timing starts only after the consumer group settled: every worker reports its partitions
  (`pix_caption_consumer_lag`), they cover the topic without overlap, and stay so for 2 s.

Every process it starts (workers, Tansu, PostgreSQL) is stopped on exit, Ctrl-C or error.
Also run by `PIX_BENCH=1 .venv/bin/pytest tests/perf/test_caption_bench.py -s`.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2
from PIL import Image
from pix_contracts import AssetUploaded
from pix_contracts.topics import topic_of
from pix_runtime.broker import ensure_topics
from pix_runtime.migrations import upgrade_to_head
from pix_stack.embedded import free_port, start_postgres, start_tansu
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "captioning"))
from caption_fakes import FakeProviders, ServerThread

VENV_BIN = Path(sys.executable).parent
SETTLE_SECONDS = 2.0
_children: list[subprocess.Popen[bytes]] = []


@dataclass
class Row:
    workers: int
    concurrency: int
    captions: int
    rate: float
    ideal: float
    overhead_mean_ms: float
    overhead_p50_ms: float
    overhead_p95_ms: float
    cpu_ms: dict[str, float]

    @property
    def ratio(self) -> float:
        return self.rate / self.ideal


def partition_of(key: bytes, partitions: int) -> int:
    """The partition aiokafka's default partitioner picks for `key`."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def spread_gallery_ids(count: int, partitions: int) -> list[uuid.UUID]:
    """Gallery ids (the partition key) whose events land round-robin over the partitions."""
    ids: list[uuid.UUID] = []
    while len(ids) < count:
        candidate = uuid.uuid4()
        if partition_of(str(candidate).encode(), partitions) == len(ids) % partitions:
            ids.append(candidate)
    return ids


def histogram(text: str, name: str) -> tuple[dict[float, float], float, float]:
    """Cumulative bucket counts by upper bound, sum and count of a label-less histogram."""
    buckets: dict[float, float] = {}
    for le, value in re.findall(rf'^{name}_bucket\{{le="([^"]+)"\}} ([0-9.e+-]+)$', text, re.M):
        buckets[float(le)] = float(value)
    total = re.search(rf"^{name}_sum ([0-9.e+-]+)$", text, re.M)
    count = re.search(rf"^{name}_count ([0-9.e+-]+)$", text, re.M)
    return buckets, float(total.group(1)) if total else 0.0, float(count.group(1)) if count else 0.0


def quantile(buckets: dict[float, float], q: float) -> float:
    """Prometheus-style quantile: linear interpolation inside the bucket that holds it."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] == 0:
        return float("nan")
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if bound == float("inf"):
                return lower
            inside = buckets[bound] - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = bound, buckets[bound]
    return lower


async def settled(client: httpx.AsyncClient, ports: list[int], partitions: int) -> None:
    """Wait until the workers own every partition exactly once, unchanged for a while."""
    stable_since: float | None = None
    last: list[frozenset[str]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        owned = []
        for port in ports:
            text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
            owned.append(
                frozenset(re.findall(r'^pix_caption_consumer_lag\{.*partition="(\d+)"', text, re.M))
            )
        complete = (
            sum(len(o) for o in owned) == partitions
            and len(frozenset().union(*owned)) == partitions
        )
        if complete and owned == last:
            stable_since = stable_since or time.monotonic()
            if time.monotonic() - stable_since >= SETTLE_SECONDS:
                return
        else:
            stable_since = None
        last = owned
        await asyncio.sleep(0.25)
    raise TimeoutError("the consumer group did not settle in 120 s")


def cpu_seconds(groups: dict[str, list[psutil.Process]]) -> dict[str, dict[int, float]]:
    """CPU seconds (user + system) so far of each process, by group."""
    seen: dict[str, dict[int, float]] = {}
    for name, processes in groups.items():
        seen[name] = {}
        for process in processes:
            try:
                times = process.cpu_times()
                seen[name][process.pid] = times.user + times.system
            except psutil.Error:
                pass  # gone meanwhile
    return seen


def process_groups(
    postgres_pid: int | None, tansu_pid: int, workers: list[int]
) -> dict[str, list[psutil.Process]]:
    postmaster = [psutil.Process(postgres_pid)] if postgres_pid else []
    return {
        "workers": [psutil.Process(pid) for pid in workers],
        "postgres": postmaster + [c for p in postmaster for c in p.children(recursive=True)],
        "tansu": [psutil.Process(tansu_pid)],
        "bench": [psutil.Process()],
    }


def stop_children() -> None:
    for p in _children:
        if p.poll() is None:
            p.terminate()
    for p in _children:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    _children.clear()


async def ready(
    client: httpx.AsyncClient, worker: subprocess.Popen[bytes], port: int, log: Path
) -> None:
    """Wait for a worker's `/readyz`; after 120 s fail with its state and the end of its log."""
    last = "no answer yet"
    ready_by = time.monotonic() + 120
    while time.monotonic() < ready_by:
        try:
            answer = await client.get(f"http://127.0.0.1:{port}/readyz")
            if answer.status_code == 200:
                return
            last = f"{answer.status_code} {answer.text[:300]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        await asyncio.sleep(0.2)
    state = "running" if worker.poll() is None else f"exited {worker.returncode}"
    tail = log.read_text(errors="replace").splitlines()[-15:]
    raise TimeoutError(
        f"worker on port {port} not ready after 120 s ({state}; /readyz: {last}); log ends:\n"
        + "\n".join(tail)
    )


async def one_run(
    env: dict[str, str],
    db_url: str,
    workers: int,
    concurrency: int,
    waves: int,
    partitions: int,
    pids: tuple[int | None, int],
    log_dir: Path,
) -> Row:
    from pix_captioning.models import captions

    ports = [free_port() for _ in range(workers)]
    logs = {port: log_dir / f"worker-{workers}x{concurrency}-{port}.log" for port in ports}
    processes: list[subprocess.Popen[bytes]] = []  # this configuration's workers
    engine = create_async_engine(db_url)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            for port in ports:
                worker = subprocess.Popen(
                    [str(VENV_BIN / "pix-captioning")],
                    env={
                        **env,
                        "PIX_CAPTIONING_PORT": str(port),
                        "PIX_CAPTIONING_CONCURRENCY": str(concurrency),
                        "PIX_CAPTIONING_DB_POOL_SIZE": str(max(2, concurrency)),
                        "PIX_CAPTIONING_LAG_EVERY_SECONDS": "1",
                        "PYTHONUNBUFFERED": "1",  # the log is read when start-up hangs
                    },
                    stdout=logs[port].open("wb"),
                    stderr=subprocess.STDOUT,
                )
                _children.append(worker)
                processes.append(worker)
            for port, worker in zip(ports, processes, strict=True):
                await ready(client, worker, port, logs[port])
            await settled(client, ports, partitions)
            slots = workers * concurrency
            count = -(-slots * waves // partitions) * partitions  # a multiple of the partitions
            galleries = spread_gallery_ids(count, partitions)
            events = [
                AssetUploaded(
                    asset_id=uuid.uuid4(),
                    gallery_id=gallery,
                    org_id=uuid.uuid4(),
                    pseudonym=f"Kitchen_{i:02d}",
                    room_type="kitchen",
                    sequence=i,
                    width=1600,
                    height=1200,
                    byte_size=1,
                    sha256="0" * 64,
                    web_key="bench/web.jpg",
                    thumb_key="bench/web.jpg",
                )
                for i, gallery in enumerate(galleries)
            ]
            payloads = [(e.model_dump_json().encode(), e.partition_key()) for e in events]
            async with engine.connect() as conn:
                before = await conn.scalar(select(func.count()).select_from(captions)) or 0
            producer = AIOKafkaProducer(bootstrap_servers=env["PIX_KAFKA_BOOTSTRAP"])
            await producer.start()
            groups = process_groups(pids[0], pids[1], [p.pid for p in processes])
            try:
                cpu_before = cpu_seconds(groups)
                started = time.monotonic()
                for value, key in payloads:
                    await producer.send(AssetUploaded.topic, value, key=key)
                await producer.flush()
            finally:
                await producer.stop()
            # This process shares the two cores with the workers, so it polls gently: every
            # 0.5 s while more than a wave of captions is outstanding, every 50 ms for the last
            # wave (the end is still seen within 50 ms). Each run's captions are new rows.
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                while True:
                    done = (await conn.scalar(select(func.count()).select_from(captions))) - before
                    if done >= count:
                        break
                    if time.monotonic() - started > 600:
                        raise TimeoutError(f"only {done}/{count} captions")
                    await asyncio.sleep(0.05 if count - done <= slots else 0.5)
            elapsed = time.monotonic() - started
            cpu_after = cpu_seconds(process_groups(pids[0], pids[1], [p.pid for p in processes]))
            cpu_ms = {
                name: 1000
                * sum(t - cpu_before[name].get(pid, 0.0) for pid, t in cpu_after[name].items())
                / count
                for name in cpu_after
            }
            merged: dict[float, float] = defaultdict(float)
            total = handled = 0.0
            for port in ports:
                text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                buckets, s, c = histogram(text, "pix_caption_overhead_seconds")
                for le, v in buckets.items():
                    merged[le] += v
                total += s
                handled += c
            return Row(
                workers,
                concurrency,
                count,
                count / elapsed,
                slots / float(env["BENCH_LATENCY"]),
                total / max(handled, 1) * 1000,
                quantile(merged, 0.5) * 1000,
                quantile(merged, 0.95) * 1000,
                cpu_ms,
            )
    finally:
        await engine.dispose()
        stop_children()


def print_header(latency: float, partitions: int) -> None:
    print(
        f"provider latency {latency:.1f} s, {partitions} partitions, {os.cpu_count()} CPUs; "
        "overhead = handling time minus provider wait, per caption"
    )
    print(
        f"{'workers':>7} {'conc':>4} {'in flight':>9} {'captions':>8} {'cap/s':>7} "
        f"{'ideal':>6} {'ratio':>5} {'ovh mean':>8} {'ovh p50':>7} {'ovh p95':>7} "
        f"{'cpu wrk':>7} {'cpu pg':>6} {'cpu tansu':>9} {'cpu fake':>8}  (ms per caption)"
    )


def print_row(r: Row) -> None:
    print(
        f"{r.workers:>7} {r.concurrency:>4} {r.workers * r.concurrency:>9} {r.captions:>8} "
        f"{r.rate:>7.2f} {r.ideal:>6.2f} {r.ratio:>5.2f} {r.overhead_mean_ms:>8.1f} "
        f"{r.overhead_p50_ms:>7.1f} {r.overhead_p95_ms:>7.1f} {r.cpu_ms['workers']:>7.1f} "
        f"{r.cpu_ms['postgres']:>6.1f} {r.cpu_ms['tansu']:>9.1f} {r.cpu_ms['bench']:>8.1f}",
        flush=True,
    )


async def run(latency: float, workers: list[int], concurrency: list[int], waves: int) -> list[Row]:
    partitions = topic_of(AssetUploaded).partitions
    tmp = Path(tempfile.mkdtemp(prefix="pix-bench-"))
    postgres = tansu = server = None
    rows: list[Row] = []
    try:
        postgres = start_postgres(tmp / "pg")
        fake = FakeProviders(latency=latency)
        server = ServerThread(fake)
        server.start()
        storage = tmp / "storage"
        (storage / "bench").mkdir(parents=True)
        buf = io.BytesIO()
        Image.new("RGB", (1600, 1200), (230, 225, 215)).save(buf, "JPEG")
        (storage / "bench" / "web.jpg").write_bytes(buf.getvalue())
        await upgrade_to_head(postgres.url, "pix_captioning", "captioning")
        env = {
            **os.environ,
            "BENCH_LATENCY": str(latency),
            "PIX_ENV": "test",
            "PIX_INTERNAL_KEY": secrets.token_urlsafe(32),
            "PIX_DATABASE_URL": postgres.url,
            "PIX_STORAGE_URL": f"file://{storage}",
            "PIX_CAPTION_PROVIDER": "openai",
            "PIX_CAPTION_BASE_URL": fake.url + "/v1",
            "PIX_CAPTION_API_KEY": "sk-fake-bench",
            "PIX_CAPTIONING_ATTEMPTS": "1",
            "PIX_LOG_LEVEL": "WARNING",
        }
        print_header(latency, partitions)
        for w in workers:
            for c in concurrency:
                # A fresh broker for each configuration: after a few rounds of members joining
                # and leaving one group, Tansu sometimes holds a new member's JoinGroup for
                # minutes (`tests/perf/tansu_group_join.py` shows it with plain aiokafka).
                if tansu is not None:
                    tansu.stop()
                tansu = start_tansu(free_port(), log_file=tmp / "tansu.log")
                await ensure_topics(tansu.bootstrap)  # the registry's partition counts
                row = await one_run(
                    {**env, "PIX_KAFKA_BOOTSTRAP": tansu.bootstrap},
                    postgres.url,
                    w,
                    c,
                    waves,
                    partitions,
                    (postgres.server.get_pid(), tansu.process.pid),
                    tmp,
                )
                print_row(row)
                rows.append(row)
        return rows
    finally:
        stop_children()
        if server is not None:
            server.stop()
        if tansu is not None:
            tansu.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--waves", type=int, default=12)
    args = parser.parse_args()

    # SIGTERM (a CI timeout, `kill`) cleans up like Ctrl-C does.
    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:
        asyncio.run(
            run(
                args.latency,
                [int(w) for w in args.workers.split(",")],
                [int(c) for c in args.concurrency.split(",")],
                args.waves,
            )
        )
    finally:
        stop_children()


if __name__ == "__main__":
    main()
