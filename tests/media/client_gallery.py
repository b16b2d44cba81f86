"""A client's gallery in a media app of its own (the real pipeline, the real database, a
test broker), as the arrangement and sharing tests use it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from faststream.kafka import TestKafkaBroker
from photos import jpeg_with_gps
from PIL import Image
from pix_media.app import create_app
from pix_media.models import galleries
from pix_media.settings import MediaSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime


class Gallery:
    """One order's gallery in media, seen by a member of its organisation."""

    def __init__(self, runtime: ServiceRuntime, http: httpx.AsyncClient, broker: Any) -> None:
        self.runtime, self.http, self.broker = runtime, http, broker
        self.org, self.id, self.order = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def headers(self, *, org: uuid.UUID | None = None, role: str = "agent") -> dict[str, str]:
        who = Identity(
            user_id=uuid.uuid4(), org_id=org or self.org, role=role, email="a@b.de", name="A"
        )
        return {IDENTITY_HEADER: sign_identity(who, self.runtime.internal_key)}

    async def upload(self, name: str, image: Image.Image, *, quality: int = 90) -> str:
        data = jpeg_with_gps(image, quality=quality)
        started = await self.http.post(
            f"/galleries/{self.id}/uploads",
            headers=self.headers(),
            json={"file_name": name, "byte_size": len(data)},
        )
        assert started.status_code == 201, started.text
        ticket = started.json()
        put = await self.http.put(self.local(ticket["upload_url"]), content=data)
        assert put.status_code == 200
        done = await self.http.post(
            f"/assets/{ticket['asset_id']}/complete", headers=self.headers()
        )
        assert done.status_code == 202, done.text
        while await self.runtime.jobs.run_due():
            pass
        return str(ticket["asset_id"])

    @staticmethod
    def local(url: str) -> str:
        return url.replace("http://testserver/api/media", "")

    async def get(self, path: str, **who: Any) -> httpx.Response:
        return await self.http.get(f"/galleries/{self.id}{path}", headers=self.headers(**who))

    async def put(self, path: str, body: object, **who: Any) -> httpx.Response:
        return await self.http.put(
            f"/galleries/{self.id}{path}", json=body, headers=self.headers(**who)
        )

    async def download(self, asset: str, size: str) -> tuple[dict[str, Any], bytes]:
        answer = await self.get(f"/photos/{asset}/download?size={size}")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        file = await self.http.get(self.local(body["url"]))
        assert file.status_code == 200
        return body, file.content


@asynccontextmanager
async def opened_gallery(title: str = "Lindenallee 7") -> AsyncIterator[Gallery]:
    app, runtime = create_app(MediaSettings(face_scan="off"))
    async with (
        TestKafkaBroker(runtime.broker) as broker,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http,
    ):
        gallery = Gallery(runtime, http, broker)
        async with runtime.db.transaction() as session:
            await session.execute(
                galleries.insert().values(
                    id=gallery.id,
                    org_id=gallery.org,
                    order_id=gallery.order,
                    reference="PIX-7",
                    title=title,
                )
            )
        yield gallery
    await runtime.db.dispose()
