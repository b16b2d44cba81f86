"""How fast a single service comes back (not a timed test): `PIX_BENCH=1 .venv/bin/pytest
tests/perf/test_restart_bench.py -s -q`.

Each service process is started by itself against a running PostgreSQL and Tansu, as after a
crash or a deploy, twice: the first start migrates an empty schema, the restart finds it
migrated and rejoins its consumer groups (with its stable instance id, as the runner gives
it). Printed per start: when the process had imported its code, finished the migrations check,
answered `/healthz`, joined the broker and answered `/readyz` (goal: ≤ 10 s on an idle
machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from pix_stack.embedded import EmbeddedPostgres, Tansu, free_port

pytestmark = [
    pytest.mark.skipif(not os.environ.get("PIX_BENCH"), reason="set PIX_BENCH=1"),
    pytest.mark.timeout(1200),
]
SERVICES = ("auth", "orders", "media", "export", "notify", "captioning")
BIN = Path(sys.executable).parent


def _start(service: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([BIN / f"pix-{service}"], env=env, stdout=out, stderr=out)


def _wait(url: str, deadline: float) -> float:
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return time.monotonic()
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise TimeoutError(url)


def _logged_at(log: Path, event: str) -> float | None:
    """Wall-clock time of the first JSON log line with `event`."""
    for line in log.read_text(errors="replace").splitlines():
        if f'"{event}"' in line:
            stamp = json.loads(line)["timestamp"]
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    return None


def _one_start(service: str, env: dict[str, str], log: Path) -> dict[str, float]:
    port = env[f"PIX_{service.upper()}_PORT"]
    wall, started = time.time(), time.monotonic()
    process = _start(service, env, log)
    try:
        healthy = _wait(f"http://127.0.0.1:{port}/healthz", started + 120)
        ready = _wait(f"http://127.0.0.1:{port}/readyz", started + 120)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    figures = {"healthz": healthy - started, "readyz": ready - started}
    for name, event in (("migrated", "migrations.done"), ("joined", "broker.joined")):
        at = _logged_at(log, event)
        if at is not None:
            figures[name] = at - wall
    return figures


def test_a_restarted_service_is_ready_within_seconds(
    postgres: EmbeddedPostgres, tansu: Tansu, tmp_path: Path
) -> None:
    if "(1 row)" not in postgres.server.psql(
        "SELECT 1 FROM pg_database WHERE datname = 'restart_bench';"
    ):
        postgres.server.psql("CREATE DATABASE restart_bench;")
    imports = {}
    for service in SERVICES:
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", f"import pix_{service}.app"], check=True)
        imports[service] = time.monotonic() - started
    rows = []
    for service in SERVICES:
        env = {
            **os.environ,
            "PIX_DATABASE_URL": postgres.url.replace("/pix?", "/restart_bench?"),
            "PIX_KAFKA_BOOTSTRAP": tansu.bootstrap,
            "PIX_STORAGE_URL": f"file://{tmp_path / 'storage'}",
            "PIX_LOG_JSON": "true",
            "PIX_KAFKA_INSTANCE_ID": service,
            "PIX_KAFKA_FETCH_MAX_WAIT_MS": "20",
            f"PIX_{service.upper()}_PORT": str(free_port()),
        }
        first = _one_start(service, env, tmp_path / f"{service}.1.log")
        again = _one_start(service, env, tmp_path / f"{service}.2.log")
        rows.append((service, imports[service], first, again))
    print("\nservice restart (s) | import | migrated | /healthz | joined | /readyz | first start")
    for service, imported, first, again in rows:
        print(
            f"{service:10} | {imported:5.1f} | {again.get('migrated', float('nan')):5.1f} | "
            f"{again['healthz']:5.1f} | {again.get('joined', float('nan')):5.1f} | "
            f"{again['readyz']:5.1f} | {first['readyz']:5.1f}"
        )
    # The figure is printed; the bench only checks that every service came back.
    assert all(again["readyz"] > 0 for *_, again in rows)
