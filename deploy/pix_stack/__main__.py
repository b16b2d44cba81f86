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
from dataclasses import dataclass
from pathlib import Path

from honcho.manager import Manager

from pix_stack.embedded import free_port, start_postgres, start_tansu


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
    ServiceProcess("gateway", "pix-gateway", 0),
)
CAPTIONING = ServiceProcess("captioning", "pix-captioning", 4)
# Further caption workers take ports from here on (port_base + 10, + 11, …).
EXTRA_WORKER_OFFSET = 10


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
    *, data_dir: Path, database_url: str, bootstrap: str, port_base: int
) -> dict[str, str]:
    host = "http://127.0.0.1"
    env = {
        "PIX_DATABASE_URL": database_url,
        "PIX_KAFKA_BOOTSTRAP": bootstrap,
        "PIX_STORAGE_URL": f"file://{(data_dir / 'storage').resolve()}",
        "PIX_INTERNAL_KEY": internal_key(data_dir),
        "PIX_PUBLIC_URL": f"http://localhost:{port_base}",
        "PIX_NOTIFY_OUTBOX_DIR": str((data_dir / "mail").resolve()),
        "PIX_AUTH_URL": f"{host}:{port_base + 1}",
        "PIX_ORDERS_URL": f"{host}:{port_base + 2}",
        "PIX_MEDIA_URL": f"{host}:{port_base + 3}",
        "PIX_CAPTIONING_URL": f"{host}:{port_base + 4}",
        "PIX_EXPORT_URL": f"{host}:{port_base + 5}",
        "PIX_NOTIFY_URL": f"{host}:{port_base + 6}",
    }
    for service in (*SERVICES, CAPTIONING):
        env[f"PIX_{service.name.upper()}_PORT"] = str(port_base + service.port_offset)
    return env


def run(data_dir: Path, port_base: int, caption_workers: int, kafka_port: int | None) -> int:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "logs").mkdir(exist_ok=True)
    print(f"pix.immo: starting PostgreSQL in {data_dir / 'postgres'} …", flush=True)
    postgres = start_postgres(data_dir / "postgres")
    tansu = None
    try:
        port = kafka_port or free_port()
        tansu = start_tansu(port, log_file=data_dir / "logs" / "tansu.log")
        env = {
            **os.environ,
            **stack_environment(
                data_dir=data_dir,
                database_url=postgres.url,
                bootstrap=tansu.bootstrap,
                port_base=port_base,
            ),
        }
        bin_dir = Path(sys.executable).parent
        manager = Manager()
        for service in SERVICES[:-1]:
            manager.add_process(service.name, f"exec {bin_dir / service.entry_point}", env=env)
        for index in range(caption_workers):
            worker_env = dict(env)
            if index:
                worker_env["PIX_CAPTIONING_PORT"] = str(port_base + EXTRA_WORKER_OFFSET + index)
            manager.add_process(
                f"captioning.{index + 1}",
                f"exec {bin_dir / CAPTIONING.entry_point}",
                env=worker_env,
            )
        gateway = SERVICES[-1]
        manager.add_process(gateway.name, f"exec {bin_dir / gateway.entry_point}", env=env)

        print(
            f"""
pix.immo is starting:
  web UI + API   http://localhost:{port_base}
  services       auth :{port_base + 1}  orders :{port_base + 2}  media :{port_base + 3}
                 captioning :{port_base + 4} (x{caption_workers})  export :{port_base + 5}
                 notify :{port_base + 6}   (each has /healthz, /readyz, /metrics)
  PostgreSQL     {postgres.url}
  Kafka (Tansu)  {tansu.bootstrap}  (memory only)
  storage        {env["PIX_STORAGE_URL"]}
  dev mail       {env["PIX_NOTIFY_OUTBOX_DIR"]}  and  http://localhost:{port_base}/admin/mail
Ctrl-C stops everything.
""",
            flush=True,
        )
        manager.loop()
        # Ctrl-C or SIGTERM is how the stack is meant to stop: that is success.
        return 0 if manager.returncode in (None, 130, 143) else manager.returncode
    finally:
        if tansu:
            tansu.stop()
        postgres.stop()
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
    dlq = commands.add_parser("dlq", help="list or replay a topic's dead letters")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("topic", help="the source topic, e.g. media.asset.uploaded.v1")
    dlq.add_argument("--bootstrap", default=os.environ.get("PIX_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    docs = commands.add_parser("asyncapi", help="write or check contracts/asyncapi/*.yaml")
    docs.add_argument("action", choices=["write", "check"])
    args = parser.parse_args()
    if args.command == "run":
        sys.exit(run(args.data_dir, args.port_base, args.caption_workers, args.kafka_port))
    if args.command == "dlq":
        from pix_runtime.dead_letters import list_dead_letters, replay_dead_letters

        if args.action == "list":
            for letter in asyncio.run(list_dead_letters(args.bootstrap, args.topic)):
                print(f"{letter.partition}:{letter.offset}  {letter.error[:160]}")
        else:
            count = asyncio.run(replay_dead_letters(args.bootstrap, args.topic))
            print(f"replayed {count} dead letter(s) to {args.topic}")
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
