"""The whole platform started exactly as `make run` starts it (e2e and browser tests)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from pix_stack.__main__ import CAPTIONING, GATEWAY_METRICS_OFFSET, LEADS_SMTP_OFFSET, SERVICES
from pix_stack.embedded import free_port

# Every process `make run` starts, so a new service is waited for without editing this file.
SERVICE_OFFSETS = tuple(service.port_offset for service in (*SERVICES, CAPTIONING))
# Ports the stack takes beside the services' own.
OTHER_OFFSETS = (GATEWAY_METRICS_OFFSET, LEADS_SMTP_OFFSET)
EMBEDDED_SETTINGS = frozenset(
    {"PIX_DATABASE_URL", "PIX_KAFKA_BOOTSTRAP", "PIX_STORAGE_URL", "PIX_PUBLIC_URL"}
)


def ephemeral_ports() -> tuple[int, int]:
    """The range the kernel hands out as source ports of outgoing connections."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port_base() -> int:
    """A base port with every port the stack takes above it free, below the ephemeral range:
    a port checked free there can be taken a moment later by any outgoing connection (a
    service's to PostgreSQL over TCP took leads' port once)."""
    top = max((*SERVICE_OFFSETS, *OTHER_OFFSETS))
    low, _ = ephemeral_ports()
    first, last = (10000, low - top - 1) if low - top - 1 > 10000 else (20000, 50000)
    for _ in range(50):
        base = first + secrets.randbelow(last - first)
        try:
            for offset in (*SERVICE_OFFSETS, *OTHER_OFFSETS):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range")


@dataclass
class Stack:
    base_url: str
    port_base: int
    data_dir: Path
    kafka_bootstrap: str
    admin_email: str
    admin_password: str
    log: Path

    def service_url(self, offset: int) -> str:
        return f"http://127.0.0.1:{self.port_base + offset}"

    @property
    def database_url(self) -> str:
        return f"postgresql+asyncpg://postgres@/pix?host={self.data_dir / 'postgres'}"


def run_stack(
    data_dir: Path, settings: Mapping[str, str] | None = None, *, timeout: float = 90
) -> Iterator[Stack]:
    """`python -m pix_stack run` as `make run` starts it, with `settings` in its environment
    (what an operator sets); the embedded parts whose setting is given are not started."""
    port_base = free_port_base()
    kafka_port = free_port()
    admin_password = secrets.token_urlsafe(16)
    # The stack brings its own embedded PostgreSQL, Tansu and storage, as `make run` does: the
    # session's infrastructure (set in the environment by `platform_env`) is not handed down.
    inherited = {k: v for k, v in os.environ.items() if k not in EMBEDDED_SETTINGS}
    env = {
        **inherited,
        "PIX_ADMIN_EMAIL": "admin@pix.immo",
        "PIX_ADMIN_PASSWORD": admin_password,
        "PIX_LOG_JSON": "true",
        # Lets webhooks reach a receiver on 127.0.0.1 in the browser tests.
        "PIX_EXPORT_ALLOW_INSECURE_WEBHOOKS": "true",
        # Every test registers its own agency from 127.0.0.1; the limits themselves are tested
        # in tests/auth against the defaults.
        "PIX_AUTH_RATE_LIMITS": '{"login-ip": "1000/minute", "login-account": "50/minute", '
        '"register-ip": "1000/hour", "reset-ip": "1000/hour", "reset-account": "50/hour"}',
        **(settings or {}),
    }
    log = data_dir / "stack.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pix_stack",
                "run",
                "--data-dir",
                str(data_dir),
                "--port-base",
                str(port_base),
                "--kafka-port",
                str(kafka_port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = Stack(
        base_url=f"http://localhost:{port_base}",
        port_base=port_base,
        data_dir=data_dir,
        kafka_bootstrap=f"127.0.0.1:{kafka_port}",
        admin_email="admin@pix.immo",
        admin_password=admin_password,
        log=log,
    )
    try:
        wait_until_ready(stack, process, timeout=timeout)
        yield stack
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def failure_report(log: Path) -> str:
    """What a failed start-up needs to be understood: every error line of the whole log (a
    service that died first is named at the top, not cut off), then its tail."""
    lines = log.read_text(errors="replace").splitlines()
    marks = ("error", "Traceback", "exited", "Exception", "fatal")
    errors = [line[:400] for line in lines if any(mark in line for mark in marks)]
    return "\n".join(["-- error lines --", *errors[:80], "-- tail --", *lines[-60:]])


def wait_until_ready(stack: Stack, process: subprocess.Popen[bytes], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = set(SERVICE_OFFSETS)
    while pending:
        if process.poll() is not None:
            raise RuntimeError(f"stack exited early:\n{failure_report(stack.log)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"not ready: {pending}\n{failure_report(stack.log)}")
        for offset in list(pending):
            try:
                response = httpx.get(f"{stack.service_url(offset)}/readyz", timeout=1.0)
                if response.status_code == 200:
                    pending.discard(offset)
            except httpx.HTTPError:
                pass
        time.sleep(0.25)
