"""Webhooks against a real HTTP receiver on loopback, verified as the README documents."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from export_testkit import caption_ready, export_service
from pix_export.models import webhooks
from pix_export.webhooks import public_only_transport
from sqlalchemy import select, update


class Receiver:
    """A CRM endpoint: verifies signature and timestamp, deduplicates on Pix-Webhook-Id."""

    def __init__(self) -> None:
        self.secret = ""
        self.fail_next = 0
        self.accepted: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.rejected = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.receive(dict(self.headers), body)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def receive(self, headers: dict[str, str], body: bytes) -> int:
        timestamp = int(headers["Pix-Webhook-Timestamp"])
        if abs(time.time() - timestamp) > 300:
            self.rejected += 1
            return 400
        expected = hmac.new(
            self.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest("v1=" + expected, headers["Pix-Webhook-Signature"]):
            self.rejected += 1
            return 401
        if self.fail_next:
            self.fail_next -= 1
            return 503
        if headers["Pix-Webhook-Id"] not in self.seen:
            self.seen.add(headers["Pix-Webhook-Id"])
            self.accepted.append(json.loads(body))
        return 204


async def test_exports_reach_the_webhook_once_signed_with_retries_and_a_log(
    migrated: set[str],
) -> None:
    receiver = Receiver()
    async with export_service(webhook_retry_base_seconds=30) as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        async with svc.client() as http:
            refused = await http.post(
                "/webhooks", json={"url": "http://example.com/x"}, headers=svc.headers(org_id)
            )
            assert refused.status_code == 422
            created = await http.post(
                "/webhooks",
                json={"url": receiver.url, "description": "CRM"},
                headers=svc.headers(org_id),
            )
            assert created.status_code == 201, created.text
            hook = created.json()
            receiver.secret = hook["secret"]
            listed = (await http.get("/webhooks", headers=svc.headers(org_id))).json()
            assert [w["id"] for w in listed] == [hook["id"]]
            assert "secret" not in listed[0]
            assert (await http.get("/webhooks", headers=svc.headers(uuid.uuid4()))).json() == []

            # The secret is stored encrypted, never in clear.
            async with svc.runtime.db.sessions() as session:
                sealed = await session.scalar(
                    select(webhooks.c.secret_sealed).where(webhooks.c.id == uuid.UUID(hook["id"]))
                )
            assert sealed
            assert hook["secret"].encode() not in sealed

            test = await http.post(f"/webhooks/{hook['id']}/test", headers=svc.headers(org_id))
            assert test.json()["status"] == "delivered", test.text
            assert receiver.accepted[-1]["type"] == "immo.pix.export.webhook.test"

            # An export: the first attempt fails (503), the retry succeeds.
            receiver.fail_next = 1
            await svc.runtime.storage.put_bytes(
                f"renditions/{gallery_id}/Kitchen_01/web.jpg", b"\xff\xd8\xffx", "image/jpeg"
            )
            ready = caption_ready(gallery_id, org_id, "Kitchen_01")
            await svc.publish(ready)
            await svc.publish(ready)  # redelivered: no second export, no second webhook
            delivered = await svc.deliver(gallery_id, org_id, ["Kitchen_01"])
            await svc.publish(delivered)
            assert await svc.runtime.jobs.run_due() == 1
            log = (
                await http.get(f"/webhooks/{hook['id']}/deliveries", headers=svc.headers(org_id))
            ).json()
            assert log[0]["status"] == "retrying"
            assert log[0]["last_status_code"] == 503
            assert log[0]["next_attempt_at"]
            assert await svc.runtime.jobs.run_due() == 0  # the backoff is not over yet
            svc.runtime.clock.advance(timedelta(seconds=31))  # now it is (at most 30 s)
            assert await svc.runtime.jobs.run_due() == 1
            assert await svc.runtime.jobs.run_due() == 0
            log = (
                await http.get(f"/webhooks/{hook['id']}/deliveries", headers=svc.headers(org_id))
            ).json()
            assert [d["status"] for d in log] == ["delivered", "delivered"]
            assert log[0]["attempts"] == 2
            other = await http.get(
                f"/webhooks/{hook['id']}/deliveries", headers=svc.headers(uuid.uuid4())
            )
            assert other.status_code == 404

        exported = [
            e for e in receiver.accepted if e["type"] == "immo.pix.export.gallery.exported.v1"
        ]
        assert len(exported) == 1
        data = exported[0]["data"]
        assert data["gallery_id"] == str(gallery_id)
        assert data["version"] == 1
        assert {f["name"] for f in data["files"]} >= {"captions.json", "openimmo.zip"}
        assert all(f["sha256"] and f["download_url"] for f in data["files"])
        assert receiver.rejected == 0

        # A forged or replayed request fails the receiver's own checks.
        body = json.dumps(exported[0]).encode()
        old = int(time.time()) - 3600
        forged = {"Pix-Webhook-Timestamp": str(old), "Pix-Webhook-Id": "x"}
        forged["Pix-Webhook-Signature"] = (
            "v1="
            + hmac.new(
                receiver.secret.encode(), f"{old}.".encode() + body, hashlib.sha256
            ).hexdigest()
        )
        assert receiver.receive(forged, body) == 400
    receiver.server.shutdown()


async def test_a_delivery_that_keeps_failing_is_retried_for_24_hours_then_failed(
    migrated: set[str],
) -> None:
    receiver = Receiver()
    receiver.fail_next = 1000
    async with export_service(webhook_retry_base_seconds=30) as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        async with svc.client() as http:
            created = await http.post(
                "/webhooks", json={"url": receiver.url}, headers=svc.headers(org_id)
            )
            hook = created.json()
            receiver.secret = hook["secret"]
            await svc.runtime.storage.put_bytes(
                f"renditions/{gallery_id}/Kitchen_01/web.jpg", b"\xff\xd8\xffx", "image/jpeg"
            )
            await svc.publish(caption_ready(gallery_id, org_id, "Kitchen_01"))
            await svc.publish(await svc.deliver(gallery_id, org_id, ["Kitchen_01"]))

            async def outcome() -> tuple[str, int]:
                [delivery] = (
                    await http.get(
                        f"/webhooks/{hook['id']}/deliveries", headers=svc.headers(org_id)
                    )
                ).json()
                return delivery["status"], delivery["attempts"]

            assert await svc.runtime.jobs.run_due() == 1
            # Retries are at most 6 h apart: each 6 h on, one more attempt is due.
            for attempts in (2, 3, 4, 5):
                assert await outcome() == ("retrying", attempts - 1)
                svc.runtime.clock.advance(timedelta(hours=6, seconds=1))
                assert await svc.runtime.jobs.run_due() == 1
            assert await outcome() == ("failed", 5)  # the attempt 24 h on was the last
            svc.runtime.clock.advance(timedelta(days=1))
            assert await svc.runtime.jobs.run_due() == 0
    assert receiver.accepted == []
    receiver.server.shutdown()


async def test_webhooks_never_connect_into_our_own_network(migrated: set[str]) -> None:
    """With insecure endpoints off (production), the address is checked when the connection
    opens and the socket goes to the checked address: names resolving to loopback, private or
    link-local addresses (cloud metadata) are refused, and nothing reaches them."""
    receiver = Receiver()
    port = receiver.server.server_port
    async with httpx.AsyncClient(transport=public_only_transport(), timeout=2) as client:
        for url in (
            receiver.url,
            f"https://localhost:{port}/hook",
            f"http://[::1]:{port}/hook",
            "https://10.0.0.7/hook",
            "http://169.254.169.254/latest/meta-data/",
        ):
            with pytest.raises(httpx.ConnectError, match="non-public"):
                await client.post(url, content=b"{}")
        # A public address is connected to (no internet here: it fails otherwise).
        with pytest.raises(httpx.TransportError) as public:
            await client.post("https://1.1.1.1/hook", content=b"{}")
        assert "non-public" not in str(public.value)

    async with export_service(allow_insecure_webhooks=False) as svc:
        org_id = uuid.uuid4()
        async with svc.client() as http:
            for internal in (
                f"https://localhost:{port}/hook",
                "https://10.0.0.7/hook",
                "https://[::1]/hook",
                "https://169.254.169.254/latest/meta-data/",
            ):
                refused = await http.post(
                    "/webhooks", json={"url": internal}, headers=svc.headers(org_id)
                )
                assert refused.status_code == 422, internal
                assert refused.json()["error"]["code"] == "internal_address"
            # A name public when registered and re-pointed inside later is refused on delivery.
            created = await http.post(
                "/webhooks", json={"url": "https://1.1.1.1/hook"}, headers=svc.headers(org_id)
            )
            assert created.status_code == 201, created.text
            async with svc.runtime.db.transaction() as session:
                await session.execute(
                    update(webhooks)
                    .where(webhooks.c.id == uuid.UUID(created.json()["id"]))
                    .values(url=f"https://localhost:{port}/hook")
                )
            test = await http.post(
                f"/webhooks/{created.json()['id']}/test", headers=svc.headers(org_id)
            )
            assert test.json()["status"] == "failed"
            assert "non-public" in test.json()["last_error"]
    assert receiver.accepted == []
    assert receiver.rejected == 0
