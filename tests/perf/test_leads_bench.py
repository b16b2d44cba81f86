"""Leads benchmark (not a timed test):
`PIX_BENCH=1 .venv/bin/pytest tests/perf/test_leads_bench.py -s`.

1. Intake: portal emails delivered over SMTP to the running leads service → stored, recorded,
   parsed, enriched, scored, `leads.lead.created.v1` on the broker. The service is an intake
   replica as production would run one under load: its own process (`pix-leads`) on a core
   of its own, without a job loop (`PIX_RUN_JOBS=false`). This process sends (aiosmtplib) and
   consumes the events, on the other core with PostgreSQL and the broker. Prints the SMTP
   accept latency (DATA command → 250), the latency from the DATA command to the event
   (p50/p95/p99), sustained emails/s and the replica's CPU per mail. Each message goes to its
   own organisation's intake address, so the event (which carries the org id) names the
   message it came from. The burst comes over 20 connections, Postfix's default concurrency
   per destination (`PIX_BENCH_SMTP_CONNECTIONS`).
2. The jobs each lead leaves (acknowledgement, embedding of its wishes): a job loop started
   after the burst, on the service's core, works through them; time and CPU per mail.
3. Search: German full-text search over 100,000 leads of one organisation (p50/p95/p99).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from leads_corpus_for_bench import PORTAL_MAILS
from pix_contracts import LeadCreated
from pix_leads.app import create_app
from pix_leads.models import leads as leads_table
from pix_leads.records import LeadFilter
from pix_leads.settings import LeadsSettings
from pix_runtime.identity import Identity
from pix_runtime.migrations import upgrade_to_head
from pix_stack.embedded import free_port
from sqlalchemy import text

pytestmark = pytest.mark.skipif(not os.environ.get("PIX_BENCH"), reason="set PIX_BENCH=1")
PACED = int(os.environ.get("PIX_BENCH_LEAD_PACED", "60"))
MAILS = int(os.environ.get("PIX_BENCH_LEAD_MAILS", "600"))
CONCURRENCY = int(os.environ.get("PIX_BENCH_SMTP_CONNECTIONS", "20"))
SEARCH_LEADS = int(os.environ.get("PIX_BENCH_SEARCH_LEADS", "100000"))
SEARCHES = 100


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figures(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{name}: n={len(ms)} p50={statistics.median(ms):.1f} ms "
        f"p95={pct(ms, 0.95):.1f} ms p99={pct(ms, 0.99):.1f} ms"
    )


@pytest.fixture(scope="module")
async def schema(postgres: Any, migrated: set[str]) -> None:
    await upgrade_to_head(postgres.url, "pix_leads", "leads")


def proc_cpu_seconds(pid: int) -> float:
    """User and system CPU of a process so far, its threads included (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def core_times() -> dict[int, tuple[int, int]]:
    """(busy, total) jiffies per core so far (/proc/stat)."""
    times = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            ticks = [int(v) for v in values]
            idle = ticks[3] + ticks[4]  # idle and iowait
            times[int(name[3:])] = (sum(ticks) - idle, sum(ticks))
    return times


def busy_share(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]) -> str:
    parts = []
    for core, (busy, total) in sorted(after.items()):
        spent = total - before[core][1]
        share = (busy - before[core][0]) / spent * 100 if spent else 0.0
        parts.append(f"core {core} {share:.0f} %")
    return ", ".join(parts)


def pin(pid: int, cores: set[int]) -> None:
    """Every thread of the process on `cores` (threads it starts later inherit it)."""
    for thread in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(thread), cores)


def infrastructure_pids() -> list[int]:
    """PostgreSQL's processes and the broker (their later children inherit a pin)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
                if b"postgres" in command or b"tansu" in command:
                    found.append(int(entry))
    return found


def infrastructure_cpu() -> dict[str, float]:
    """CPU seconds so far of PostgreSQL's processes (ended backends are in their parent's
    children's times) and of the broker."""
    spent = {"PostgreSQL": 0.0, "Tansu": 0.0}
    for pid in infrastructure_pids():
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            spent["Tansu" if b"tansu" in command else "PostgreSQL"] += ticks
    return spent


@pytest.fixture
def cores() -> Iterator[tuple[set[int], set[int]]]:
    """(the service's core, the others'): the intake replica gets one core to itself; this
    process (SMTP client, consumer), PostgreSQL and the broker share the rest."""
    every = os.sched_getaffinity(0)
    service = {max(every)}
    rest = every - service or every
    for pid in [os.getpid(), *infrastructure_pids()]:
        pin(pid, rest)
    yield service, rest
    for pid in [os.getpid(), *infrastructure_pids()]:
        pin(pid, every)


