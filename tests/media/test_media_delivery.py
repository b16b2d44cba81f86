"""The photo set and its delivery: media decides when a gallery is complete and delivers it.

Events arrive through FastStream's TestKafkaBroker, jobs run with `run_due` on the service's
clock, which the tests move instead of waiting: every ordering is checked, not only the happy
path (duplicates, old caption versions, refusals, deletions, a restart between the last caption
and the check).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from faststream.kafka import TestKafkaBroker
from pix_contracts import (
    CaptionFailed,
    CaptionReady,
    CaptionText,
    Event,
    GalleryDelivered,
    GalleryStateChanged,
    OrderPlaced,
)
from pix_media.app import create_app
from pix_media.models import assets, outbox
from pix_media.settings import MediaSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime
from sqlalchemy import func, select, update

QUIET = timedelta(seconds=60)
PAST_QUIET = QUIET + timedelta(seconds=1)


class Media:
    def __init__(self, runtime: ServiceRuntime, broker: Any, app: Any) -> None:
        self.runtime, self.broker, self.app = runtime, broker, app
        self.order = OrderPlaced(
            order_id=uuid.uuid4(),
            org_id=uuid.uuid4(),
            gallery_id=uuid.uuid4(),
            reference="PIX-001234",
            placed_by=uuid.uuid4(),
            contact_name="Erika Muster",
            contact_email="erika@makler-example.de",
            property_address="Lindenallee 5, Berlin",
        )

    @property
    def gallery_id(self) -> uuid.UUID:
        return self.order.gallery_id

    async def publish(self, event: Event) -> None:
        await self.broker.publish(event.model_dump_json().encode(), event.topic)

    async def photo(self, status: str = "processed", version: int = 1) -> uuid.UUID:
        asset_id = uuid.uuid4()
        async with self.runtime.db.transaction() as session:
            await session.execute(
                assets.insert().values(
                    id=asset_id,
                    gallery_id=self.gallery_id,
                    org_id=self.order.org_id,
                    uploaded_by=self.order.placed_by,
                    label="Küche.jpg",
                    status=status,
                    version=version,
                    declared_bytes=100,
                    original_key=f"originals/{self.gallery_id}/{asset_id}",
                    pseudonym=f"Kitchen_{asset_id.hex[:4]}",
                )
            )
        return asset_id

    def caption(self, asset_id: uuid.UUID, caption_version: int = 1) -> CaptionReady:
        return CaptionReady(
            asset_id=asset_id,
            gallery_id=self.gallery_id,
            org_id=self.order.org_id,
            asset_version=1,
            caption_version=caption_version,
            pseudonym="Kitchen_01",
            caption=CaptionText(
                room_type="kitchen",
                title_de="Helle Küche",
                title_en="Bright kitchen",
                description_de="Hell.",
                description_en="Bright.",
                alt_text_de="Küche",
                alt_text_en="Kitchen",
                features=[],
            ),
            model="offline-template-v1",
            provider="offline",
            prompt_version="offline-1",
            txt_key="t",
            json_key="j",
            web_key="w",
        )

    def refusal(self, asset_id: uuid.UUID) -> CaptionFailed:
        return CaptionFailed(
            asset_id=asset_id,
            gallery_id=self.gallery_id,
            org_id=self.order.org_id,
            asset_version=1,
            pseudonym="Kitchen_01",
            reason="model refused",
            attempts=3,
        )

    async def settle(self, by: timedelta = PAST_QUIET) -> None:
        """Let the quiet period pass and run the checks that are due."""
        self.runtime.clock.advance(by)
        await self.runtime.jobs.run_due()

    async def announced(self, event: type[Event]) -> list[Any]:
        async with self.runtime.db.sessions() as session:
            payloads = (
                await session.execute(
                    select(outbox.c.payload)
                    .where(
                        outbox.c.topic == event.topic,
                        func.encode(outbox.c.payload, "escape").contains(str(self.gallery_id)),
                    )
                    .order_by(outbox.c.id)
                )
            ).scalars()
            return [event.model_validate_json(p) for p in payloads]

    async def deliveries(self) -> list[GalleryDelivered]:
        return await self.announced(GalleryDelivered)

    def headers(self, role: str = "admin", org_id: uuid.UUID | None = None) -> dict[str, str]:
        who = Identity(
            user_id=uuid.uuid4(),
            org_id=org_id or uuid.uuid4(),
            role=role,  # type: ignore[arg-type]
            email="staff@pix.immo",
            name="Staff",
        )
        return {IDENTITY_HEADER: sign_identity(who, self.runtime.internal_key)}

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://x")


@asynccontextmanager
async def media_service(order: OrderPlaced | None = None, **settings: Any) -> AsyncIterator[Media]:
    app, runtime = create_app(
        MediaSettings(**({"delivery_quiet_seconds": QUIET.total_seconds()} | settings))
    )
    async with TestKafkaBroker(runtime.broker) as broker:
        media = Media(runtime, broker, app)
        if order is None:
            await media.publish(media.order)
        else:
            media.order = order
        yield media
    await runtime.db.dispose()


async def test_a_burst_of_captions_is_delivered_once_after_the_quiet_period(
    migrated: set[str],
) -> None:
    async with media_service() as media:
        photos = [await media.photo() for _ in range(3)]
        for asset_id in photos:
            await media.publish(media.caption(asset_id))
            await media.settle(timedelta(seconds=20))  # each within the quiet period of the last
        assert await media.deliveries() == []
        await media.settle()
        await media.settle()
        [delivered] = await media.deliveries()
        assert delivered.delivery == 1
        assert delivered.automatic
        assert delivered.delivered_by is None
        assert delivered.order_id == media.order.order_id
        assert sorted(p.asset_id for p in delivered.photos) == sorted(photos)
        assert {(p.outcome, p.caption_version) for p in delivered.photos} == {("captioned", 1)}
        states = await media.announced(GalleryStateChanged)
        assert [s.state for s in states] == ["complete"]
        assert states[0].set_version == delivered.set_version
        assert states[0].photo_count == 3


async def test_a_photo_in_flight_holds_the_delivery_and_a_refusal_completes_the_set(
    migrated: set[str],
) -> None:
    async with media_service() as media:
        captioned = await media.photo()
        waiting = await media.photo()
        uploading = await media.photo(status="pending")
        refused = await media.photo(status="pending")
        await media.publish(media.caption(captioned))
        await media.settle()
        assert await media.deliveries() == []
        assert [s.state for s in await media.announced(GalleryStateChanged)] == ["in_progress"]

        # Refused by captioning, refused by media (what uploads and processing do), gone.
        await media.publish(media.refusal(waiting))
        async with media.runtime.db.transaction() as session:
            await session.execute(
                update(assets).where(assets.c.id == refused).values(status="rejected")
            )
            await media.app.state.photo_set.changed(session, media.gallery_id)
        await media.settle()
        assert await media.deliveries() == []  # `uploading` is still on its way
        async with media.client() as http:
            response = await http.delete(f"/assets/{uploading}", headers=media.headers())
            assert response.status_code == 204
        await media.settle()
        [delivered] = await media.deliveries()
        assert {p.asset_id: p.outcome for p in delivered.photos} == {
            captioned: "captioned",
            waiting: "caption_failed",
        }
        states = await media.announced(GalleryStateChanged)
        assert [s.state for s in states] == ["in_progress", "complete"]
        assert states[-1].rejected_count == 1


async def test_duplicates_and_old_caption_versions_change_nothing(migrated: set[str]) -> None:
    async with media_service() as media:
        asset_id = await media.photo()
        newer = media.caption(asset_id, caption_version=2)
        for event in (newer, newer, media.caption(asset_id, caption_version=1)):
            await media.publish(event)
        await media.publish(media.refusal(asset_id))  # a late failure after the caption
        await media.settle()
        [delivered] = await media.deliveries()
        assert [(p.outcome, p.caption_version) for p in delivered.photos] == [("captioned", 2)]
        async with media.runtime.db.sessions() as session:
            status = await session.scalar(select(assets.c.status).where(assets.c.id == asset_id))
        assert status == "captioned"
        # Nothing changed since: a later check delivers nothing more.
        await media.publish(newer)
        await media.settle()
        assert len(await media.deliveries()) == 1


async def test_a_restart_between_the_last_caption_and_the_check_still_delivers_once(
    migrated: set[str],
) -> None:
    async with media_service() as media:
        photos = [await media.photo() for _ in range(2)]
        for asset_id in photos:
            await media.publish(media.caption(asset_id))
        order = media.order
    # A new process: the check is a row in the jobs table, not a timer of the old one.
    async with media_service(order=order) as media:
        assert await media.deliveries() == []
        await media.settle()
        await media.settle()
        [delivered] = await media.deliveries()
        assert len(delivered.photos) == 2


async def test_changes_after_a_delivery_are_delivered_as_updates(migrated: set[str]) -> None:
    async with media_service(auto_deliver=False) as media:
        first = await media.photo()
        await media.publish(media.caption(first))
        await media.settle()
        assert await media.deliveries() == []  # auto-delivery is off: a person decides

        async with media.client() as http:
            path = f"/galleries/{media.gallery_id}/deliver"
            agent = media.headers("client", media.order.org_id)
            assert (await http.post(path, headers=agent)).status_code == 403
            answer = await http.post(path, headers=media.headers())
            assert answer.status_code == 200, answer.text
            assert answer.json()["delivered"]
            assert answer.json()["up_to_date"]
            again = await http.post(path, headers=media.headers())
            assert again.status_code == 409
            assert again.json()["error"]["code"] == "already_delivered"

            # A caption edit and a new photo: the update waits for the new photo's caption.
            second = await media.photo()
            await media.publish(media.caption(first, caption_version=2))
            await media.settle()
            assert len(await media.deliveries()) == 1
            busy = await http.post(path, headers=media.headers())
            assert busy.status_code == 409
            assert busy.json()["error"]["code"] == "gallery_incomplete"
            await media.publish(media.caption(second))
            await media.settle()
            seen = await http.get(f"/galleries/{media.gallery_id}/delivery", headers=agent)
            state = seen.json()
        first_delivery, update_delivery = await media.deliveries()
        assert first_delivery.delivery == 1
        assert not first_delivery.automatic
        assert update_delivery.delivery == 2
        assert update_delivery.automatic
        assert {p.asset_id: p.caption_version for p in update_delivery.photos} == {
            first: 2,
            second: 1,
        }
        assert state["delivery_count"] == 2
        assert state["up_to_date"]


async def test_an_empty_gallery_is_not_delivered_and_strangers_see_nothing(
    migrated: set[str],
) -> None:
    async with media_service() as media, media.client() as http:
        path = f"/galleries/{media.gallery_id}/deliver"
        empty = await http.post(path, headers=media.headers())
        assert empty.status_code == 409
        assert empty.json()["error"]["code"] == "gallery_empty"
        stranger = media.headers("client")
        seen = await http.get(f"/galleries/{media.gallery_id}/delivery", headers=stranger)
        assert seen.status_code == 404
