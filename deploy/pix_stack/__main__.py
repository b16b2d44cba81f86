"""`make run`: the whole platform on one machine, each service its own process.

    pix-stack run [--data-dir .pix] [--port-base 8000] [--caption-workers 1]
    pix-stack migration pix_orders -m "what changed"      # autogenerate a migration

Order of start: embedded PostgreSQL (data in the data dir, reused by the next run), the Tansu
broker (memory only, loopback), topics, then every service under honcho — each migrates its own
schema first — with the gateway last in the list. Ctrl-C stops the services, then Tansu and
PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from honcho.manager import Manager

from pix_stack.embedded import EmbeddedPostgres, Tansu, free_port, start_postgres, start_tansu


@dataclass(frozen=True)
class ServiceProcess:
    name: str
    entry_point: str
    port_offset: int


SERVICES = (
    ServiceProcess("auth", "pix-auth", 1),
    ServiceProcess("orders", "pix-orders", 2),
    ServiceProcess("media", "pix-media", 3),
    ServiceProcess("export", "pix-export", 5),
    ServiceProcess("notify", "pix-notify", 6),
    ServiceProcess("leads", "pix-leads", 7),
    ServiceProcess("listings", "pix-listings", 8),
    ServiceProcess("billing", "pix-billing", 21),
    ServiceProcess("assistant", "pix-assistant", 22),
    ServiceProcess("gateway", "pix-gateway", 0),
)
CAPTIONING = ServiceProcess("captioning", "pix-captioning", 4)
# Further caption workers take ports from here on (port_base + 10, + 11, …).
EXTRA_WORKER_OFFSET = 10
# The leads service's SMTP intake for forwarded portal emails (8025 with the default base).
LEADS_SMTP_OFFSET = 25
# The gateway's metrics, off its public port.
GATEWAY_METRICS_OFFSET = 9


def internal_key(data_dir: Path) -> str:
    """The key that signs identities and URLs: from the environment, else one kept per data dir."""
    if key := os.environ.get("PIX_INTERNAL_KEY"):
        return key
    path = data_dir / "internal.key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def stack_environment(
    *, data_dir: Path, database_url: str, bootstrap: str, storage_url: str, port_base: int
) -> dict[str, str]:
    """What the runner sets for every process; a variable already in the environment wins
    (`run` merges the environment over this), so every setting can be swapped."""
    host = "http://127.0.0.1"
    env = {
        "PIX_DATABASE_URL": database_url,
        "PIX_KAFKA_BOOTSTRAP": bootstrap,
        "PIX_STORAGE_URL": storage_url,
        "PIX_INTERNAL_KEY": internal_key(data_dir),
        "PIX_PUBLIC_URL": f"http://localhost:{port_base}",
        "PIX_NOTIFY_OUTBOX_DIR": str((data_dir / "mail").resolve()),
        "PIX_LEADS_SMTP_PORT": str(port_base + LEADS_SMTP_OFFSET),
        "PIX_GATEWAY_METRICS_PORT": str(port_base + GATEWAY_METRICS_OFFSET),
    }
    for service in (*SERVICES, CAPTIONING):
        env[f"PIX_{service.name.upper()}_PORT"] = str(port_base + service.port_offset)
        if service.name != "gateway":
            env[f"PIX_{service.name.upper()}_URL"] = f"{host}:{port_base + service.port_offset}"
    return env


@dataclass
class Infrastructure:
    """What the stack runs on: each part embedded unless its setting names a real one."""

    database_url: str
    bootstrap: str
    storage_url: str
    postgres: EmbeddedPostgres | None = None
    tansu: Tansu | None = None

    def describe(self) -> str:
        def origin(embedded: object) -> str:
            return "embedded" if embedded is not None else "from the environment"

        database = self.database_url.split("@")[-1]  # never print a password
        tansu = " (Tansu, memory only)" if self.tansu else ""
        return (
            f"  PostgreSQL     {database}  ({origin(self.postgres)})\n"
            f"  Kafka          {self.bootstrap}{tansu}  ({origin(self.tansu)})\n"
            f"  storage        {self.storage_url}"
        )

    def stop(self) -> None:
        if self.tansu:
            self.tansu.stop()
        if self.postgres:
            self.postgres.stop()


def start_infrastructure(
    data_dir: Path, environ: Mapping[str, str], kafka_port: int | None
) -> Infrastructure:
    """Start embedded PostgreSQL and Tansu only where `PIX_DATABASE_URL` and
    `PIX_KAFKA_BOOTSTRAP` are absent; `PIX_STORAGE_URL` defaults to a folder in the data dir."""
    storage = environ.get("PIX_STORAGE_URL") or f"file://{(data_dir / 'storage').resolve()}"
    infra = Infrastructure(
        database_url=environ.get("PIX_DATABASE_URL", ""),
        bootstrap=environ.get("PIX_KAFKA_BOOTSTRAP", ""),
        storage_url=storage,
    )
    try:
        if not infra.database_url:
            print(f"pix.immo: starting PostgreSQL in {data_dir / 'postgres'} …", flush=True)
            infra.postgres = start_postgres(data_dir / "postgres")
            infra.database_url = infra.postgres.url
        if not infra.bootstrap:
            infra.tansu = start_tansu(
                kafka_port or free_port(), log_file=data_dir / "logs" / "tansu.log"
            )
            infra.bootstrap = infra.tansu.bootstrap
    except BaseException:
        infra.stop()
        raise
    return infra


def run(data_dir: Path, port_base: int, caption_workers: int, kafka_port: int | None) -> int:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "logs").mkdir(exist_ok=True)
    infra = start_infrastructure(data_dir, os.environ, kafka_port)
    try:
        env = {
            **stack_environment(
                data_dir=data_dir,
                database_url=infra.database_url,
                bootstrap=infra.bootstrap,
                storage_url=infra.storage_url,
                port_base=port_base,
            ),
            **os.environ,
        }
        if infra.tansu:
            # Tansu answers a fetch only when its wait runs out: short waits keep latency low.
            env.setdefault("PIX_KAFKA_FETCH_MAX_WAIT_MS", "20")
        bin_dir = Path(sys.executable).parent
        manager = Manager()
        for service in SERVICES[:-1]:
            service_env = {**env, "PIX_KAFKA_INSTANCE_ID": service.name}
            manager.add_process(
                service.name, f"exec {bin_dir / service.entry_point}", env=service_env
            )
        for index in range(caption_workers):
            # A stable name per worker: restarted, it rejoins its group as the same member.
            worker_env = {**env, "PIX_KAFKA_INSTANCE_ID": f"captioning.{index + 1}"}
            if index:
                worker_env["PIX_CAPTIONING_PORT"] = str(port_base + EXTRA_WORKER_OFFSET + index)
            manager.add_process(
                f"captioning.{index + 1}",
                f"exec {bin_dir / CAPTIONING.entry_point}",
                env=worker_env,
            )
        gateway = SERVICES[-1]
        manager.add_process(gateway.name, f"exec {bin_dir / gateway.entry_point}", env=env)
        ports = "  ".join(f"{s.name} :{env[f'PIX_{s.name.upper()}_PORT']}" for s in SERVICES[:-1])
        print(
            f"""
