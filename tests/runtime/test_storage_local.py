"""LocalStorage: round trips, atomic streaming writes, key validation, HMAC-signed URLs, and the
FastAPI router that serves those signed URLs with streaming bodies."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from pix_runtime.http import create_base_app
from pix_runtime.storage import (
    LocalStorage,
    MultipartError,
    ObjectNotFound,
    ObjectTooLarge,
    StorageError,
    check_key,
    open_storage,
)
from pix_runtime.storage_routes import local_storage_router

KEY = b"test-signing-key"
MAX_BYTES = 4 * 1024 * 1024


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(
        tmp_path / "objects", public_base="http://testserver/storage/", signing_key=KEY
    )


def leftovers(root: Path) -> list[Path]:
    """Every file under `root` (temp files included); directories do not count."""
    return sorted(p for p in root.rglob("*") if p.is_file())


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


# --- objects ----------------------------------------------------------------------------------


async def test_put_get_exists_delete_round_trip(storage: LocalStorage) -> None:
    data = b"\x00\xffhello world" * 100
    stored = await storage.put_bytes("org-1/photos/a.jpg", data, "image/jpeg")

    assert stored.key == "org-1/photos/a.jpg"
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await storage.exists("org-1/photos/a.jpg")
    assert await storage.get_bytes("org-1/photos/a.jpg") == data
    assert storage.path("org-1/photos/a.jpg") == storage.root / "org-1" / "photos" / "a.jpg"

    await storage.delete("org-1/photos/a.jpg")
    assert not await storage.exists("org-1/photos/a.jpg")
    with pytest.raises(ObjectNotFound):
        await storage.get_bytes("org-1/photos/a.jpg")
    await storage.delete("org-1/photos/a.jpg")  # deleting a missing key is a no-op


async def test_put_overwrites_and_empty_objects_work(storage: LocalStorage) -> None:
    await storage.put_bytes("k.bin", b"first version", "application/octet-stream")
    stored = await storage.put_bytes("k.bin", b"", "application/octet-stream")
    assert stored.size == 0
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert await storage.get_bytes("k.bin") == b""
    assert leftovers(storage.root) == [storage.root / "k.bin"]


async def test_local_file_yields_the_stored_file(storage: LocalStorage) -> None:
    await storage.put_bytes("docs/report.txt", b"report", "text/plain")
    async with storage.local_file("docs/report.txt") as path:
        assert path.read_bytes() == b"report"
    assert path.exists()  # the local adapter hands out the real file: nothing to clean up

    with pytest.raises(ObjectNotFound):
        async with storage.local_file("docs/missing.txt"):
            pass


async def test_missing_keys_and_directories_are_not_objects(storage: LocalStorage) -> None:
    await storage.put_bytes("dir/inner.txt", b"x", "text/plain")
    assert not await storage.exists("dir")
    with pytest.raises(ObjectNotFound):
        await storage.get_bytes("dir")
    with pytest.raises(ObjectNotFound):
        await storage.get_bytes("nothing/here.bin")


async def test_read_stream_yields_all_bytes(storage: LocalStorage) -> None:
    data = bytes(range(256)) * 10_000  # ~2.5 MB: several chunks
    await storage.put_bytes("big.bin", data, "application/octet-stream")
    got = b"".join([chunk async for chunk in storage.read_stream("big.bin")])
    assert got == data

    with pytest.raises(ObjectNotFound):
        async for _ in storage.read_stream("nope.bin"):
            pass


async def test_delete_prefix_removes_a_subtree(storage: LocalStorage) -> None:
    await storage.put_bytes("org-1/a.txt", b"a", "text/plain")
    await storage.put_bytes("org-1/sub/b.txt", b"b", "text/plain")
    await storage.put_bytes("org-2/c.txt", b"c", "text/plain")
    await storage.delete_prefix("org-1/")
    assert not await storage.exists("org-1/a.txt")
    assert not await storage.exists("org-1/sub/b.txt")
    assert await storage.exists("org-2/c.txt")


async def test_delete_prefix_removes_the_parts_of_unfinished_uploads_there(
    storage: LocalStorage,
) -> None:
    async def one_part(key: str) -> str:
        upload_id = await storage.create_multipart(key, "video/mp4")

        await storage.write_part(key, upload_id, 1, chunks_of(b"private frames"), max_bytes=1024)
        return upload_id

    gone = await one_part("org-1/film.mp4")
    kept = await one_part("org-2/film.mp4")
    await storage.delete_prefix("org-1/")
    with pytest.raises(MultipartError):
        await storage.list_parts("org-1/film.mp4", gone)
    assert [p.number for p in await storage.list_parts("org-2/film.mp4", kept)] == [1]


# --- atomic streaming writes ------------------------------------------------------------------


async def test_write_stream_stores_all_chunks(storage: LocalStorage) -> None:
    parts = [b"a" * 1000, b"", b"b" * 2000, b"c"]
    stored = await storage.write_stream("s/obj.bin", chunks_of(*parts), max_bytes=3001)
    joined = b"".join(parts)
    assert stored.size == len(joined) == 3001
    assert stored.sha256 == hashlib.sha256(joined).hexdigest()
    assert await storage.get_bytes("s/obj.bin") == joined
    assert leftovers(storage.root) == [storage.root / "s" / "obj.bin"]


async def test_failing_stream_leaves_no_file_and_no_temp_file(storage: LocalStorage) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"partial data"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await storage.write_stream("up/broken.bin", broken(), max_bytes=MAX_BYTES)
    assert not await storage.exists("up/broken.bin")
    assert leftovers(storage.root) == []


async def test_over_limit_stream_raises_and_leaves_nothing(storage: LocalStorage) -> None:
    with pytest.raises(ObjectTooLarge):
        await storage.write_stream("up/big.bin", chunks_of(b"x" * 6, b"y" * 5), max_bytes=10)
    assert not await storage.exists("up/big.bin")
    assert leftovers(storage.root) == []

    # exactly at the limit is fine
    stored = await storage.write_stream("up/ok.bin", chunks_of(b"x" * 6, b"y" * 4), max_bytes=10)
    assert stored.size == 10


async def test_failed_overwrite_keeps_the_previous_version(storage: LocalStorage) -> None:
    await storage.put_bytes("v.bin", b"version 1", "application/octet-stream")
    with pytest.raises(ObjectTooLarge):
        await storage.write_stream("v.bin", chunks_of(b"z" * 100), max_bytes=50)
    assert await storage.get_bytes("v.bin") == b"version 1"
    assert leftovers(storage.root) == [storage.root / "v.bin"]


# --- key validation ---------------------------------------------------------------------------

BAD_KEYS = [
    "",
    "../x",
    "a/../../x",
    "a/..",
    "/etc/passwd",
    "/abs",
    "a//b",
    ".hidden",
    "-dash",
    "a\\b",
    "a b",
    "a\x00b",
    "ключ",
    "a" * 502,
]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_keys_are_refused_everywhere(storage: LocalStorage, key: str) -> None:
    with pytest.raises(StorageError):
        check_key(key)
    with pytest.raises(StorageError):
        storage.path(key)
    with pytest.raises(StorageError):
        await storage.put_bytes(key, b"x", "text/plain")
    with pytest.raises(StorageError):
        await storage.get_bytes(key)
    with pytest.raises(StorageError):
        await storage.exists(key)
    with pytest.raises(StorageError):
        await storage.delete(key)
    with pytest.raises(StorageError):
        await storage.signed_url(key, "GET", expires_in=60)
    with pytest.raises(StorageError):
        await storage.write_stream(key, chunks_of(b"x"), max_bytes=10)
    assert leftovers(storage.root) == []


@pytest.mark.parametrize("key", ["a", "org-1/p_2/file.name.jpg", "A9/b-c/d_e.f", "a" * 501])
def test_good_keys_are_accepted(key: str) -> None:
    assert check_key(key) == key


# --- signing ----------------------------------------------------------------------------------


def parse_signed(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    assert parts.scheme == "http"
    assert parts.netloc == "testserver"
    assert parts.path.startswith("/storage/")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return (
        parts.path.removeprefix("/storage/"),
        query["method"],
        int(query["expires"]),
        query["sig"],
    )


async def test_signed_url_is_absolute_and_verifies(storage: LocalStorage) -> None:
    before = int(time.time())
    url = await storage.signed_url("org-1/photo.jpg", "PUT", expires_in=300)
    key, method, expires, sig = parse_signed(url)

    assert key == "org-1/photo.jpg"
    assert method == "PUT"
    assert before + 300 <= expires <= int(time.time()) + 300
    assert storage.verify(key, "PUT", expires, sig)


async def test_verify_refuses_tampering(storage: LocalStorage) -> None:
    key, method, expires, sig = parse_signed(
        await storage.signed_url("org-1/photo.jpg", "GET", expires_in=300)
    )
    assert storage.verify(key, method, expires, sig)

    assert not storage.verify("org-2/photo.jpg", method, expires, sig)  # other key
    assert not storage.verify(key, "PUT", expires, sig)  # other method
    assert not storage.verify(key, method, expires + 3600, sig)  # extended expiry
    assert not storage.verify(key, method, expires, sig[:-1] + ("0" if sig[-1] != "0" else "1"))
    assert not storage.verify(key, method, expires, "")
    assert not storage.verify(key, method, expires, sig.upper())

    other = LocalStorage(storage.root, public_base="http://testserver/storage", signing_key=b"x")
    assert not other.verify(key, method, expires, sig)  # other signing key


async def test_verify_refuses_expired_signatures(storage: LocalStorage) -> None:
    key, method, expires, sig = parse_signed(
        await storage.signed_url("a.txt", "GET", expires_in=-5)
    )
    assert expires < time.time()
    assert not storage.verify(key, method, expires, sig)


def test_open_storage_builds_local_storage(tmp_path: Path) -> None:
    storage = open_storage(
        f"file://{tmp_path / 'st'}", public_base="http://x/storage", signing_key=KEY
    )
    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "st").resolve()
    assert storage.root.is_dir()
    with pytest.raises(ValueError, match="unsupported storage URL scheme"):
        open_storage("ftp://host/x", public_base="http://x", signing_key=KEY)


# --- HTTP: the router serving signed URLs -----------------------------------------------------


@pytest.fixture
def app(storage: LocalStorage) -> FastAPI:
    app = create_base_app(title="storage-test", lifespan=None, checks={})
    app.include_router(local_storage_router(storage, max_bytes=MAX_BYTES))
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]


async def test_http_put_then_get_round_trip(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    data = bytes(range(256)) * 10_000  # ~2.5 MB, streamed in several chunks
    put_url = await storage.signed_url("org-1/up/photo.jpg", "PUT", expires_in=300)
    response = await client.put(put_url, content=data)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "key": "org-1/up/photo.jpg",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert await storage.get_bytes("org-1/up/photo.jpg") == data

    get_url = await storage.signed_url("org-1/up/photo.jpg", "GET", expires_in=300)
    response = await client.get(get_url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/jpeg"


async def test_http_put_streams_chunked_bodies(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    parts = [b"a" * 70_000, b"b" * 70_000, b"c" * 3]
    url = await storage.signed_url("chunked.bin", "PUT", expires_in=300)
    response = await client.put(url, content=chunks_of(*parts))  # no Content-Length
    assert response.status_code == 200, response.text
    assert response.json()["size"] == 140_003
    assert await storage.get_bytes("chunked.bin") == b"".join(parts)


@pytest.mark.parametrize(
    ("key", "media_type"),
    [
        ("a.json", "application/json"),
        ("a.txt", "text/plain; charset=utf-8"),
        ("a.bin", "application/octet-stream"),
    ],
)
async def test_http_get_media_types(
    storage: LocalStorage, client: httpx.AsyncClient, key: str, media_type: str
) -> None:
    await storage.put_bytes(key, b"{}", media_type)
    response = await client.get(await storage.signed_url(key, "GET", expires_in=60))
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.content == b"{}"


async def test_http_put_with_bad_signature_is_refused(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    url = await storage.signed_url("org-1/x.bin", "PUT", expires_in=300)
    key, _, expires, sig = parse_signed(url)
    forged = sig[:-1] + ("0" if sig[-1] != "0" else "1")

    attempts = [
        f"/storage/{key}?{urlencode({'method': 'PUT', 'expires': expires, 'sig': forged})}",
        f"/storage/{key}?{urlencode({'method': 'PUT', 'expires': expires + 60, 'sig': sig})}",
        f"/storage/org-1/other.bin?{urlencode({'method': 'PUT', 'expires': expires, 'sig': sig})}",
        f"/storage/{key}?{urlencode({'method': 'PUT', 'expires': expires, 'sig': ''})}",
    ]
    for attempt in attempts:
        assert_error(await client.put(attempt, content=b"evil"), 403, "bad_signature")
    assert leftovers(storage.root) == []


async def test_http_put_with_expired_signature_is_refused(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    url = await storage.signed_url("late.bin", "PUT", expires_in=-1)
    assert_error(await client.put(url, content=b"late"), 403, "bad_signature")
    assert not await storage.exists("late.bin")


async def test_http_get_signed_url_cannot_be_used_for_put(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    await storage.put_bytes("doc.txt", b"original", "text/plain")
    get_url = await storage.signed_url("doc.txt", "GET", expires_in=300)
    assert_error(await client.put(get_url, content=b"overwritten"), 403, "bad_signature")

    # lying about the method in the query string does not help either
    relabelled = get_url.replace("method=GET", "method=PUT")
    assert_error(await client.put(relabelled, content=b"overwritten"), 403, "bad_signature")
    assert await storage.get_bytes("doc.txt") == b"original"

    # and a PUT-signed URL cannot be used to read
    put_url = await storage.signed_url("doc.txt", "PUT", expires_in=300)
    assert_error(await client.get(put_url), 403, "bad_signature")


async def test_http_get_with_bad_or_missing_signature(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    await storage.put_bytes("doc.txt", b"secret", "text/plain")
    url = await storage.signed_url("doc.txt", "GET", expires_in=300)
    _, _, expires, sig = parse_signed(url)
    forged = f"/storage/doc.txt?{urlencode({'expires': expires, 'sig': sig[::-1]})}"
    assert_error(await client.get(forged), 403, "bad_signature")
    expired = await storage.signed_url("doc.txt", "GET", expires_in=-1)
    assert_error(await client.get(expired), 403, "bad_signature")
    response = await client.get("/storage/doc.txt")  # no signature at all
    assert response.status_code == 422
    assert "secret" not in response.text


async def test_http_put_over_limit_declared_is_413(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    url = await storage.signed_url("big.bin", "PUT", expires_in=300)
    response = await client.put(url, content=b"x" * (MAX_BYTES + 1))
    assert_error(response, 413, "too_large")
    assert not await storage.exists("big.bin")
    assert leftovers(storage.root) == []


async def test_http_put_over_limit_streamed_is_413(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    url = await storage.signed_url("big.bin", "PUT", expires_in=300)
    chunk = b"x" * (1024 * 1024)
    parts = [chunk] * (MAX_BYTES // len(chunk)) + [b"!"]  # one byte too many, no Content-Length
    response = await client.put(url, content=chunks_of(*parts))
    assert_error(response, 413, "too_large")
    assert not await storage.exists("big.bin")
    assert leftovers(storage.root) == []


async def test_http_put_exactly_at_limit_is_accepted(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    url = await storage.signed_url("edge.bin", "PUT", expires_in=300)
    response = await client.put(url, content=b"e" * MAX_BYTES)
    assert response.status_code == 200, response.text
    assert response.json()["size"] == MAX_BYTES


async def test_http_get_unknown_key_is_404(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    url = await storage.signed_url("org-1/never-uploaded.jpg", "GET", expires_in=300)
    assert_error(await client.get(url), 404, "not_found")


async def test_http_path_traversal_is_refused(
    storage: LocalStorage, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    (tmp_path / "outside.txt").write_bytes(b"outside")
    expires = int(time.time()) + 300
    # Even a correct HMAC over an invalid key is refused: verify() checks the key first, so the
    # router answers 403 instead of reaching the filesystem (or failing with a 500).
    sig = LocalStorage(
        tmp_path / "other", public_base="http://testserver/storage", signing_key=KEY
    )._signature("../outside.txt", "PUT", expires)
    with pytest.raises(StorageError):
        storage.verify("../outside.txt", "PUT", expires, sig)
    query = urlencode({"expires": expires, "sig": sig})
    response = await client.put(f"/storage/..%2Foutside.txt?{query}", content=b"pwned")
    assert_error(response, 403, "bad_signature")
    response = await client.get(f"/storage/a%2F%2Fb?{query}")
    assert_error(response, 403, "bad_signature")
    assert (tmp_path / "outside.txt").read_bytes() == b"outside"
