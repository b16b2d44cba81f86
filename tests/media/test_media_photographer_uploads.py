"""The photographer of an order's appointment uploads into its gallery: media learns the
assignment from orders' appointment events (through the broker's test client, into an inbox
row) and lets that photographer, and no other, start and complete uploads; a cancellation or a
reassignment ends it, an older event arriving late changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, time
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from photos import jpeg_with_gps, room_photo
from pix_contracts.appointments import (
    Appointment,
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentScheduled,
)
from pix_media.app import create_app
from pix_media.models import galleries
from pix_media.settings import MediaSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.lifecycle import ServiceRuntime


class Shoot:
    def __init__(self, runtime: ServiceRuntime, http: httpx.AsyncClient, broker: Any) -> None:
        self.runtime, self.http, self.broker = runtime, http, broker
        self.org = uuid.uuid4()
        self.gallery = uuid.uuid4()
        self.order = uuid.uuid4()

    def as_photographer(self, user_id: uuid.UUID) -> dict[str, str]:
        # Platform staff: their own org id is not the client's.
        who = Identity(
            user_id=user_id,
            org_id=uuid.uuid4(),
            role="photographer",
            email="foto@pix.immo",
            name="Paula Foto",
        )
        return {IDENTITY_HEADER: sign_identity(who, self.runtime.internal_key)}

    def event(self, kind: type[Any], photographer: uuid.UUID, sequence: int, **extra: Any) -> Any:
        return kind.model_validate(
            {
                "order_id": self.order,
                "org_id": self.org,
                "gallery_id": self.gallery,
                "reference": "PIX-001001",
                "appointment": appointment(photographer),
                "sequence": sequence,
                "contact_name": "Erika Muster",
                "contact_email": "erika@makler-example.de",
                "property_address": "Lindenallee 5a, 10115 Berlin",
                **extra,
            }
        )

    async def publish(self, event: Any) -> None:
        await self.broker.publish(event.model_dump_json().encode(), type(event).topic)

    async def start(self, user_id: uuid.UUID, size: int) -> httpx.Response:
        return await self.http.post(
            f"/galleries/{self.gallery}/uploads",
            headers=self.as_photographer(user_id),
            json={"file_name": "Küche.jpg", "byte_size": size},
        )


def appointment(photographer: uuid.UUID) -> Appointment:
    return Appointment(
        date=date(2027, 3, 1),
        starts_at=time(9, 0),
        ends_at=time(11, 0),
        photographer_id=photographer,
    )


@pytest.fixture
async def shoot(migrated: set[str]) -> AsyncIterator[Shoot]:
    app, runtime = create_app(MediaSettings())
    transport = httpx.ASGITransport(app=app)
    async with (
        TestKafkaBroker(runtime.broker) as broker,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        shoot = Shoot(runtime, http, broker)
        async with runtime.db.transaction() as session:
            await session.execute(
                galleries.insert().values(
                    id=shoot.gallery,
                    org_id=shoot.org,
                    order_id=shoot.order,
                    reference="PIX-001001",
                    title="Lindenallee 5a",
                )
            )
        yield shoot
    await runtime.db.dispose()


async def test_only_the_assigned_photographer_uploads_into_the_gallery(shoot: Shoot) -> None:
    paula, other = uuid.uuid4(), uuid.uuid4()
    data = jpeg_with_gps(room_photo(800, 600))
    # Before any appointment the gallery is as absent for a photographer as any other.
    assert (await shoot.start(paula, len(data))).status_code == 404

    await shoot.publish(shoot.event(AppointmentScheduled, paula, 0))
    ticket = await shoot.start(paula, len(data))
    assert ticket.status_code == 201, ticket.text
    url = ticket.json()["upload_url"].replace("http://testserver/api/media", "")
    assert (await shoot.http.put(url, content=data)).status_code == 200
    asset_id = ticket.json()["asset_id"]
    done = await shoot.http.post(
        f"/assets/{asset_id}/complete", headers=shoot.as_photographer(paula)
    )
    assert done.status_code == 202, done.text
    mine = await shoot.http.get("/galleries", headers=shoot.as_photographer(paula))
    assert [g["id"] for g in mine.json()] == [str(shoot.gallery)]

    # Another photographer: no uploads, no asset, no gallery in their list.
    assert (await shoot.start(other, len(data))).status_code == 404
    foreign = await shoot.http.get(f"/assets/{asset_id}", headers=shoot.as_photographer(other))
    assert foreign.status_code == 404
    assert (await shoot.http.get("/galleries", headers=shoot.as_photographer(other))).json() == []


async def test_reassignment_and_cancellation_end_the_right_to_upload(shoot: Shoot) -> None:
    paula, bernd = uuid.uuid4(), uuid.uuid4()
    first = shoot.event(AppointmentScheduled, paula, 0)
    await shoot.publish(first)
    assert (await shoot.start(paula, 1000)).status_code == 201

    await shoot.publish(
        shoot.event(AppointmentChanged, bernd, 1, previous=appointment(paula).model_dump())
    )
    assert (await shoot.start(paula, 1000)).status_code == 404
    assert (await shoot.start(bernd, 1000)).status_code == 201
    # The first scheduling, arriving again late as a new event, does not undo the change.
    late = shoot.event(AppointmentScheduled, paula, 0)
    await shoot.publish(late)
    assert (await shoot.start(paula, 1000)).status_code == 404

    await shoot.publish(shoot.event(AppointmentCancelled, bernd, 2))
    assert (await shoot.start(bernd, 1000)).status_code == 404
