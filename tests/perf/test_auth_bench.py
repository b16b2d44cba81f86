"""Sign-in under attack (not a timed test).

`PIX_BENCH=1 .venv/bin/pytest tests/perf/test_auth_bench.py -s`

Auth and the gateway run as their own processes, as `make run` starts them (the gateway's
session cache off, so every check reaches auth). While 50 sign-ins with wrong passwords run at
once through the gateway (limits raised so that every one of them pays for its argon2 hash), a
signed-in user checks their session through the gateway every 20 ms; the benchmark prints the
session check's p50/p99/max. Then it prints the median time of password-reset requests for an
address with an account and for one without.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pix_stack.embedded import free_port

pytestmark = pytest.mark.skipif(not os.environ.get("PIX_BENCH"), reason="set PIX_BENCH=1")
BAD_LOGINS = 50
ROUNDS = 3
RESETS = 30
PASSWORD = "Ruhige-Seitenstrasse-12"
NO_LIMITS = {
    "login-ip": "100000/minute",
    "login-account": "100000/minute",
    "login-account-untrusted": "100000/hour",
    "register-ip": "100000/hour",
    "reset-ip": "100000/hour",
    "reset-account": "100000/hour",
}


def start(entry: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", f"from {entry} import main; main()"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(log.read_text()[-3000:])


@pytest.fixture
def gateway_url(migrated: set[str], tmp_path: Path) -> Iterator[str]:
    auth_port, gateway_port = free_port(), free_port()
    env = {
        **os.environ,
        "PIX_AUTH_PORT": str(auth_port),
        "PIX_AUTH_RATE_LIMITS": json.dumps(NO_LIMITS),
        "PIX_GATEWAY_PORT": str(gateway_port),
        "PIX_GATEWAY_SESSION_CACHE_SECONDS": "0",
        "PIX_AUTH_URL": f"http://127.0.0.1:{auth_port}",
        "PIX_LOG_LEVEL": "WARNING",
    }
    auth = start("pix_auth.app", env, tmp_path / "auth.log")
    gateway = start("pix_gateway.app", env, tmp_path / "gateway.log")
    try:
        wait_ready(f"http://127.0.0.1:{auth_port}", auth, tmp_path / "auth.log")
        wait_ready(f"http://127.0.0.1:{gateway_port}", gateway, tmp_path / "gateway.log")
        yield f"http://127.0.0.1:{gateway_port}"
    finally:
        for process in (gateway, auth):
            process.terminate()
            process.wait(timeout=15)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def signed_in(http: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    email = f"bench-{uuid.uuid4().hex[:8]}@makler-example.de"
    registered = await http.post(
        "/api/auth/register",
        json={"name": "Bench", "email": email, "password": PASSWORD, "company": "Bench"},
    )
    assert registered.status_code == 201, registered.text
    login = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return email, {"authorization": f"Bearer {login.cookies['__Host-session']}"}


async def test_session_checks_during_a_burst_of_bad_logins(gateway_url: str) -> None:
    limits = httpx.Limits(max_connections=BAD_LOGINS + 10)
    async with httpx.AsyncClient(base_url=gateway_url, timeout=120, limits=limits) as http:
        email, bearer = await signed_in(http)
        checks: list[float] = []
        statuses: dict[int, int] = {}
        burst_seconds: list[float] = []
        idle = []
        for _ in range(10):  # the same check with nothing else going on
            started = time.perf_counter()
            assert (await http.get("/api/auth/me", headers=bearer)).status_code == 200
            idle.append(time.perf_counter() - started)
        for _ in range(ROUNDS):
            done = asyncio.Event()

            async def check_sessions(done: asyncio.Event = done) -> None:
                while not done.is_set():
                    started = time.perf_counter()
                    response = await http.get("/api/auth/me", headers=bearer)
                    checks.append(time.perf_counter() - started)
                    assert response.status_code == 200, response.text
                    await asyncio.sleep(0.02)

            checker = asyncio.create_task(check_sessions())
            started = time.perf_counter()
            answers = await asyncio.gather(
                *(
                    http.post(
                        "/api/auth/login",
                        json={"email": f"nobody-{n}@example.de", "password": "falsch-falsch"},
                    )
                    for n in range(BAD_LOGINS)
                ),
                *(
                    http.post("/api/auth/login", json={"email": email, "password": "falsch"})
                    for _ in range(5)
                ),
            )
            burst_seconds.append(time.perf_counter() - started)
            done.set()
            await checker
            for answer in answers:
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                if answer.status_code >= 500:
                    print("server error:", answer.status_code, answer.text[:300])
    ms = [c * 1000 for c in checks]
    print(
        f"\nsession check through the gateway while {BAD_LOGINS} + 5 bad logins run at once "
        f"({ROUNDS} rounds, {len(ms)} checks): p50 {percentile(ms, 0.5):.1f} ms, "
        f"p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms "
        f"(idle p50 {statistics.median(idle) * 1000:.1f} ms); "
        f"a burst took {statistics.median(burst_seconds):.2f} s; login answers {statuses}"
    )
    assert set(statuses) <= {401, 429}, statuses


async def test_reset_requests_take_as_long_for_unknown_addresses(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as http:
        email, _ = await signed_in(http)
        known: list[float] = []
        unknown: list[float] = []
        for n in range(RESETS):
            for address, times in ((email, known), (f"nobody-{n}@example.de", unknown)):
                started = time.perf_counter()
                response = await http.post("/api/auth/password/forgot", json={"email": address})
                times.append(time.perf_counter() - started)
                assert response.status_code == 202, response.text
    print(
        f"\npassword reset request, median of {RESETS}: known address "
        f"{statistics.median(known) * 1000:.1f} ms, unknown address "
        f"{statistics.median(unknown) * 1000:.1f} ms"
    )
