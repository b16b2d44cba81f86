"""Alembic per service: each service migrates its own schema at start.

The version table lives in the service's schema. An advisory lock serialises concurrent starts
(several caption workers come up at once). Each service's `migrations/env.py` calls `run_env`.

    python -m pix_runtime.migrations revision pix_orders -m "add notes"   # autogenerate
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import create_async_engine


def _config(package: str, schema: str) -> Config:
    module = importlib.import_module(package)
    assert module.__file__ is not None
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(module.__file__).parent / "migrations"))
    cfg.attributes["schema"] = schema
    return cfg


def create_extension(name: str) -> None:
    """`CREATE EXTENSION IF NOT EXISTS`, in a migration, safe when services migrate at once.

    An extension belongs to the database, not to a schema: two services creating the same one
    at the same start (listings and leads both use pgvector) race past IF NOT EXISTS and one
    fails on pg_extension's unique name. A database-wide lock, held until the migration
    commits, makes the second find it there."""
    from alembic import op

    op.execute(text("SELECT pg_advisory_xact_lock(hashtext('pix-extensions'))"))
    op.execute(text(f'CREATE EXTENSION IF NOT EXISTS "{name}"'))


def run_env(metadata: MetaData) -> None:
    """Body of every service's `migrations/env.py` (online mode on a shared connection)."""
    connection: Connection = context.config.attributes["connection"]
    schema: str = context.config.attributes["schema"]

    def own_schema(name: str | None, type_: str, parent_names: object) -> bool:
        return type_ != "schema" or name == schema

    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=True,
        include_name=own_schema,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _with_connection(url: str, schema: str, action: object) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.run_sync(action)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def upgrade_to_head(url: str, package: str, schema: str) -> None:
    cfg = _config(package, schema)

    def upgrade(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")

    await _with_connection(url, schema, upgrade)


async def autogenerate_revision(url: str, package: str, schema: str, message: str) -> None:
    cfg = _config(package, schema)

    versions = Path(cfg.get_main_option("script_location") or ".") / "versions"
    versions.mkdir(exist_ok=True)
    rev_id = f"{len(list(versions.glob('*.py'))) + 1:04d}"

    def revision(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)

    await _with_connection(url, schema, revision)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m pix_runtime.migrations")
    parser.add_argument("action", choices=["upgrade", "revision"])
    parser.add_argument("package", help="e.g. pix_orders")
    parser.add_argument(
        "--url",
        help="default: PIX_<SERVICE>_DATABASE_URL, then PIX_DATABASE_URL (keeps the password "
        "off the command line)",
    )
    parser.add_argument("-m", "--message", default="change")
    args = parser.parse_args()
    schema = args.package.removeprefix("pix_")
    args.url = (
        args.url
        or os.environ.get(f"PIX_{schema.upper()}_DATABASE_URL")
        or os.environ.get("PIX_DATABASE_URL")
    )
    if not args.url:
        parser.error(f"no database: set PIX_{schema.upper()}_DATABASE_URL or PIX_DATABASE_URL")
    if args.action == "upgrade":
        asyncio.run(upgrade_to_head(args.url, args.package, schema))
    else:
        asyncio.run(autogenerate_revision(args.url, args.package, schema, args.message))


if __name__ == "__main__":
    main()
