"""The local adapter's multipart protocol (S3's, on disk) and its signed part route."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pix_runtime.http import create_base_app
from pix_runtime.storage import MIN_PART_BYTES, LocalStorage, MultipartError, UploadedPart
from pix_runtime.storage_routes import local_storage_router

KEY = b"test-signing-key"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(
        tmp_path / "objects", public_base="http://testserver/storage", signing_key=KEY
    )


async def one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_parts_assemble_atomically_and_resume(storage: LocalStorage) -> None:
    data = os.urandom(MIN_PART_BYTES * 2 + 1000)
    chunks = [
        data[:MIN_PART_BYTES],
        data[MIN_PART_BYTES : 2 * MIN_PART_BYTES],
        data[2 * MIN_PART_BYTES :],
    ]
    upload = await storage.create_multipart("originals/a", "image/jpeg")
    p1 = await storage.write_part("originals/a", upload, 1, one(chunks[0]), max_bytes=10**8)
    p3 = await storage.write_part("originals/a", upload, 3, one(chunks[2]), max_bytes=10**8)
    assert [p.number for p in await storage.list_parts("originals/a", upload)] == [1, 3]
    with pytest.raises(MultipartError):  # part 2 missing
        await storage.complete_multipart("originals/a", upload, [p1, UploadedPart(2, 0, "x"), p3])
    assert not await storage.exists("originals/a")
    # Sending a part again replaces it.
    await storage.write_part("originals/a", upload, 2, one(b"wrong"), max_bytes=10**8)
    p2 = await storage.write_part("originals/a", upload, 2, one(chunks[1]), max_bytes=10**8)
    assert len(await storage.list_parts("originals/a", upload)) == 3
    await storage.complete_multipart("originals/a", upload, [p1, p2, p3])
    assert await storage.get_bytes("originals/a") == data
    with pytest.raises(MultipartError):  # finished: the upload is gone
        await storage.list_parts("originals/a", upload)


async def test_small_parts_wrong_keys_and_abort(storage: LocalStorage) -> None:
    upload = await storage.create_multipart("originals/b", "image/jpeg")
    p1 = await storage.write_part("originals/b", upload, 1, one(b"tiny"), max_bytes=100)
    p2 = await storage.write_part("originals/b", upload, 2, one(b"tail"), max_bytes=100)
    with pytest.raises(MultipartError, match="smaller"):
        await storage.complete_multipart("originals/b", upload, [p1, p2])
    with pytest.raises(MultipartError):  # an upload belongs to its key
        await storage.list_parts("originals/other", upload)
    await storage.abort_multipart("originals/b", upload)
    with pytest.raises(MultipartError):
        await storage.list_parts("originals/b", upload)
    await storage.abort_multipart("originals/b", upload)  # twice is fine


async def test_sweep_removes_only_stale_part_folders(storage: LocalStorage) -> None:
    old = await storage.create_multipart("originals/c", "image/jpeg")
    await storage.write_part("originals/c", old, 1, one(b"x"), max_bytes=100)
    fresh = await storage.create_multipart("originals/d", "image/jpeg")
    folder = storage.root / ".multipart" / old
    past = time.time() - 7200
    for path in [folder, *folder.iterdir()]:
        os.utime(path, (past, past))
    assert await storage.sweep_multipart(3600) == 1
    assert await storage.list_parts("originals/d", fresh) == []
    with pytest.raises(MultipartError):
        await storage.list_parts("originals/c", old)


async def test_signed_part_urls_over_http(storage: LocalStorage) -> None:
    app = create_base_app(title="t", lifespan=None, checks={})
    app.include_router(local_storage_router(storage, max_bytes=1000))
    upload = await storage.create_multipart("originals/e", "image/jpeg")
    url = await storage.signed_part_url("originals/e", upload, 1, expires_in=60)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.put(url, content=b"part one")
        assert response.status_code == 200, response.text
        etag = response.headers["etag"].strip('"')
        assert [p.etag for p in await storage.list_parts("originals/e", upload)] == [etag]
        # The part signature is not a signature for another part, nor for a plain PUT.
        other = url.replace("partNumber=1", "partNumber=2")
        assert (await http.put(other, content=b"x")).status_code == 403
        plain = url.replace(f"uploadId={upload}&partNumber=1&", "")
        assert (await http.put(plain, content=b"x")).status_code == 403
        assert (await http.put(url, content=b"y" * 1001)).status_code == 413