pix.immo is starting:
  web UI + API   {env["PIX_PUBLIC_URL"]}
  services       {ports}
                 captioning :{env["PIX_CAPTIONING_PORT"]} (x{caption_workers})
                 leads SMTP intake :{env["PIX_LEADS_SMTP_PORT"]}
                 (each has /healthz, /readyz, /metrics)
{infra.describe()}
  dev mail       {env["PIX_NOTIFY_OUTBOX_DIR"]}  and  {env["PIX_PUBLIC_URL"]}/admin/mail
Ctrl-C stops everything.
""",
            flush=True,
        )
        manager.loop()
        # Ctrl-C or SIGTERM is how the stack is meant to stop: that is success.
        return 0 if manager.returncode in (None, 130, 143) else manager.returncode
    finally:
        infra.stop()
        print("pix.immo: stopped.", flush=True)


def migration(package: str, message: str, data_dir: Path) -> None:
    from pix_runtime.migrations import autogenerate_revision, upgrade_to_head

    postgres = start_postgres(data_dir / "postgres")
    try:
        schema = package.removeprefix("pix_")
        # Compare the models against the schema as the existing revisions leave it.
        asyncio.run(upgrade_to_head(postgres.url, package, schema))
        asyncio.run(autogenerate_revision(postgres.url, package, schema, message))
    finally:
        postgres.stop()


async def storage_setup() -> int:
    """Apply the bucket's CORS (origins: PIX_PUBLIC_URL) and multipart lifecycle rule."""
    from pix_runtime.settings import PlatformSettings
    from pix_runtime.storage import S3Storage, open_storage

    platform = PlatformSettings()
    storage = open_storage(
        platform.storage_url, public_base=platform.public_url, signing_key=b"unused"
    )
    if not isinstance(storage, S3Storage):
        print("pix-stack storage setup: PIX_STORAGE_URL is not s3://…; nothing to set up")
        return 0
    origin = platform.public_url.rstrip("/")
    applied = await storage.prepare_for_browsers([origin])
    rule = applied["cors"]["CORSRules"][0]
    print(
        f"bucket {storage.bucket}: CORS for {', '.join(rule['AllowedOrigins'])} "
        f"({', '.join(rule['AllowedMethods'])}; exposes {', '.join(rule['ExposeHeaders'])}); "
        "incomplete multipart uploads aborted after 1 day"
    )
    return 0


