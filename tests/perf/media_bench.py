"""Media benchmark worker: `python tests/perf/media_bench.py bare|service|service-nofaces DIR`.

Run by test_media_bench.py in a fresh process per mode, so its peak RSS is the worker's own.
The process pins itself to one CPU core (PostgreSQL, a separate service, may use the other):
the figures are per core.

- `bare` is the codec pipeline alone, with the same library and settings as the service
  (Pillow: decode with draft, EXIF orientation, resize to the web and thumb sizes, JPEG
  encode), one photo after another.
- `service` runs the media service's processing job (`PhotoProcessing` on the job queue,
  `pix_runtime.jobs`) on the real database and local storage: claim, hash, decode, orient, ICC,
  strip, faces, renditions, store, commit with the outbox event and the job's completion.
  Latency: each photo alone (`run_due`, p50/p99). Throughput: all photos queued at once in a
  second gallery (their jobs enqueued with them) and the job queue running (one CPU thread, as
  `PIX_MEDIA_WORKERS=1`, the queue's own concurrency), from start until the last one is
  committed.

Both also report CPU seconds per photo (the whole process, every thread).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import resource
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

from PIL import Image, ImageOps


def fit(size: tuple[int, int], edge: int) -> tuple[int, int]:
    scale = min(1.0, edge / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def bare(files: list[Path]) -> list[float]:
    times = []
    for path in files:
        start = time.perf_counter()
        with Image.open(path) as img:
            # The same DCT-domain reduction the service asks for: at least the web size.
            img.draft("RGB", fit(img.size, 2000))
            upright = ImageOps.exif_transpose(img)  # a new image: turned, or a copy
            web = upright.resize(
                fit(upright.size, 2000), Image.Resampling.LANCZOS, reducing_gap=2.0
            )
            web.save(io.BytesIO(), "JPEG", quality=82, optimize=False, progressive=True)
            thumb = web.resize(fit(web.size, 400), Image.Resampling.LANCZOS, reducing_gap=2.0)
            thumb.save(io.BytesIO(), "JPEG", quality=82, optimize=False, progressive=True)
        times.append(time.perf_counter() - start)
    return times


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


async def service(files: list[Path], storage_dir: Path, faces: bool) -> dict[str, float]:
    from pix_media.delivery import PhotoSet
    from pix_media.models import assets, galleries, jobs
    from pix_media.processing import PROCESS, PhotoProcessing, ProcessPhoto, enqueue_processing
    from pix_media.settings import MediaSettings
    from pix_runtime.clock import Clock
    from pix_runtime.db import Database
    from pix_runtime.jobs import JobQueue
    from pix_runtime.storage import open_storage
    from sqlalchemy import func, select

    # The service's own default scan unless PIX_MEDIA_FACE_SCAN names another (`frame` is the
    # scan the 0.9 goal was first measured with).
    settings = MediaSettings(workers=1) if faces else MediaSettings(workers=1, face_scan="off")
    db = Database(settings.effective_database_url, schema="media", application_name="bench")
    storage = open_storage(f"file://{storage_dir}", public_base="http://x", signing_key=b"k")

    async def queue_gallery() -> uuid.UUID:
        gallery, org = uuid.uuid4(), uuid.uuid4()
        async with db.transaction() as session:
            await session.execute(
                galleries.insert().values(
                    id=gallery, org_id=org, order_id=uuid.uuid4(), reference="BENCH", title="b"
                )
            )
        return gallery

    def upload(gallery: uuid.UUID, paths: list[Path]) -> list[dict[str, object]]:
        """The originals in storage and their rows as `complete` leaves them."""
        rows: list[dict[str, object]] = []
        for path in paths:
            asset_id = uuid.uuid4()
            key = f"originals/{gallery}/{asset_id}"
            target = storage_dir / key
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            size = path.stat().st_size
            rows.append(
                {
                    "id": asset_id,
                    "gallery_id": gallery,
                    "org_id": gallery,
                    "uploaded_by": gallery,
                    "label": f"Wohnzimmer {path.stem}.jpg",
                    "status": "queued",
                    "declared_bytes": size,
                    "byte_size": size,
                    "original_key": key,
                }
            )
        return rows

    async def queue(rows: list[dict[str, object]]) -> None:
        """As `complete` does: the photos `queued`, each with its processing job."""
        async with db.transaction() as session:
            await session.execute(assets.insert(), rows)
            for row in rows:
                await enqueue_processing(session, row)

    async def processed(gallery: uuid.UUID) -> tuple[int, float]:
        """How many are done, and when the last one was committed (epoch seconds)."""
        async with db.sessions() as session:
            count, last = (
                await session.execute(
                    select(func.count(), func.max(assets.c.updated_at)).where(
                        assets.c.gallery_id == gallery, assets.c.status == "processed"
                    )
                )
            ).one()
        return int(count or 0), last.timestamp() if last else 0.0

    # Latency: one photo at a time through the job queue's own step.
    processing = PhotoProcessing(db, storage, settings, PhotoSet(settings, Clock()))
    worker = JobQueue(db, jobs)
    worker.register(
        PROCESS,
        ProcessPhoto,
        processing.process,
        policy=processing.policy,
        timeout=processing.timeout,
    )
    latencies = []
    gallery = await queue_gallery()
    for path in files:
        await queue(upload(gallery, [path]))
        start = time.perf_counter()
        assert await worker.run_due() == 1
        latencies.append(time.perf_counter() - start)
    assert (await processed(gallery))[0] == len(files)

    # Throughput: the queue running (threads started, detector loaded), then every photo
    # queued at once; the commit wakes the queue and it takes it from there.
    await processing.start()
    await worker.start()
    gallery = await queue_gallery()
    rows = upload(gallery, files)
    cpu, start = cpu_seconds(), time.time()
    await queue(rows)
    # Polled slowly so the polling costs next to no CPU; the finish time is the database's.
    while (done := await processed(gallery))[0] < len(files):
        await asyncio.sleep(1.0)
    elapsed, cpu = done[1] - start, cpu_seconds() - cpu
    await worker.stop()
    await processing.stop()
    await db.dispose()
    return summary(latencies, len(files) / elapsed, cpu / len(files))


def summary(latencies: list[float], rate: float, cpu_per_photo: float) -> dict[str, float]:
    times_ms = sorted(t * 1000 for t in latencies)
    return {
        "photos": len(latencies),
        "photos_per_s": rate,
        "cpu_ms_per_photo": cpu_per_photo * 1000,
        "p50_ms": statistics.median(times_ms),
        "p99_ms": times_ms[min(len(times_ms) - 1, int(len(times_ms) * 0.99))],
    }


def peak_rss_mb() -> float:
    """VmHWM: this process's own peak. ru_maxrss would carry the parent's peak across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    mode, folder = sys.argv[1], Path(sys.argv[2])
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    files = sorted(folder.glob("*.jpg"))
    if mode == "bare":
        bare(files[:1])  # warm, as the service's worker is when its throughput is measured
        cpu = cpu_seconds()
        times = bare(files)
        result = summary(times, len(times) / sum(times), (cpu_seconds() - cpu) / len(times))
    else:
        storage = folder / f"storage-{mode}"
        result = asyncio.run(service(files, storage, faces=mode == "service"))
        shutil.rmtree(storage, ignore_errors=True)
    print(json.dumps({"mode": mode, **result, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()
