"""contracts/examples/crm_subscriber.py against the real Tansu broker."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from pix_contracts import ExportFile, GalleryExported, cloudevent_headers
from pix_runtime.broker import ensure_topics
from pix_stack.embedded import Tansu

EXAMPLE = Path(__file__).parents[2] / "contracts" / "examples" / "crm_subscriber.py"
CONTENT = b'{"images": []}'


def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("crm_subscriber_example", EXAMPLE)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_subscriber_gets_each_export_once(tansu: Tansu, tmp_path: Path) -> None:
    class Files(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(CONTENT)))
            self.end_headers()
            self.wfile.write(CONTENT)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    example = load_example()
    await ensure_topics(tansu.bootstrap, names=[GalleryExported.topic])
    gallery_id = uuid.uuid4()
    org_id = uuid.uuid4()
    preview = GalleryExported(
        gallery_id=gallery_id, org_id=org_id, version=1, asset_count=0, complete=False, files=[]
    )
    event = GalleryExported(
        gallery_id=gallery_id,
        org_id=org_id,
        version=2,
        asset_count=0,
        complete=True,
        delivery=1,
        files=[
            ExportFile(
                name="captions.json",
                format="captions-json",
                media_type="application/json",
                storage_key="k",
                download_url=f"http://127.0.0.1:{server.server_port}/captions.json?sig=x",
                url_expires_at=datetime.now(UTC) + timedelta(hours=1),
                sha256=hashlib.sha256(CONTENT).hexdigest(),
                byte_size=len(CONTENT),
            )
        ],
    )
    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap)
    await producer.start()
    previewed = [(k, v.encode()) for k, v in cloudevent_headers(preview, source="/x").items()]
    # A preview version (not delivered) is not for CRMs: the example skips it.
    await producer.send_and_wait(
        GalleryExported.topic,
        preview.model_dump_json().encode(),
        key=preview.partition_key(),
        headers=previewed,
    )
    headers = [(k, v.encode()) for k, v in cloudevent_headers(event, source="/pix/export").items()]
    for _ in range(2):  # at-least-once: the same event twice
        await producer.send_and_wait(
            GalleryExported.topic,
            event.model_dump_json().encode(),
            key=event.partition_key(),
            headers=headers,
        )
    await producer.stop()

    handled: list[GalleryExported] = []
    stop = asyncio.Event()

    async def handle(received: GalleryExported) -> None:
        if received.gallery_id != gallery_id:
            return
        await example.save_files(received, tmp_path)
        handled.append(received)

    task = asyncio.create_task(
        example.consume(
            tansu.bootstrap,
            f"crm-{uuid.uuid4()}",
            handle,
            seen_file=tmp_path / "seen.json",
            stop=stop,
        )
    )
    for _ in range(150):
        if handled:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # room for the duplicate to arrive (and be skipped)
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    server.shutdown()
    assert [e.event_id for e in handled] == [event.event_id]
    assert (tmp_path / str(gallery_id) / "v2" / "captions.json").read_bytes() == CONTENT
    assert not (tmp_path / str(gallery_id) / "v1").exists()
