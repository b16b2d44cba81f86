"""The platform with every process started by itself, so a test can kill and restart any one
of them: a service, the broker (a new, empty Tansu on the same port) or the database.

`make run` supervises the services with honcho, which stops everything when one dies; an
operator's platform (Kubernetes, systemd) restarts the one that died instead, and that is what
the fault suite does here.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pix_stack.__main__ import CAPTIONING, SERVICES, stack_environment
from pix_stack.embedded import EmbeddedPostgres, Tansu, free_port, start_postgres, start_tansu
from stack import EMBEDDED_SETTINGS, free_port_base

BIN = Path(sys.executable).parent
NAMES = [s.name for s in SERVICES[:-1]] + ["captioning", "gateway"]


@dataclass
class FaultStack:
    data_dir: Path
    port_base: int
    kafka_port: int
    env: dict[str, str]
    postgres: EmbeddedPostgres
    tansu: Tansu
    admin_email: str
    admin_password: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://localhost:{self.port_base}"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    def port(self, name: str) -> int:
        return int(self.env[f"PIX_{name.upper()}_PORT"])

    # --- services --------------------------------------------------------------------------

    def start(self, name: str) -> None:
        entry = CAPTIONING if name == "captioning" else next(s for s in SERVICES if s.name == name)
        env = {**self.env, "PIX_KAFKA_INSTANCE_ID": name}
        log = (self.data_dir / "logs" / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [BIN / entry.entry_point], env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def kill(self, name: str) -> None:
        """As a crash: SIGKILL, no clean shutdown."""
        process = self.processes.pop(name)
        process.kill()
        process.wait()

    def wait_ready(self, *names: str, timeout: float = 300) -> float:
        """Seconds until every named process answers `/readyz`."""
        started = time.monotonic()
        pending = set(names or self.processes)
        restarts: dict[str, int] = {}
        while pending:
            for name in list(pending):
                process = self.processes.get(name)
                if process is not None and process.poll() is not None:
                    # As an orchestrator would: a process that died on its way up is started
                    # again, a few times.
                    restarts[name] = restarts.get(name, 0) + 1
                    if restarts[name] > 3:
                        raise RuntimeError(f"{name} exited:\n{self.log_tail(name)}")
                    self.start(name)
                try:
                    url = f"http://127.0.0.1:{self.port(name)}/readyz"
                    if httpx.get(url, timeout=1.0).status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            if time.monotonic() - started > timeout:
                tails = "\n".join(self.log_tail(n) for n in pending)
                raise TimeoutError(f"not ready: {pending}\n{tails}")
            time.sleep(0.1)
        return time.monotonic() - started

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.data_dir / "logs" / f"{name}.log"
        return f"--- {name}\n" + (
            path.read_text(errors="replace")[-chars:] if path.exists() else ""
        )

    # --- infrastructure ------------------------------------------------------------------------

    def kill_broker(self) -> None:
        """kill -9 the broker: it kept everything in memory, so all of it is gone."""
        self.tansu.process.kill()
        self.tansu.process.wait()

    def start_broker(self) -> None:
        """A new, empty broker where the old one listened."""
        self.tansu = start_tansu(self.kafka_port, log_file=self.data_dir / "logs" / "tansu.log")

    def stop_database(self) -> None:
        self.postgres.stop()

    def start_database(self) -> None:
        self.postgres = start_postgres(self.data_dir / "postgres")

    def stop(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        self.tansu.stop()
        self.postgres.stop()


@contextmanager
def fault_stack(data_dir: Path) -> Iterator[FaultStack]:
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    port_base = free_port_base()
    kafka_port = free_port()
    postgres = start_postgres(data_dir / "postgres")
    tansu = start_tansu(kafka_port, log_file=data_dir / "logs" / "tansu.log")
    admin_password = secrets.token_urlsafe(16)
    inherited = {k: v for k, v in os.environ.items() if k not in EMBEDDED_SETTINGS}
    env = {
        **inherited,
        **stack_environment(
            data_dir=data_dir,
            database_url=postgres.url,
            bootstrap=tansu.bootstrap,
            storage_url=f"file://{(data_dir / 'storage').resolve()}",
            port_base=port_base,
        ),
        "PIX_ADMIN_EMAIL": "admin@pix.immo",
        "PIX_ADMIN_PASSWORD": admin_password,
        "PIX_LOG_JSON": "true",
        "PIX_KAFKA_FETCH_MAX_WAIT_MS": "20",
        "PIX_AUTH_RATE_LIMITS": '{"login-ip": "1000/minute", "login-account": "50/minute", '
        '"register-ip": "1000/hour", "reset-ip": "1000/hour", "reset-account": "50/hour"}',
    }
    stack = FaultStack(
        data_dir=data_dir,
        port_base=port_base,
        kafka_port=kafka_port,
        env=env,
        postgres=postgres,
        tansu=tansu,
        admin_email="admin@pix.immo",
        admin_password=admin_password,
    )
    try:
        for name in NAMES:
            stack.start(name)
        stack.wait_ready()
        yield stack
    finally:
        stack.stop()
