"""`pix-stack dlq list|replay` against a service's dead letters: list reads the table, replay
asks the running service (real HTTP) to run the failed group's handler, once."""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import pytest
import uvicorn
from pix_contracts import Event
from pix_runtime.broker import create_broker, ensure_topics, subscribe
from pix_runtime.db import Database
from pix_runtime.dead_letters import (
    DeadLetterBoard,
    DeadLetterStore,
    FailedEvent,
    dead_letters_table,
)
from pix_runtime.dead_letters_routes import dead_letters_router
from pix_runtime.http import create_base_app
from pix_stack.__main__ import dlq_command
from pix_stack.embedded import EmbeddedPostgres, Tansu, free_port
from sqlalchemy import MetaData, text


class InvoiceDue(Event):
    topic: ClassVar[str] = "dlq-cli.invoice.due.v1"
    key_field: ClassVar[str] = "invoice_id"

    invoice_id: uuid.UUID


@pytest.fixture
async def letters(postgres: EmbeddedPostgres) -> AsyncIterator[DeadLetterStore]:
    name = f"dlqcli_{uuid.uuid4().hex[:8]}"
    metadata = MetaData(schema=name)
    table = dead_letters_table(metadata)
    db = Database(postgres.url, schema=name, application_name="test-dlq-cli")
    async with db.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{name}"'))
        await conn.run_sync(metadata.create_all)
    yield DeadLetterStore(db, table)
    async with db.engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    await db.dispose()


def command(action: str, service: str, database_url: str, tmp: Path) -> argparse.Namespace:
    return argparse.Namespace(
        action=action,
        service=service,
        letter_id=None,
        topic=None,
        group=None,
        status="open",
        database_url=database_url,
        port_base=0,
        data_dir=tmp,
    )


async def test_dlq_list_and_replay(
    letters: DeadLetterStore,
    postgres: EmbeddedPostgres,
    tansu: Tansu,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schema = letters.db.schema
    event = InvoiceDue(invoice_id=uuid.uuid4())
    await letters.record(
        FailedEvent(
            consumer_group="dlq-cli.billing",
            topic=InvoiceDue.topic,
            partition=0,
            offset=7,
            key=b"k",
            payload=event.model_dump_json().encode(),
            headers={"ce_id": str(event.event_id)},
            error="RuntimeError('ledger locked')",
            traceback="Traceback …",
            attempts=4,
        )
    )
    assert await dlq_command(command("list", schema, postgres.url, tmp_path)) == 0
    listed = capsys.readouterr().out
    assert "dlq-cli.billing" in listed
    assert InvoiceDue.topic in listed
    assert "attempts=4" in listed
    assert "ledger locked" in listed

    billed: list[uuid.UUID] = []
    await ensure_topics(tansu.bootstrap, names=[InvoiceDue.topic])
    broker = create_broker(tansu.bootstrap, client_id="test-dlq-cli", dead_letters=letters)

    @subscribe(broker, InvoiceDue, group="dlq-cli.billing")
    async def bill(due: InvoiceDue) -> None:
        billed.append(due.invoice_id)

    app = create_base_app(title="service", lifespan=None, checks={})
    app.state.internal_key = os.environ["PIX_INTERNAL_KEY"].encode()
    app.state.dead_letter_board = DeadLetterBoard(letters, broker)
    app.include_router(dead_letters_router)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_config=None, lifespan="off"))
    monkeypatch.setenv(f"PIX_{schema.upper()}_URL", f"http://127.0.0.1:{port}")
    await broker.start()
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                await asyncio.sleep(0.05)
        assert await dlq_command(command("replay", schema, postgres.url, tmp_path)) == 0
        replayed = [line for line in capsys.readouterr().out.splitlines() if " letter " in line]
        assert [line.split(": ")[-1] for line in replayed] == ["replayed"]
        assert billed == [event.invoice_id]
        assert await dlq_command(command("replay", schema, postgres.url, tmp_path)) == 0
        assert billed == [event.invoice_id]  # nothing open any more
    finally:
        server.should_exit = True
        await serving
        await broker.stop()
    assert await dlq_command(command("list", schema, postgres.url, tmp_path)) == 0
    assert "dlq-cli.billing" not in capsys.readouterr().out  # only open letters are listed
