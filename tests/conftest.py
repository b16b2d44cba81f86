"""Session-wide real infrastructure: embedded PostgreSQL and the Tansu broker.

Both start once per test session on free ports in temp dirs and are stopped at the end.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pix_stack.embedded import EmbeddedPostgres, Tansu, free_port, start_postgres, start_tansu
from stack import Stack, run_stack

# Every test process signs with a random key; nothing real is ever used in tests.
os.environ.setdefault("PIX_INTERNAL_KEY", secrets.token_urlsafe(32))
os.environ.setdefault("PIX_ENV", "test")


@pytest.fixture(scope="session")
def scratch() -> Iterator[Path]:
    """A temp dir outside pytest's own: pytest keeps /tmp/pytest-of-<user> at mode 0700 (and
    re-applies it when another pytest starts), which locks out the system user that embedded
    PostgreSQL runs as when the tests run as root."""
    path = Path(tempfile.mkdtemp(prefix="pix-tests-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(scratch: Path) -> Iterator[EmbeddedPostgres]:
    server = start_postgres(scratch / "pg" / "data")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tansu]:
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    broker = start_tansu(free_port(), log_file=log)
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def storage_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("storage")


@pytest.fixture(scope="session")
def platform_env(
    postgres: EmbeddedPostgres, tansu: Tansu, storage_root: Path
) -> Iterator[dict[str, str]]:
    """Point every service built in this process at the session's infrastructure."""
    env = {
        "PIX_DATABASE_URL": postgres.url,
        "PIX_KAFKA_BOOTSTRAP": tansu.bootstrap,
        "PIX_STORAGE_URL": f"file://{storage_root}",
        "PIX_PUBLIC_URL": "http://testserver",
        # The session broker is Tansu, which answers a fetch only when its wait runs out.
        "PIX_KAFKA_FETCH_MAX_WAIT_MS": "20",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
async def migrated(postgres: EmbeddedPostgres, platform_env: dict[str, str]) -> set[str]:
    """Every service's schema, migrated once per session exactly as the services do at start."""
    from pix_runtime.migrations import upgrade_to_head

    packages = [
        "pix_auth",
        "pix_orders",
        "pix_media",
        "pix_captioning",
        "pix_export",
        "pix_notify",
        "pix_leads",
        "pix_listings",
        "pix_assistant",
        "pix_billing",
    ]
    for package in packages:
        await upgrade_to_head(postgres.url, package, package.removeprefix("pix_"))
    return set(packages)


@pytest.fixture(scope="session")
def stack(scratch: Path) -> Iterator[Stack]:
    """The whole platform as `make run` starts it, once per session (e2e and browser tests)."""
    data_dir = scratch / "stack"
    data_dir.mkdir()
    yield from run_stack(data_dir)
