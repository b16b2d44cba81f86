"""Media benchmark worker: `python tests/perf/media_bench.py bare|service|service-nofaces DIR`.

Run by test_media_bench.py in a fresh process per mode, so its peak RSS is the worker's own.
`bare` is the codec pipeline alone (Pillow: decode with draft + EXIF orientation + resize to the
web and thumb sizes + JPEG encode); `service` runs the media worker (`Processor.process_next`)
on the real database and local storage: claim, hash, duplicate check, decode, orient, ICC,
strip, faces, renditions, store, commit with the outbox event. One photo at a time, one CPU
thread: the figures are per core.
"""

from __future__ import annotations

import asyncio
import io
import json
import resource
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

from PIL import Image, ImageOps


def bare(files: list[Path]) -> list[float]:
    times = []
    for path in files:
        start = time.perf_counter()
        with Image.open(path) as img:
            # The same DCT-domain reduction the service asks for: at least the web size.
            scale = min(1.0, 2000 / max(img.size))
            img.draft("RGB", (round(img.width * scale), round(img.height * scale)))
            upright = ImageOps.exif_transpose(img)
            web = upright.copy()
            web.thumbnail((2000, 2000), Image.Resampling.LANCZOS, reducing_gap=3.0)
            web.save(io.BytesIO(), "JPEG", quality=82, optimize=False, progressive=True)
            thumb = web.copy()
            thumb.thumbnail((400, 400), Image.Resampling.LANCZOS)
            thumb.save(io.BytesIO(), "JPEG", quality=82, optimize=False, progressive=True)
        times.append(time.perf_counter() - start)
    return times


async def service(files: list[Path], storage_dir: Path, faces: bool) -> list[float]:
    from pix_media.models import assets, galleries
    from pix_media.processing import Processor
    from pix_media.settings import MediaSettings
    from pix_runtime.db import Database
    from pix_runtime.storage import open_storage

    settings = MediaSettings(workers=1, face_frame_edge=800 if faces else 0)
    db = Database(settings.effective_database_url, schema="media", application_name="bench")
    storage = open_storage(f"file://{storage_dir}", public_base="http://x", signing_key=b"k")
    gallery, org = uuid.uuid4(), uuid.uuid4()
    async with db.transaction() as session:
        await session.execute(
            galleries.insert().values(
                id=gallery, org_id=org, order_id=uuid.uuid4(), reference="BENCH", title="bench"
            )
        )
    worker = Processor(db, storage, settings)
    await worker.start()  # the thread pool; its loops are stopped again at once
    for task in worker._tasks:
        task.cancel()
    times = []
    for path in files:
        asset_id = uuid.uuid4()
        key = f"originals/{gallery}/{asset_id}"
        target = storage_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        async with db.transaction() as session:
            await session.execute(
                assets.insert().values(
                    id=asset_id,
                    gallery_id=gallery,
                    org_id=org,
                    uploaded_by=org,
                    label=f"Wohnzimmer {path.stem}.jpg",
                    status="queued",
                    declared_bytes=path.stat().st_size,
                    byte_size=path.stat().st_size,
                    original_key=key,
                )
            )
        start = time.perf_counter()
        assert await worker.process_next()
        times.append(time.perf_counter() - start)
    await worker.stop()
    await db.dispose()
    return times


def peak_rss_mb() -> float:
    """VmHWM: this process's own peak. ru_maxrss would carry the parent's peak across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    mode, folder = sys.argv[1], Path(sys.argv[2])
    files = sorted(folder.glob("*.jpg"))
    if mode == "bare":
        times = bare(files)
    else:
        times = asyncio.run(service(files, folder / f"storage-{mode}", faces=mode == "service"))
    times_ms = sorted(t * 1000 for t in times)
    print(
        json.dumps(
            {
                "mode": mode,
                "photos": len(times),
                "photos_per_s": len(times) / sum(times),
                "p50_ms": statistics.median(times_ms),
                "p99_ms": times_ms[min(len(times_ms) - 1, int(len(times_ms) * 0.99))],
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


if __name__ == "__main__":
    main()
