"""Caption throughput benchmark (a script, not a timed unit test).

Starts embedded PostgreSQL, Tansu and a local OpenAI-compatible fake provider with a fixed
latency (default 2 s), then for 1, 2, 4, 8 worker processes × per-worker concurrency 1 and 8
publishes uploads and measures captions per second, and the system's own overhead per caption
(handler time minus provider time, from each worker's /metrics). Prints a table.

    .venv/bin/python tests/perf/caption_bench.py [--latency 2] [--workers 1,2,4,8] \
        [--concurrency 1,8] [--partitions 64] [--waves 3]

The upload topic is created with `--partitions` (default 64) so in-flight work is not capped by
the 12 partitions of the registry; pass `--partitions 12` to see that cap. Not collected by
pytest (no test_ prefix), so `make test` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from PIL import Image
from pix_contracts import AssetUploaded
from pix_runtime.migrations import upgrade_to_head
from pix_stack.embedded import free_port, start_postgres, start_tansu
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "captioning"))
from caption_fakes import FakeProviders, ServerThread

VENV_BIN = Path(sys.executable).parent


def metric_sum(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}\{{[^}}]*\}} ([0-9.e+-]+)$", text, re.M))


async def one_run(
    env: dict[str, str], db_url: str, workers: int, concurrency: int, waves: int
) -> tuple[int, float, float]:
    from pix_captioning.models import captions

    ports = [free_port() for _ in range(workers)]
    procs = [
        subprocess.Popen(
            [str(VENV_BIN / "pix-captioning")],
            env={
                **env,
                "PIX_CAPTIONING_PORT": str(port),
                "PIX_CAPTIONING_CONCURRENCY": str(concurrency),
                "PIX_CAPTIONING_DB_POOL_SIZE": str(max(2, concurrency)),
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    engine = create_async_engine(db_url)
    try:
        async with httpx.AsyncClient() as client:
            for port in ports:
                while True:
                    try:
                        if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.2)
            # Let the consumer group settle (every member joined and got partitions).
            await asyncio.sleep(3 + workers * concurrency * 0.1)
            slots = workers * concurrency
            count = slots * waves
            events = [
                AssetUploaded(
                    asset_id=uuid.uuid4(),
                    gallery_id=uuid.uuid4(),
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
                for i in range(count)
            ]
            producer = AIOKafkaProducer(bootstrap_servers=env["PIX_KAFKA_BOOTSTRAP"])
            await producer.start()
            started = time.monotonic()
            for e in events:
                await producer.send(e.topic, e.model_dump_json().encode(), key=e.partition_key())
            await producer.flush()
            await producer.stop()
            ids = [e.asset_id for e in events]
            while True:
                async with engine.connect() as conn:
                    done = await conn.scalar(
                        select(func.count()).where(captions.c.asset_id.in_(ids))
                    )
                if done >= count:
                    break
                if time.monotonic() - started > 600:
                    raise TimeoutError(f"only {done}/{count} captions")
                await asyncio.sleep(0.05)
            elapsed = time.monotonic() - started
            handle = provider = handled = 0.0
            for port in ports:
                text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                handle += metric_sum(text, "pix_caption_handle_seconds_sum")
                handled += metric_sum(text, "pix_caption_handle_seconds_count")
                provider += metric_sum(text, "pix_caption_provider_seconds_sum")
            overhead_ms = (handle - provider) / max(handled, 1) * 1000
            return count, count / elapsed, overhead_ms
    finally:
        await engine.dispose()
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--partitions", type=int, default=64)
    parser.add_argument("--waves", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pix-bench-"))
    postgres = start_postgres(tmp / "pg")
    tansu = start_tansu(free_port(), log_file=tmp / "tansu.log")
    fake = FakeProviders(latency=args.latency)
    server = ServerThread(fake)
    server.start()
    try:
        storage = tmp / "storage"
        (storage / "bench").mkdir(parents=True)
        buf = io.BytesIO()
        Image.new("RGB", (1600, 1200), (230, 225, 215)).save(buf, "JPEG")
        (storage / "bench" / "web.jpg").write_bytes(buf.getvalue())
        await upgrade_to_head(postgres.url, "pix_captioning", "captioning")
        admin = AIOKafkaAdminClient(bootstrap_servers=tansu.bootstrap)
        await admin.start()
        await admin.create_topics(
            [NewTopic(AssetUploaded.topic, num_partitions=args.partitions, replication_factor=1)]
        )
        await admin.close()
        env = {
            **os.environ,
            "PIX_ENV": "test",
            "PIX_INTERNAL_KEY": secrets.token_urlsafe(32),
            "PIX_DATABASE_URL": postgres.url,
            "PIX_KAFKA_BOOTSTRAP": tansu.bootstrap,
            "PIX_STORAGE_URL": f"file://{storage}",
            "PIX_CAPTION_PROVIDER": "openai",
            "PIX_CAPTION_BASE_URL": fake.url + "/v1",
            "PIX_CAPTION_API_KEY": "sk-fake-bench",
            "PIX_CAPTIONING_ATTEMPTS": "1",
            "PIX_LOG_LEVEL": "WARNING",
        }
        print(
            f"provider latency {args.latency:.1f} s, {args.partitions} partitions, "
            f"{os.cpu_count()} CPUs"
        )
        print(
            f"{'workers':>7} {'conc':>4} {'in flight':>9} {'captions':>8} {'cap/s':>7} "
            f"{'ideal':>6} {'ratio':>5} {'overhead ms':>11}"
        )
        for workers in [int(w) for w in args.workers.split(",")]:
            for concurrency in [int(c) for c in args.concurrency.split(",")]:
                count, rate, overhead = await one_run(
                    env, postgres.url, workers, concurrency, args.waves
                )
                slots = workers * concurrency
                ideal = slots / args.latency
                print(
                    f"{workers:>7} {concurrency:>4} {slots:>9} {count:>8} {rate:>7.2f} "
                    f"{ideal:>6.2f} {rate / ideal:>5.2f} {overhead:>11.1f}",
                    flush=True,
                )
    finally:
        server.stop()
        tansu.stop()
        postgres.stop()


if __name__ == "__main__":
    asyncio.run(main())