async def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the leads service exited"
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError("the leads service did not get ready")


@pytest.mark.timeout(1800)
async def test_smtp_intake_latency_and_throughput(
    schema: None, tansu: Any, cores: tuple[set[int], set[int]], tmp_path: Path
) -> None:
    service_core, _ = cores
    port, smtp_port = free_port(), free_port()
    # This process only reads and writes the database (mailboxes; the jobs in part 2).
    os.environ["PIX_RUN_JOBS"] = "false"
    try:
        app, runtime = create_app(LeadsSettings(smtp_port=0))
    finally:
        del os.environ["PIX_RUN_JOBS"]
    org = app.state.org
    domain = LeadsSettings().inbound_domain
    mails: list[tuple[uuid.UUID, str, bytes]] = []
    async with runtime.db.transaction() as session:
        for n in range(1 + PACED + MAILS):
            org_id = uuid.uuid4()
            box = await org.ensure_mailbox(session, org_id)
            raw = PORTAL_MAILS[n % len(PORTAL_MAILS)]
            mails.append((org_id, f"{box['slug']}@{domain}", raw))
    warm_up, paced, burst = mails[0], mails[1 : PACED + 1], mails[PACED + 1 :]
    # The intake replica, as production would run it under load: its own process on its own
    # core, no job loop (`PIX_RUN_JOBS=false`), logs as JSON at INFO.
    env = os.environ | {
        "PIX_LEADS_PORT": str(port),
        "PIX_LEADS_SMTP_PORT": str(smtp_port),
        "PIX_RUN_JOBS": "false",
        "PIX_LOG_JSON": "true",
        "PIX_LOG_LEVEL": "INFO",
    }
    with (tmp_path / "leads.log").open("wb") as log:
        service = subprocess.Popen(
            [Path(sys.executable).parent / "pix-leads"],
            env=env,
            stdout=log,
            stderr=log,
            preexec_fn=lambda: os.sched_setaffinity(0, service_core),
        )
    try:
        await wait_ready(port, service)
        figures_ = await drive(mails, warm_up, paced, burst, smtp_port, service.pid)
    finally:
        service.terminate()
        service.wait(timeout=60)
    paced_accept, paced_latency, burst_accept, burst_latency, elapsed, cpu = figures_

    # 2. The jobs the leads left (acknowledgement, embedding): a job loop in this process, now
    # on the service's core (the intake replica has stopped).
    pin(os.getpid(), service_core)
    queued = await live_jobs(runtime)
    jobs_began = time.perf_counter()
    jobs_cpu_began = time.process_time()
    await runtime.jobs.start()
    while await live_jobs(runtime):
        await asyncio.sleep(0.2)
    jobs_took = time.perf_counter() - jobs_began
    jobs_cpu = time.process_time() - jobs_cpu_began
    await runtime.jobs.stop()
    await runtime.db.dispose()
    print()
    print("leads intake over SMTP (latency from the DATA command), the service on one core")
    print(f" one at a time, {len(paced)} portal mails:")
    print(figures("  SMTP accept (-> 250: stored + recorded)", paced_accept))
    print(figures("  -> leads.lead.created.v1 on the broker", paced_latency))
    print(f" burst, {len(burst)} portal mails over {CONCURRENCY} connections:")
    print(figures("  SMTP accept (-> 250: stored + recorded)", burst_accept))
    print(figures("  -> leads.lead.created.v1 on the broker", burst_latency))
    print(f"  sustained: {len(burst) / elapsed:.0f} emails/s (to the last created event)")
    per_mail = cpu / len(burst) * 1000
    print(
        f"  CPU of the intake replica (SMTP server, parsing, transactions, relay): {per_mail:.1f}"
        f" ms per mail, i.e. {1000 / per_mail:.0f} emails/s per core"
    )
    per_job_mail = jobs_cpu / len(burst) * 1000
    print(
        f" then {queued} jobs (acknowledgement, embedding) by one job loop: {jobs_took:.1f} s,"
        f" {len(burst) / jobs_took:.0f} mails' jobs/s, CPU {per_job_mail:.1f} ms per mail"
    )
    print(
        f"  intake and jobs on one core: {1000 / (per_mail + per_job_mail):.0f} emails/s"
        " (from the CPU per mail of both)"
    )


