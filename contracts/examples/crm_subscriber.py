"""A CRM's consumer of pix.immo exports: needs only `pix-contracts` and `aiokafka`.

    pip install pix-contracts aiokafka
    python crm_subscriber.py --bootstrap kafka.example:9092 --group my-crm

It reads `export.gallery.exported.v1`, imports only delivered versions (`delivery` set: the
photographer's or the platform's decision that the gallery is finished; other versions are
previews), skips events it has already handled (at-least-once
delivery: deduplicate on the CloudEvents id `ce_id`, here kept in a small JSON file), downloads
each file from its signed URL before `url_expires_at`, checks its SHA-256 and only then commits
the offset. Replace `handle` with your import.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from pix_contracts import GalleryExported

Handler = Callable[[GalleryExported], Awaitable[None]]


def download(url: str, sha256: str) -> bytes:
    """Fetch one export file and refuse it unless its checksum matches the event's."""
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (signed https URL)
        data: bytes = response.read()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"checksum mismatch for {url}")
    return data


async def save_files(event: GalleryExported, target: Path) -> None:
    folder = target / str(event.gallery_id) / f"v{event.version}"
    folder.mkdir(parents=True, exist_ok=True)
    for file in event.files:
        data = await asyncio.to_thread(download, file.download_url, file.sha256)
        (folder / file.name).write_bytes(data)


def _read_or_empty(path: Path) -> str:
    return path.read_text() if path.exists() else "[]"


async def consume(
    bootstrap: str,
    group: str,
    handle: Handler,
    *,
    seen_file: Path,
    stop: asyncio.Event | None = None,
) -> None:
    seen: set[str] = set(json.loads(await asyncio.to_thread(_read_or_empty, seen_file)))
    consumer = AIOKafkaConsumer(
        GalleryExported.topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,  # commit only after the import succeeded
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    try:
        while stop is None or not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    headers = {k: v.decode() for k, v in record.headers}
                    event_id = headers.get("ce_id", "")
                    if event_id in seen:
                        continue
                    assert record.value is not None
                    event = GalleryExported.model_validate_json(record.value)
                    if event.delivery is not None:
                        await handle(event)
                    seen.add(event_id)
                    await asyncio.to_thread(seen_file.write_text, json.dumps(sorted(seen)))
            if batches:
                await consumer.commit()
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", default="crm")
    parser.add_argument("--target", type=Path, default=Path("pix-exports"))
    args = parser.parse_args()

    async def handle(event: GalleryExported) -> None:
        await save_files(event, args.target)
        print(f"gallery {event.gallery_id} v{event.version}: {len(event.files)} files")

    asyncio.run(consume(args.bootstrap, args.group, handle, seen_file=args.target / "seen.json"))


if __name__ == "__main__":
    main()