async def jobs_command(args: argparse.Namespace) -> int:
    """`pix-stack jobs list|counts|retry <service>` against the service's own schema."""
    from pix_runtime.db import Database
    from pix_runtime.jobs import JobBoard, jobs_table
    from sqlalchemy import MetaData

    if not args.database_url:
        print("pix-stack jobs: set PIX_DATABASE_URL or pass --database-url", file=sys.stderr)
        return 2
    db = Database(args.database_url, schema=args.service, application_name="pix-stack")
    board = JobBoard(db, jobs_table(MetaData(schema=args.service)))
    try:
        if args.action == "counts":
            for counts in await board.counts():
                print(f"{counts.kind:40} {counts.status:10} {counts.count}")
        elif args.action == "list":
            for job in await board.find(status=args.status, limit=200):
                error = (job.last_error or "").splitlines()[-1:] or [""]
                print(
                    f"{job.id:>8} {job.kind:32} {job.status:9} attempts={job.attempts} "
                    f"due={job.run_at:%Y-%m-%d %H:%M:%S} {error[0][:100]}"
                )
        elif args.job_id is None:
            print("pix-stack jobs retry: name the job id", file=sys.stderr)
            return 2
        elif await board.retry(args.job_id):
            print(f"job {args.job_id} queued again")
        else:
            print(f"job {args.job_id} is not a failed job of {args.service}", file=sys.stderr)
            return 1
    finally:
        await db.dispose()
    return 0


def _operator_headers(data_dir: Path) -> dict[str, str]:
    """An admin identity signed with the stack's internal key, as the gateway would sign it."""
    import uuid

    from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity

    key = os.environ.get("PIX_INTERNAL_KEY")
    if not key and (data_dir / "internal.key").exists():
        key = (data_dir / "internal.key").read_text().strip()
    if not key:
        raise SystemExit("pix-stack dlq replay: set PIX_INTERNAL_KEY (or pass --data-dir)")
    operator = Identity(
        user_id=uuid.UUID(int=0),
        org_id=uuid.UUID(int=0),
        role="admin",
        email="operator@pix-stack.invalid",
        name="pix-stack",
    )
    return {IDENTITY_HEADER: sign_identity(operator, key.encode())}


def _service_url(service: str, port_base: int) -> str:
    if url := os.environ.get(f"PIX_{service.upper()}_URL"):
        return url
    offsets = {s.name: s.port_offset for s in (*SERVICES, CAPTIONING)}
    if service not in offsets:
        raise SystemExit(
            f"pix-stack dlq: no port known for {service}; set PIX_{service.upper()}_URL"
        )
    return f"http://127.0.0.1:{port_base + offsets[service]}"