async def drive(
    mails: list[tuple[uuid.UUID, str, bytes]],
    warm_up: tuple[uuid.UUID, str, bytes],
    paced: list[tuple[uuid.UUID, str, bytes]],
    burst: list[tuple[uuid.UUID, str, bytes]],
    port: int,
    service_pid: int,
) -> tuple[list[float], list[float], list[float], list[float], float, float]:
    """Send the mails as the portals' mail servers would and watch the events arrive."""
    # No consumer group: Tansu holds a new member's join for a while, partitions are assigned
    # by hand instead.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=os.environ["PIX_KAFKA_BOOTSTRAP"],
        fetch_max_wait_ms=20,
        enable_auto_commit=False,
    )
    sent_at: dict[uuid.UUID, float] = {}
    arrived: dict[uuid.UUID, asyncio.Future[float]] = {
        org_id: asyncio.get_running_loop().create_future() for org_id, _, _ in mails
    }
    await consumer.start()
    partitions: list[TopicPartition] = []
    deadline = time.monotonic() + 120
    while not partitions and time.monotonic() < deadline:
        await consumer.topics()
        partitions = [
            TopicPartition(LeadCreated.topic, p)
            for p in consumer.partitions_for_topic(LeadCreated.topic) or ()
        ]
        if not partitions:
            await asyncio.sleep(0.5)
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for partition in partitions:
        await consumer.position(partition)

    async def consume() -> None:
        async for record in consumer:
            event = LeadCreated.model_validate_json(record.value)
            future = arrived.get(event.org_id)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())

    consuming = asyncio.create_task(consume())

    async def send(client: aiosmtplib.SMTP, mail: tuple[uuid.UUID, str, bytes]) -> float:
        org_id, address, raw = mail
        await client.mail("noreply@immobilienscout24.de")
        await client.rcpt(address)
        # The clock starts at the DATA command, a round trip and the message's bytes before
        # the end of DATA the goal counts from (so the figures err on the slow side).
        started = time.perf_counter()
        sent_at[org_id] = started
        await client.data(raw)
        return time.perf_counter() - started

    try:
        # 1. One mail at a time, the next once the previous lead's event is on the broker. The
        # first one is a warm-up (the service's producer connects in the background).
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
        await client.connect()
        await send(client, warm_up)
        await asyncio.wait_for(arrived[warm_up[0]], timeout=300)
        paced_accept = []
        for mail in paced:
            paced_accept.append(await send(client, mail))
            await asyncio.wait_for(arrived[mail[0]], timeout=60)
        await client.quit()
        paced_latency = [arrived[m[0]].result() - sent_at[m[0]] for m in paced]

        # 2. A burst over several connections: sustained throughput.
        queue: asyncio.Queue[tuple[uuid.UUID, str, bytes]] = asyncio.Queue()
        for mail in burst:
            queue.put_nowait(mail)
        burst_accept: list[float] = []

        async def sender() -> None:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
            await client.connect()
            while not queue.empty():
                burst_accept.append(await send(client, queue.get_nowait()))
            await client.quit()

        began = time.perf_counter()
        cpu_began = proc_cpu_seconds(service_pid)
        cores_began = core_times()
        own_began = time.process_time()
        infra_began = infrastructure_cpu()
        await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
        await asyncio.wait_for(asyncio.gather(*(arrived[m[0]] for m in burst)), timeout=900)
        elapsed = time.perf_counter() - began
        cpu = proc_cpu_seconds(service_pid) - cpu_began
        own = (time.process_time() - own_began) / len(burst) * 1000
        infra = {
            name: (seconds - infra_began[name]) / len(burst) * 1000
            for name, seconds in infrastructure_cpu().items()
        }
        print(
            f"\n burst: busy {busy_share(cores_began, core_times())}; CPU per mail beside the"
            f" service: the SMTP client and the consumer (this process) {own:.1f} ms,"
            + ", ".join(f" {name} {ms:.1f} ms" for name, ms in infra.items())
        )
    finally:
        consuming.cancel()
        await consumer.stop()
    burst_latency = [arrived[m[0]].result() - sent_at[m[0]] for m in burst]
    return paced_accept, paced_latency, burst_accept, burst_latency, elapsed, cpu


