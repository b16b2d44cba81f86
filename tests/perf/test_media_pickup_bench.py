"""How soon media processes a completed upload (not a timed test):

    PIX_BENCH=1 .venv/bin/pytest tests/perf/test_media_pickup_bench.py -s -p no:cacheprovider

The media service running as it does in production (`runtime.start()`: the job queue, its
render threads, the broker joined), one photo after another completed through its HTTP API.
For each: the time from `complete`'s answer to the commit of the processed photo with its
`media.asset.uploaded.v1` in the outbox (taken by a commit hook, so nothing polls): the wake-up
after `complete`'s commit, the claim, the processing of a 3 MP photo, the commit. It is the
first stretch of "upload complete → export event" (issue 17: ≤ 150 ms p50).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid

import httpx
import pytest
from photos import jpeg_with_gps, room_photo
from pix_media.app import create_app
from pix_media.models import galleries
from pix_media.settings import MediaSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity

pytestmark = pytest.mark.skipif(not os.environ.get("PIX_BENCH"), reason="set PIX_BENCH=1")
PHOTOS = int(os.environ.get("PIX_BENCH_PHOTOS", "20"))


async def test_a_completed_upload_is_processed_at_once(migrated: set[str]) -> None:
    app, runtime = create_app(MediaSettings())
    committed: list[float] = []
    news = asyncio.Event()

    def on_commit() -> None:
        committed.append(time.perf_counter())
        news.set()

    runtime.db.on_commit(on_commit)
    org, gallery = uuid.uuid4(), uuid.uuid4()
    who = Identity(user_id=uuid.uuid4(), org_id=org, role="client", email="a@b.de", name="A")
    headers = {IDENTITY_HEADER: sign_identity(who, runtime.internal_key)}
    async with runtime.db.transaction() as session:
        await session.execute(
            galleries.insert().values(
                id=gallery, org_id=org, order_id=uuid.uuid4(), reference="BENCH", title="b"
            )
        )
    transport = httpx.ASGITransport(app=app)
    total = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        for i in range(PHOTOS + 1):  # the first warms up (connections, the detector)
            photo = jpeg_with_gps(room_photo(2000, 1500, colour=(90 + i, 120, 60)))
            ticket = (
                await http.post(
                    f"/galleries/{gallery}/uploads",
                    headers=headers,
                    json={"file_name": f"Küche {i}.jpg", "byte_size": len(photo)},
                )
            ).json()
            url = ticket["upload_url"].replace("http://testserver/api/media", "")
            assert (await http.put(url, content=photo)).status_code == 200
            answer = await http.post(f"/assets/{ticket['asset_id']}/complete", headers=headers)
            answered = time.perf_counter()
            assert answer.status_code == 202, answer.text
            async with asyncio.timeout(30):
                while not any(t > answered for t in committed):
                    news.clear()
                    await news.wait()
            done = min(t for t in committed if t > answered)
            if i:
                total.append((done - answered) * 1000)
        print(
            f"\n{PHOTOS} photos of 3 MP, one at a time: complete answered → processed and "
            f"committed p50 {statistics.median(total):.1f} ms "
            f"(min {min(total):.1f}, max {max(total):.1f})",
            flush=True,
        )
    await runtime.db.dispose()
