"""The stack as `make run` starts it, but on production's parts: a PostgreSQL server of its own
(Debian's `postgresql` package, started here) and S3 (moto's server, a separate process with
moto's blanket CORS switched off, so only the bucket's own CORS rule lets a browser in).

Used by tests/e2e/test_production_parts.py and tests/browser/test_s3_upload_browser.py.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from pix_stack.embedded import free_port, wait_for_port
from stack import Stack, run_stack

BUCKET = "pix-production-test"
REGION = "eu-central-1"
S3_KEYS = {"PIX_S3_ACCESS_KEY_ID": "testing", "PIX_S3_SECRET_ACCESS_KEY": "testing"}
APT_TIMEOUT = 900


@dataclass(frozen=True)
class MotoS3:
    endpoint: str
    bucket: str

    @property
    def storage_url(self) -> str:
        return f"s3://{self.bucket}?endpoint={self.endpoint}&region={REGION}"

    def client(self) -> object:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=S3_KEYS["PIX_S3_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_KEYS["PIX_S3_SECRET_ACCESS_KEY"],
        )


@contextmanager
def moto_s3(log_dir: Path) -> Iterator[MotoS3]:
    """moto's S3 server on a free port with one empty bucket."""
    port = free_port()
    env = {**os.environ, "MOTO_DISABLE_GLOBAL_CORS": "true"}
    with (log_dir / "moto.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, timeout=60)
        s3 = MotoS3(f"http://127.0.0.1:{port}", BUCKET)
        s3.client().create_bucket(  # type: ignore[attr-defined]
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield s3
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_stack_with(data_dir: Path, settings: dict[str, str]) -> Iterator[Stack]:
    # Migrating every schema over TCP on a loaded machine takes longer than on the socket.
    yield from run_stack(data_dir, settings, timeout=240)


# --- Debian's PostgreSQL ---------------------------------------------------------------------


def _debian_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin with a server in it."""
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/postgres")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return found[-1] if found else None


def _apt(*args: str) -> bool:
    """Run apt-get as root (as `make chromium` does); False where that is impossible."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(
            ["apt-get", *args], env=env, capture_output=True, timeout=APT_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def _apt_knows(package: str) -> bool:
    if shutil.which("apt-cache") is None:
        return False
    shown = subprocess.run(
        ["apt-cache", "show", package], capture_output=True, timeout=60, check=False
    )
    return shown.returncode == 0 and b"Package:" in shown.stdout


def debian_postgresql() -> tuple[Path, bool]:
    """Debian's PostgreSQL server binaries (installed here where missing) and whether its
    `vector` extension (pgvector, Debian's `postgresql-<version>-pgvector`) is installed.
    Skips the test when the server cannot be had."""
    bin_dir = _debian_bin()
    if bin_dir is None:
        if not _apt_knows("postgresql"):
            _apt("update", "-qq")
        if not _apt("install", "-y", "-qq", "postgresql"):
            pytest.skip(
                "Debian's PostgreSQL is not installed and `apt-get install postgresql` was "
                "not possible here (needs root and Debian's package lists)"
            )
        bin_dir = _debian_bin()
        if bin_dir is None:
            pytest.skip("apt-get installed postgresql but no /usr/lib/postgresql/*/bin/postgres")
    version = bin_dir.parent.name
    control = Path(f"/usr/share/postgresql/{version}/extension/vector.control")
    if not control.exists():
        package = f"postgresql-{version}-pgvector"
        if _apt_knows(package):
            _apt("install", "-y", "-qq", package)
    return bin_dir, control.exists()


@dataclass
class DebianPostgres:
    bin_dir: Path
    version: str
    port: int
    has_vector: bool

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/pix"


@contextmanager
def debian_postgres_server() -> Iterator[DebianPostgres]:
    """A fresh cluster (initdb) of Debian's PostgreSQL on a free port in a temp dir, run as the
    `postgres` system user when we are root (the server refuses to run as root)."""
    bin_dir, has_vector = debian_postgresql()
    root = Path(tempfile.mkdtemp(prefix="pix-debian-pg-"))
    root.chmod(0o755)
    data, sockets = root / "data", root / "run"
    data.mkdir()
    sockets.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            pytest.skip("Debian's PostgreSQL is installed without its `postgres` system user")
        for path in (data, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, timeout=120)

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(sockets / "server.log"),
        "-w",
        "-t",
        "120",
        "-o",
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=300",
        "start",
    )
    try:
        run(
            str(bin_dir / "psql") if (bin_dir / "psql").exists() else "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-c",
            "CREATE DATABASE pix",
        )
        yield DebianPostgres(bin_dir, bin_dir.parent.name, port, has_vector)
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=120,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)