async def live_jobs(runtime: Any) -> int:
    async with runtime.db.sessions() as session:
        live: int = await session.scalar(
            text(
                "SELECT count(*) FROM leads.jobs WHERE status IN ('queued', 'running')"
                " AND every_seconds IS NULL AND run_at <= now()"
            )
        )
    return live


WORDS = [
    "Wohnung",
    "Balkon",
    "Garten",
    "Besichtigung",
    "Finanzierung",
    "Altbau",
    "Neubau",
    "Dachterrasse",
    "Keller",
    "Garage",
    "Familie",
    "Kinder",
    "ruhig",
    "hell",
    "Einbauküche",
    "Aufzug",
    "Stellplatz",
    "Kaufpreis",
    "Miete",
    "Haus",
    "Reihenhaus",
    "Penthouse",
    "Maisonette",
    "Loft",
    "Grundstück",
    "Lage",
    "Schule",
    "Kita",
    "Park",
    "Bahnhof",
    "Innenstadt",
    "Terrasse",
    "Eigentumswohnung",
    "Doppelhaushälfte",
    "Bungalow",
    "Villa",
    "Sanierung",
    "renoviert",
    "Fußbodenheizung",
]
NAMES = [
    "Lena",
    "Jonas",
    "Mira",
    "Paul",
    "Clara",
    "Felix",
    "Ida",
    "Tarik",
    "Greta",
    "Henrik",
    "Sophie",
    "Emma",
    "Lukas",
    "Anna",
    "Theo",
]
SURNAMES = [
    "Beispiel",
    "Testmann",
    "Probe",
    "Fiktiv",
    "Platzhalter",
    "Muster",
    "Ausgedacht",
    "Erfunden",
    "Unbekannt",
]


@pytest.mark.timeout(1800)
async def test_search_over_many_leads(schema: None) -> None:
    app, runtime = create_app(LeadsSettings(smtp_port=0))
    org_id = uuid.uuid4()
    rng = random.Random(7)
    batch: list[dict[str, Any]] = []
    began = time.perf_counter()

    async def flush() -> None:
        async with runtime.db.transaction() as session:
            await session.execute(leads_table.insert(), batch)
        batch.clear()

    now = runtime.clock.now()
    for n in range(SEARCH_LEADS):
        name = f"{rng.choice(NAMES)} {rng.choice(SURNAMES)}{n % 97}"
        message = " ".join(rng.choice(WORDS) for _ in range(25))
        batch.append(
            {
                "id": uuid.uuid4(),
                "org_id": org_id,
                "source": "immoscout24",
                "name": name,
                "email": f"lead{n}@example.org",
                "message": message,
                "conversation_text": message,
                "reply_token": uuid.uuid4().hex[:16],
                "created_at": now,
                "updated_at": now,
                "status_changed_at": now,
            }
        )
        if len(batch) == 2000:
            await flush()
    if batch:
        await flush()
    async with runtime.db.transaction() as session:
        await session.execute(text("ANALYZE leads.leads"))
    loaded = time.perf_counter() - began
    viewer = Identity(
        user_id=uuid.uuid4(), org_id=org_id, role="client", email="a@b.de", name="Bench"
    )
    book = app.state.desk
    kinds = {
        "a common word": [rng.choice(WORDS) for _ in range(SEARCHES)],
        "two words": [f"{rng.choice(WORDS)} {rng.choice(WORDS)}" for _ in range(SEARCHES)],
        "a person's name": [
            f"{rng.choice(NAMES)} {rng.choice(SURNAMES)}{rng.randrange(97)}"
            for _ in range(SEARCHES)
        ],
        "an email address": [
            f"lead{rng.randrange(SEARCH_LEADS)}@example.org" for _ in range(SEARCHES)
        ],
    }
    results: dict[str, tuple[list[float], int]] = {}
    for kind, queries in kinds.items():
        timings: list[float] = []
        hits = 0
        for q in queries:
            started = time.perf_counter()
            found = await book.search(viewer, LeadFilter(q=q, limit=50))
            timings.append(time.perf_counter() - started)
            hits += len(found)
        results[kind] = (timings, hits)
    await runtime.db.dispose()
    print()
    print(f"leads search, {SEARCH_LEADS} leads of one organisation (loaded in {loaded:.0f} s)")
    for kind, (timings, hits) in results.items():
        print(figures(f"  {kind} (top 50, mean {hits / len(timings):.0f} hits)", timings))
    every = [t for timings, _ in results.values() for t in timings]
    print(figures("  all searches", every))
