"""A photo over 16 MiB goes from Chromium straight to S3 (moto's server) in parts, through the
gateway's real CSP and the bucket's CORS rule as `pix-stack storage setup` sets it.

moto runs as its own process with its blanket CORS switched off, so before the setup the
browser may not PUT to the bucket at all; afterwards the upload page sends the parts there,
and the photo is processed and captioned from the assembled object.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import snap
from photos import room_photo
from playwright.async_api import ConsoleMessage, Page, Request, expect
from production_stack import S3_KEYS, MotoS3, moto_s3, run_stack_with
from stack import Stack
from test_orders_gallery_browser import signed_up_and_in

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(900)]

MULTIPART_THRESHOLD = 16 * 1024 * 1024
PART_BYTES = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    with moto_s3(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="module")
def s3_stack(s3: MotoS3) -> Iterator[Stack]:
    data_dir = Path(tempfile.mkdtemp(prefix="pix-s3-stack-"))
    data_dir.chmod(0o755)  # embedded PostgreSQL runs as a system user when we are root
    yield from run_stack_with(data_dir, {"PIX_STORAGE_URL": s3.storage_url, **S3_KEYS})


def big_jpeg(path: Path, at_least: int) -> bytes:
    """A real photo padded with JPEG comment segments to more than `at_least` bytes: a valid
    file any decoder reads, as large as a camera's, quick to process."""
    buffer = io.BytesIO()
    room_photo(1600, 1200).save(buffer, "JPEG", quality=90)
    jpeg = buffer.getvalue()
    chunk = b"pix.immo multipart test " * 2700  # < 65533 bytes per segment
    segment = b"\xff\xfe" + struct.pack(">H", len(chunk) + 2) + chunk
    count = at_least // len(segment) + 1
    data = jpeg[:2] + segment * count + jpeg[2:]
    path.write_bytes(data)
    return data


def order_form() -> dict[str, Any]:
    soon = date.today() + timedelta(days=7)
    return {
        "contact_name": "Erika Muster",
        "contact_email": "erika@makler-example.de",
        "contact_phone": "030 1234567",
        "street": "Lindenallee",
        "house_number": "5",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
        "property_type": "apartment",
        "marketing": "sale",
        "living_area_m2": 84.5,
        "rooms": 3,
        "services": ["photos"],
        "preferred_slots": [{"date": soon.isoformat(), "window": "morning"}],
        "access_notes": "",
        "locale": "de",
    }


def storage_setup(stack: Stack, s3: MotoS3) -> str:
    env = {
        **os.environ,
        "PIX_STORAGE_URL": s3.storage_url,
        "PIX_PUBLIC_URL": stack.base_url,
        **S3_KEYS,
    }
    done = subprocess.run(
        [sys.executable, "-m", "pix_stack", "storage", "setup"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def test_a_big_photo_goes_from_chromium_straight_to_s3_in_parts(
    page: Page, s3_stack: Stack, s3: MotoS3, tmp_path: Path, expected_problems: list[str]
) -> None:
    stack = s3_stack
    # The probe below is refused by CORS on purpose, before the bucket is set up.
    expected_problems.append("cors-probe")
    console: list[str] = []

    def remember(message: ConsoleMessage) -> None:
        console.append(message.text)

    page.on("console", remember)

    # The gateway's CSP lets the page talk to the bucket and show its images; nothing else
    # configured that (PIX_STORAGE_URL alone).
    answer = await page.goto(stack.base_url + "/login")
    assert answer is not None
    csp = answer.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert s3.endpoint in directives["connect-src"]
    assert s3.endpoint in directives["img-src"]

    await signed_up_and_in(page, stack)
    session = next(c for c in await page.context.cookies() if c["name"] == "__Host-session")
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as http:
        auth = {"Authorization": f"Bearer {session['value']}"}
        placed = await http.post("/api/orders/orders", headers=auth, json=order_form())
        assert placed.status_code == 201, placed.text
        gallery_id = placed.json()["gallery_id"]
        # Media opens the gallery once it has read the order's event.
        deadline = time.monotonic() + 60
        while (await http.get(f"/api/media/galleries/{gallery_id}", headers=auth)).is_error:
            assert time.monotonic() < deadline, "the gallery was never opened"
            await asyncio.sleep(0.2)

    await page.goto(f"{stack.base_url}/galleries/{gallery_id}")
    await expect(page.locator("[data-test=file-input]")).to_be_attached(timeout=30_000)

    # Without the bucket's CORS rule the browser may not send anything there.
    refused = await page.evaluate(
        """url => fetch(url, {method: "PUT", body: "x"}).then(r => "sent " + r.status,
                                                               e => "refused")""",
        f"{s3.endpoint}/{s3.bucket}/cors-probe",
    )
    assert refused == "refused"
    assert any("CORS" in line for line in console), console
    client: Any = s3.client()
    assert "Contents" not in client.list_objects_v2(Bucket=s3.bucket, Prefix="cors-probe")

    printed = storage_setup(stack, s3)
    assert f"CORS for {stack.base_url}" in printed, printed
    assert "incomplete multipart uploads aborted" in printed
    rule = client.get_bucket_cors(Bucket=s3.bucket)["CORSRules"][0]
    assert rule["ExposeHeaders"] == ["ETag"]
    lifecycle = client.get_bucket_lifecycle_configuration(Bucket=s3.bucket)["Rules"][0]
    assert lifecycle["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1

    parts: list[Request] = []

    def part_put(request: Request) -> None:
        if request.method == "PUT" and request.url.startswith(s3.endpoint):
            parts.append(request)

    page.on("requestfinished", part_put)
    console.clear()

    data = big_jpeg(tmp_path / "Wohnzimmer_01.jpg", MULTIPART_THRESHOLD + 1024 * 1024)
    assert len(data) > MULTIPART_THRESHOLD
    await page.set_input_files("[data-test=file-input]", str(tmp_path / "Wohnzimmer_01.jpg"))
    bar = page.locator(".upload-list progress")
    await expect(bar).to_have_js_property("value", 1, timeout=120_000)
    photo = page.locator("[data-test=photo]")
    await expect(photo).to_have_count(1, timeout=60_000)
    await expect(photo.first).to_have_attribute("data-status", "captioned", timeout=120_000)
    await snap(page, "s3-multipart-upload")

    # The bytes went to the bucket in parts (8 MiB each, the last smaller), none through us.
    expected_parts = -(-len(data) // PART_BYTES)
    assert len(parts) == expected_parts, [r.url for r in parts]
    for request in parts:
        assert "partNumber=" in request.url
        assert "uploadId=" in request.url
        response = await request.response()
        assert response is not None
        assert response.status == 200
        assert response.headers.get("access-control-allow-origin") == stack.base_url
    assert not [line for line in console if "Content Security Policy" in line], console

    # The assembled original is the file, byte for byte.
    originals = client.list_objects_v2(Bucket=s3.bucket, Prefix=f"originals/{gallery_id}/")
    [original] = originals["Contents"]
    stored = client.get_object(Bucket=s3.bucket, Key=original["Key"])["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()

    # The thumbnail is shown from the bucket (the CSP's img-src).
    image = photo.first.locator("img")
    await expect(image).to_be_visible(timeout=30_000)
    assert (await image.get_attribute("src") or "").startswith(s3.endpoint)
    assert await image.evaluate("img => img.complete && img.naturalWidth > 0")
