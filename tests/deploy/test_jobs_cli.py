"""`pix-stack jobs`: an operator lists a service's failed jobs and retries one."""

from __future__ import annotations

import subprocess
import sys

from pix_notify.models import jobs
from pix_runtime.db import Database
from pix_stack.embedded import EmbeddedPostgres
from sqlalchemy import func, select


def _stack(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pix_stack", "jobs", *args, "--database-url", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_failed_jobs_are_listed_and_retried(
    postgres: EmbeddedPostgres, migrated: set[str]
) -> None:
    db = Database(postgres.url, schema="notify", application_name="test")
    try:
        async with db.transaction() as session:
            job_id = await session.scalar(
                jobs.insert()
                .values(
                    kind="cli.example",
                    payload={},
                    status="failed",
                    attempts=5,
                    run_at=func.now(),
                    last_error="ValueError: the provider said no",
                )
                .returning(jobs.c.id)
            )
        listed = _stack("list", "notify", "--status", "failed", url=postgres.url)
        assert listed.returncode == 0, listed.stderr
        assert "cli.example" in listed.stdout
        assert "the provider said no" in listed.stdout
        retried = _stack("retry", "notify", str(job_id), url=postgres.url)
        assert retried.returncode == 0, retried.stderr
        assert _stack("retry", "notify", str(job_id), url=postgres.url).returncode == 1
        async with db.transaction() as session:
            status = await session.scalar(select(jobs.c.status).where(jobs.c.id == job_id))
            await session.execute(jobs.delete().where(jobs.c.id == job_id))
        assert status == "queued"
    finally:
        await db.dispose()
