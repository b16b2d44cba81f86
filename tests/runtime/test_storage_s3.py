"""S3Storage against moto's real S3 HTTP server (in-process, on a free loopback port).

The adapter talks HTTP to moto exactly as it would to S3/R2/MinIO; presigned URLs are exercised
with plain httpx requests. Credentials are fake and reach the adapter only through the
PIX_S3_* environment variables, as in production.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer
from pix_runtime.storage import (
    ObjectNotFound,
    S3Storage,
    StorageError,
    browser_origins,
    open_storage,
)
from pix_stack.embedded import free_port

BUCKET = "pix-test"
DENIED_BUCKET = "pix-denied"
REGION = "eu-central-1"


@dataclass(frozen=True)
class Moto:
    endpoint: str
    storage: S3Storage
    denied: S3Storage


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PIX_S3_ACCESS_KEY_ID", "testing")
            mp.setenv("PIX_S3_SECRET_ACCESS_KEY", "testing")
            admin = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            location = {"LocationConstraint": REGION}
            admin.create_bucket(Bucket=BUCKET, CreateBucketConfiguration=location)

            # A bucket whose policy denies HEAD on its objects: exists() must not report a
            # refused request as "absent".
            admin.create_bucket(Bucket=DENIED_BUCKET, CreateBucketConfiguration=location)
            admin.put_object(Bucket=DENIED_BUCKET, Key="secret.txt", Body=b"s")
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:HeadObject",
                        "Resource": f"arn:aws:s3:::{DENIED_BUCKET}/*",
                    }
                ],
            }
            admin.put_bucket_policy(Bucket=DENIED_BUCKET, Policy=json.dumps(policy))

            def build(bucket: str) -> S3Storage:
                storage = open_storage(
                    f"s3://{bucket}?endpoint={endpoint}&region={REGION}",
                    public_base="unused",
                    signing_key=b"k",
                )
                assert isinstance(storage, S3Storage)
                return storage

            yield Moto(endpoint, build(BUCKET), build(DENIED_BUCKET))
    finally:
        server.stop()


@pytest.fixture
def storage(moto: Moto) -> S3Storage:
    return moto.storage


async def test_put_get_exists_delete(storage: S3Storage) -> None:
    data = bytes(range(256)) * 100
    stored = await storage.put_bytes("org-1/photos/a.jpg", data, "image/jpeg")
    assert stored.key == "org-1/photos/a.jpg"
    assert stored.size == len(data)

    assert await storage.exists("org-1/photos/a.jpg")
    assert await storage.get_bytes("org-1/photos/a.jpg") == data

    await storage.delete("org-1/photos/a.jpg")
    assert not await storage.exists("org-1/photos/a.jpg")
    await storage.delete("org-1/photos/a.jpg")  # deleting a missing key is a no-op


async def test_missing_keys(storage: S3Storage) -> None:
    assert not await storage.exists("org-1/never.jpg")
    with pytest.raises(ObjectNotFound):
        await storage.get_bytes("org-1/never.jpg")
    with pytest.raises(ObjectNotFound):
        async with storage.local_file("org-1/never.jpg"):
            pass


async def test_exists_does_not_hide_refused_requests(moto: Moto) -> None:
    with pytest.raises(ClientError) as info:
        await moto.denied.exists("secret.txt")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


async def test_invalid_keys_are_refused_before_any_request(storage: S3Storage) -> None:
    for key in ["../x", "/abs", "a//b", ""]:
        with pytest.raises(StorageError):
            await storage.put_bytes(key, b"x", "text/plain")
        with pytest.raises(StorageError):
            await storage.get_bytes(key)
        with pytest.raises(StorageError):
            await storage.exists(key)
        with pytest.raises(StorageError):
            await storage.signed_url(key, "GET", expires_in=60)


async def test_local_file_downloads_to_a_temp_file_removed_afterwards(
    storage: S3Storage,
) -> None:
    data = b"\x89PNG" + bytes(range(256)) * 9000  # ~2.3 MB: more than one download chunk
    await storage.put_bytes("org-1/big.png", data, "image/png")

    async with storage.local_file("org-1/big.png") as path:
        assert isinstance(path, Path)
        assert path.is_file()
        assert path.read_bytes() == data
    assert not path.exists()
    assert not path.parent.exists()


async def test_local_file_is_removed_when_processing_fails(storage: S3Storage) -> None:
    await storage.put_bytes("org-1/c.txt", b"c", "text/plain")
    seen: list[Path] = []

    async def process() -> None:
        async with storage.local_file("org-1/c.txt") as path:
            seen.append(path)
            assert path.read_bytes() == b"c"
            raise RuntimeError("processing failed")

    with pytest.raises(RuntimeError, match="processing failed"):
        await process()
    assert len(seen) == 1
    assert not seen[0].parent.exists()


async def test_presigned_put_then_get_over_http(moto: Moto, storage: S3Storage) -> None:
    data = b"uploaded straight from the browser" * 1000
    put_url = await storage.signed_url("org-1/up/raw.jpg", "PUT", expires_in=300)
    assert put_url.startswith(f"{moto.endpoint}/{BUCKET}/org-1/up/raw.jpg?")
    assert "X-Amz-Signature=" in put_url

    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.put(put_url, content=data, headers={"Content-Type": "image/jpeg"})
        assert response.status_code == 200, response.text
        assert await storage.get_bytes("org-1/up/raw.jpg") == data

        get_url = await storage.signed_url("org-1/up/raw.jpg", "GET", expires_in=300)
        response = await http.get(get_url)
        assert response.status_code == 200, response.text
        assert response.content == data


async def test_unsigned_or_stripped_urls_are_refused(moto: Moto, storage: S3Storage) -> None:
    await storage.put_bytes("org-1/private.jpg", b"private", "image/jpeg")
    get_url = await storage.signed_url("org-1/private.jpg", "GET", expires_in=300)
    # moto does not recompute SigV4 signatures for presigned URLs (a changed signature value
    # still passes there), but it does refuse requests whose signature was removed.
    stripped = re.sub(r"&?X-Amz-Signature=[0-9a-f]+", "", get_url)
    assert stripped != get_url

    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(stripped)
        assert response.status_code == 403
        assert b"private" not in response.content
        response = await http.get(f"{moto.endpoint}/{BUCKET}/org-1/private.jpg")
        assert response.status_code == 403
        assert b"private" not in response.content


async def test_multipart_with_presigned_part_urls_resumes_and_aborts(
    moto: Moto, storage: S3Storage
) -> None:
    from pix_runtime.storage import MIN_PART_BYTES, MultipartError

    data = bytes(range(256)) * (MIN_PART_BYTES // 256) + b"tail" * 1000
    chunks = [data[:MIN_PART_BYTES], data[MIN_PART_BYTES:]]
    upload = await storage.create_multipart("org-1/big.jpg", "image/jpeg")
    async with httpx.AsyncClient(timeout=60) as http:
        url = await storage.signed_part_url("org-1/big.jpg", upload, 1, expires_in=300)
        assert "uploadId=" in url
        assert "X-Amz-Signature=" in url
        first = await http.put(url, content=chunks[0])
        assert first.status_code == 200, first.text
        # Connection dropped: the server lists what arrived, the client sends the rest.
        assert [p.number for p in await storage.list_parts("org-1/big.jpg", upload)] == [1]
        url2 = await storage.signed_part_url("org-1/big.jpg", upload, 2, expires_in=300)
        assert (await http.put(url2, content=chunks[1])).status_code == 200
    parts = await storage.list_parts("org-1/big.jpg", upload)
    assert parts[0].etag == first.headers["etag"].strip('"')
    assert not await storage.exists("org-1/big.jpg")  # nothing visible before completion
    await storage.complete_multipart("org-1/big.jpg", upload, parts)
    assert await storage.get_bytes("org-1/big.jpg") == data
    assert await storage.object_size("org-1/big.jpg") == len(data)
    assert await storage.read_head("org-1/big.jpg", 4) == data[:4]

    abandoned = await storage.create_multipart("org-1/gone.jpg", "image/jpeg")
    await storage.abort_multipart("org-1/gone.jpg", abandoned)
    with pytest.raises(MultipartError):
        await storage.list_parts("org-1/gone.jpg", abandoned)
    await storage.abort_multipart("org-1/gone.jpg", abandoned)  # twice is fine


def test_the_bucket_is_prepared_for_browser_uploads(moto: Moto) -> None:
    applied = asyncio.run(moto.storage.prepare_for_browsers(["https://app.pix.example"]))
    admin = boto3.client(
        "s3",
        endpoint_url=moto.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    [rule] = admin.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert rule["AllowedOrigins"] == ["https://app.pix.example"]
    assert rule["ExposeHeaders"] == ["ETag"]
    assert "PUT" in rule["AllowedMethods"]
    [lifecycle] = admin.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert lifecycle["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert applied["cors"]["CORSRules"][0]["AllowedOrigins"] == ["https://app.pix.example"]


def test_the_browser_origins_follow_the_storage_url() -> None:
    assert browser_origins("file:///srv/pix") == []
    assert browser_origins("s3://pix?endpoint=https://acc.r2.cloudflarestorage.com") == [
        "https://acc.r2.cloudflarestorage.com",
        "https://pix.acc.r2.cloudflarestorage.com",
    ]
    assert "https://pix.s3.eu-central-1.amazonaws.com" in browser_origins(
        "s3://pix?region=eu-central-1"
    )