async def dlq_command(args: argparse.Namespace) -> int:
    """`pix-stack dlq list [service]` reads the services' `dead_letters` tables (the service
    need not run); `pix-stack dlq replay <service> [id]` asks the running service to replay one
    letter, or every open one, to the group that failed (its admin API)."""
    import httpx
    from pix_runtime.db import Database
    from pix_runtime.dead_letters import DeadLetterStore, dead_letters_table
    from sqlalchemy import MetaData, text

    if args.action == "replay":
        if not args.service:
            print("pix-stack dlq replay: name the service, e.g. media", file=sys.stderr)
            return 2
        base = f"{_service_url(args.service, args.port_base)}/admin/dead-letters"
        headers = _operator_headers(args.data_dir)
        async with httpx.AsyncClient(headers=headers, timeout=300) as client:
            if args.letter_id is not None:
                response = await client.post(f"{base}/{args.letter_id}/replay")
            else:
                params = {k: v for k, v in (("topic", args.topic), ("group", args.group)) if v}
                response = await client.post(f"{base}/replay-all", params=params)
        if response.status_code != 200:
            print(f"{args.service}: {response.status_code} {response.text}", file=sys.stderr)
            return 1
        answer = response.json()
        for outcome in answer.get("outcomes", [answer]):
            result = "replayed" if outcome["replayed"] else f"failed again: {outcome['error']}"
            print(f"{args.service} letter {outcome['id']}: {result}")
        return 0
    if not args.database_url:
        print("pix-stack dlq list: set PIX_DATABASE_URL or pass --database-url", file=sys.stderr)
        return 2
    db = Database(args.database_url, schema="public", application_name="pix-stack")
    try:
        async with db.transaction() as session:
            schemas = (
                [args.service]
                if args.service
                else list(
                    await session.scalars(
                        text(
                            "SELECT table_schema FROM information_schema.tables"
                            " WHERE table_name = 'dead_letters' ORDER BY table_schema"
                        )
                    )
                )
            )
        for schema in schemas:
            store = DeadLetterStore(db, dead_letters_table(MetaData(schema=schema)))
            letters = await store.find(
                status=args.status, topic=args.topic, group=args.group, limit=500
            )
            for letter in letters:
                error = letter.error.splitlines()[0] if letter.error else ""
                print(
                    f"{schema:11} {letter.id:>6} {letter.status:9} {letter.consumer_group:24} "
                    f"{letter.topic:36} attempts={letter.attempts} "
                    f"last={letter.last_failed_at:%Y-%m-%d %H:%M:%S} {error[:100]}"
                )
    finally:
        await db.dispose()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="pix-stack", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="start the whole platform")
    run_cmd.add_argument("--data-dir", type=Path, default=Path(".pix"))
    run_cmd.add_argument("--port-base", type=int, default=8000)
    run_cmd.add_argument("--caption-workers", type=int, default=1)
    run_cmd.add_argument("--kafka-port", type=int, default=None)
    mig = commands.add_parser("migration", help="autogenerate a migration for one service")
    mig.add_argument("package")
    mig.add_argument("-m", "--message", required=True)
    mig.add_argument("--data-dir", type=Path, default=Path(".pix"))
    dlq = commands.add_parser(
        "dlq", help="list dead letters, or replay them to the consumer group that failed"
    )
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("service", nargs="?", help="the service (its schema), e.g. media")
    dlq.add_argument("letter_id", nargs="?", type=int, help="replay: one letter (else all open)")
    dlq.add_argument("--topic", help="only letters of this source topic")
    dlq.add_argument("--group", help="only letters of this consumer group")
    dlq.add_argument("--status", choices=["open", "replayed", "discarded"], default="open")
    dlq.add_argument("--database-url", default=os.environ.get("PIX_DATABASE_URL"))
    dlq.add_argument("--port-base", type=int, default=8000)
    dlq.add_argument("--data-dir", type=Path, default=Path(".pix"))
    docs = commands.add_parser("asyncapi", help="write or check contracts/asyncapi/*.yaml")
    docs.add_argument("action", choices=["write", "check"])
    jobs = commands.add_parser("jobs", help="list a service's jobs or retry a failed one")
    jobs.add_argument("action", choices=["list", "counts", "retry"])
    jobs.add_argument("service", help="the service (its schema), e.g. notify")
    jobs.add_argument("job_id", nargs="?", type=int, help="for retry: the failed job's id")
    jobs.add_argument("--status", choices=["queued", "running", "done", "failed", "cancelled"])
    jobs.add_argument("--database-url", default=os.environ.get("PIX_DATABASE_URL"))
    storage = commands.add_parser(
        "storage", help="set up the S3/R2/MinIO bucket for browsers (CORS, multipart cleanup)"
    )
    storage.add_argument("action", choices=["setup"])
    topics = commands.add_parser("topics", help="write or check deploy/k8s/kafka-topics.yaml")
    topics.add_argument("action", choices=["write", "check"])
    args = parser.parse_args()
    if args.command == "run":
        sys.exit(run(args.data_dir, args.port_base, args.caption_workers, args.kafka_port))
    if args.command == "dlq":
        sys.exit(asyncio.run(dlq_command(args)))
    if args.command == "jobs":
        sys.exit(asyncio.run(jobs_command(args)))
    if args.command == "storage":
        sys.exit(asyncio.run(storage_setup()))
    if args.command == "topics":
        from pix_stack import kafka_topics

        if args.action == "write":
            kafka_topics.write()
        elif kafka_topics.drifted():
            sys.exit("deploy/k8s/kafka-topics.yaml drifted from pix_contracts; run make topics")
        return
    if args.command == "asyncapi":
        from pix_stack import asyncapi

        if args.action == "write":
            asyncapi.write()
        elif stale := asyncapi.drifted():
            sys.exit(f"AsyncAPI documents drifted from the code: {stale}; run make asyncapi")
        return
    migration(args.package, args.message, args.data_dir)


if __name__ == "__main__":
    main()
