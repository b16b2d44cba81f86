"""The authenticated request path: through the gateway, and straight to the service.

`PIX_BENCH=1 .venv/bin/pytest tests/perf/test_request_path_bench.py -s`

Starts the whole stack as `make run` does (`tests/stack.py`), signs up and verifies an agency,
signs in, then loads each request at 1 and 50 connections, through the gateway (session check,
signed identity, proxy) and in the same run straight to the service with an identity signed as
the gateway signs it, so the gateway's overhead is a ratio of figures taken side by side:

- `GET /api/orders/orders` (orders lists the agency's orders),
- `GET /api/auth/me` (auth answers the profile),
- `POST /api/orders/orders` with a fixed `Idempotency-Key` (the first creates the order; every
  later one parses and validates the body and answers the same order, so the run creates one),
- the gateway's own `/healthz` (no session, no upstream) as the ceiling of the process.

Load comes from wrk (Debian's `wrk`) where installed, otherwise from a Python load generator
(httpx on asyncio; it costs more CPU per request than wrk, so its figures are lower on a busy
machine). `PIX_BENCH_SECONDS` sets each measurement's length (default 8).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from dev_outbox import wait_for_link
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from stack import Stack

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from client import full_order

pytestmark = pytest.mark.skipif(not os.environ.get("PIX_BENCH"), reason="set PIX_BENCH=1")

SECONDS = float(os.environ.get("PIX_BENCH_SECONDS", "8"))
CONNECTIONS = (1, 50)
PASSWORD = "Sonnenblume-Dach-42"
AUTH, ORDERS = 1, 2  # port offsets of the services


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Target:
    name: str
    method: str
    url: str
    headers: dict[str, str]
    body: str | None = None


# wrk's own summary, as one JSON line: latency in microseconds, errors of the socket and
# answers that were not 2xx/3xx counted apart.
WRK_SCRIPT = """
wrk.method = os.getenv("BENCH_METHOD")
local body = os.getenv("BENCH_BODY")
if body ~= nil and body ~= "" then wrk.body = body end
for pair in string.gmatch(os.getenv("BENCH_HEADERS"), "[^\\n]+") do
  local name, value = pair:match("^([^:]+): (.*)$")
  wrk.headers[name] = value
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH {\\"requests\\": %d, \\"us\\": %d, \\"p50\\": %d, \\"p99\\": %d, "
    .. "\\"socket\\": %d, \\"status\\": %d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def wrk_load(target: Target, connections: int, seconds: float, script: Path) -> Load:
    env = {
        **os.environ,
        "BENCH_METHOD": target.method,
        "BENCH_BODY": target.body or "",
        "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in target.headers.items()),
    }
    threads = min(2, connections)
    completed = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            target.url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    match = re.search(r"^BENCH (.*)$", completed.stdout, re.MULTILINE)
    assert match, completed.stdout + completed.stderr
    summary = json.loads(match.group(1))
    return Load(
        requests=summary["requests"],
        seconds=summary["us"] / 1e6,
        p50_ms=summary["p50"] / 1000,
        p99_ms=summary["p99"] / 1000,
        errors=summary["socket"] + summary["status"],
    )


async def python_load(target: Target, connections: int, seconds: float) -> Load:
    """wrk's measurement with httpx: `connections` clients, each one request at a time."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10) as http:
        started = time.perf_counter()
        deadline = started + seconds

        async def client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                try:
                    response = await http.request(
                        target.method, target.url, headers=target.headers, content=target.body
                    )
                    if response.status_code >= 400:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - sent)

        await asyncio.gather(*(client() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]
    return Load(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=ordered[len(ordered) // 2] * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000,
        errors=errors,
    )


async def verified_client(http: httpx.AsyncClient, mail_dir: Path) -> str:
    """A new agency, its email confirmed (orders wants that), signed in: its session token."""
    email = f"bench-{uuid.uuid4().hex[:8]}@makler-example.de"
    registered = await http.post(
        "/api/auth/register",
        json={"name": "Bench", "email": email, "password": PASSWORD, "company": "Bench GmbH"},
    )
    assert registered.status_code == 201, registered.text
    link = await wait_for_link(mail_dir, email, "/verify-email")
    confirmed = await http.post("/api/auth/verify-email", json={"token": link.split("token=")[1]})
    assert confirmed.status_code == 200, confirmed.text
    login = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return str(login.cookies["__Host-session"])


def cells(stack: Stack, token: str, identity: Identity) -> list[tuple[str, Target, Target | None]]:
    """(request, through the gateway, straight to the service or None)."""
    bearer = {"authorization": f"Bearer {token}"}
    post_headers = {"content-type": "application/json", "idempotency-key": uuid.uuid4().hex}
    body = json.dumps(full_order())
    gateway = stack.base_url.replace("localhost", "127.0.0.1")

    def direct(offset: int, path: str, method: str = "GET", **extra: str) -> Target:
        # Signed when measured (valid 60 s), like the gateway signs each request.
        headers = {IDENTITY_HEADER: "", **extra}
        url = f"{stack.service_url(offset)}{path}"
        return Target(path, method, url, headers, body if method == "POST" else None)

    return [
        (
            "GET /api/orders/orders",
            Target("gw", "GET", f"{gateway}/api/orders/orders", bearer),
            direct(ORDERS, "/orders"),
        ),
        (
            "GET /api/auth/me",
            Target("gw", "GET", f"{gateway}/api/auth/me", bearer),
            direct(AUTH, "/me"),
        ),
        (
            "POST /api/orders/orders",
            Target("gw", "POST", f"{gateway}/api/orders/orders", {**bearer, **post_headers}, body),
            direct(ORDERS, "/orders", "POST", **post_headers),
        ),
        ("GET /healthz (gateway)", Target("gw", "GET", f"{gateway}/healthz", {}), None),
    ]


def signed(target: Target, identity: Identity) -> Target:
    if IDENTITY_HEADER not in target.headers:
        return target
    key = os.environ["PIX_INTERNAL_KEY"].encode()
    headers = {**target.headers, IDENTITY_HEADER: sign_identity(identity, key)}
    return Target(target.name, target.method, target.url, headers, target.body)


async def test_request_path_through_the_gateway_and_direct(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        token = await verified_client(http, stack.data_dir / "mail")
        validated = await http.post(
            f"{stack.service_url(AUTH)}/sessions/validate", json={"token": token}
        )
        assert validated.status_code == 200, validated.text
        identity = Identity.model_validate(validated.json())
        first = await http.post(
            "/api/orders/orders",
            headers={"authorization": f"Bearer {token}"},
            json=full_order(),
        )
        assert first.status_code == 201, first.text
    tool = "wrk" if shutil.which("wrk") else "python (httpx)"
    rows: list[tuple[str, int, Load, Load | None]] = []
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "bench.lua"
        script.write_text(WRK_SCRIPT)

        async def measure(target: Target, connections: int) -> Load:
            # A short warm-up: connections opened, caches and pools filled.
            await run(signed(target, identity), connections, min(1.0, SECONDS))
            return await run(signed(target, identity), connections, SECONDS)

        async def run(target: Target, connections: int, seconds: float) -> Load:
            if tool == "wrk":
                return await asyncio.to_thread(wrk_load, target, connections, seconds, script)
            return await python_load(target, connections, seconds)

        for name, through, straight in cells(stack, token, identity):
            for connections in CONNECTIONS:
                via_gateway = await measure(through, connections)
                direct = await measure(straight, connections) if straight else None
                rows.append((name, connections, via_gateway, direct))
    print(f"\nrequest path, {SECONDS:g} s a figure, load from {tool}, {os.cpu_count()} cores")
    print(
        f"{'request':26} {'conn':>4} | {'gateway req/s':>13} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'err':>4} | {'direct req/s':>12} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} | "
        f"{'+p50 ms':>7}"
    )
    for name, connections, gw, direct in rows:
        line = (
            f"{name:26} {connections:>4} | {gw.rate:>13.0f} {gw.p50_ms:>7.1f} "
            f"{gw.p99_ms:>7.1f} {gw.errors:>4} | "
        )
        if direct is not None:
            line += (
                f"{direct.rate:>12.0f} {direct.p50_ms:>7.1f} {direct.p99_ms:>7.1f} "
                f"{direct.errors:>4} | {gw.p50_ms - direct.p50_ms:>7.1f}"
            )
        print(line)
    for name, _, gw, direct in rows:
        assert gw.requests > 0, name
        assert direct is None or direct.requests > 0, name
