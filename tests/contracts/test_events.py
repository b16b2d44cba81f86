"""The contracts package: what every producer and consumer (and a CRM) relies on."""

import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
from pix_contracts import (
    ALL_EVENTS,
    TOPICS,
    AssetUploaded,
    GalleryExported,
    OrderPlaced,
    all_topic_names,
    cloudevent_headers,
)
from pix_contracts.appointments import APPOINTMENT_EVENTS
from pix_contracts.billing import BILLING_EVENTS
from pix_contracts.galleries import GALLERY_EVENTS
from pix_contracts.leads import LEAD_EVENTS
from pix_contracts.listings import LISTING_EVENTS
from pix_contracts.privacy import PRIVACY_EVENTS
from pydantic import ValidationError

SERVICES = "auth|orders|media|captioning|export|notify|leads|listings|billing|assistant"
TOPIC_NAME = re.compile(rf"^({SERVICES})\.[a-z-]+\.[a-z-]+\.v[0-9]+$")


def test_topic_names_follow_the_convention_and_every_event_has_one() -> None:
    every_event = (
        *ALL_EVENTS,
        *LEAD_EVENTS,
        *LISTING_EVENTS,
        *BILLING_EVENTS,
        *PRIVACY_EVENTS,
        *APPOINTMENT_EVENTS,
        *GALLERY_EVENTS,
    )
    assert {event.topic for event in every_event} == set(TOPICS)
    for name in TOPICS:
        assert TOPIC_NAME.match(name), name
    assert f"{AssetUploaded.topic}.dlq" in all_topic_names()


def test_caption_workers_can_scale_out_on_the_upload_topic() -> None:
    assert TOPICS[AssetUploaded.topic].partitions >= 12


def test_partition_keys_keep_a_gallery_or_order_in_order() -> None:
    assert TOPICS[AssetUploaded.topic].key_field == "gallery_id"
    assert TOPICS[GalleryExported.topic].key_field == "gallery_id"
    assert TOPICS[OrderPlaced.topic].key_field == "order_id"


def order() -> OrderPlaced:
    return OrderPlaced(
        order_id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        gallery_id=uuid.uuid4(),
        reference="PIX-001001",
        placed_by=uuid.uuid4(),
        contact_name="Erika Muster",
        contact_email="erika@makler-example.de",
        property_address="Lindenallee 5, Berlin",
    )


def test_events_carry_id_time_and_round_trip_through_json() -> None:
    event = order()
    assert event.occurred_at.tzinfo is not None
    assert event.occurred_at <= datetime.now(UTC)
    again = OrderPlaced.model_validate_json(event.model_dump_json())
    assert again == event
    assert event.partition_key() == str(event.order_id).encode()


def test_unknown_fields_are_ignored_so_minor_additions_do_not_break_consumers() -> None:
    data = order().model_dump(mode="json") | {"added_in_a_later_minor": 1}
    assert OrderPlaced.model_validate(data).reference == "PIX-001001"


def test_missing_or_wrong_fields_are_refused() -> None:
    data = order().model_dump(mode="json")
    del data["gallery_id"]
    with pytest.raises(ValidationError):
        OrderPlaced.model_validate(data)
    with pytest.raises(ValidationError):
        OrderPlaced.model_validate(order().model_dump(mode="json") | {"contact_email": "nope"})


def test_cloudevents_binary_mode_headers() -> None:
    event = order()
    headers = cloudevent_headers(event, source="/pix/orders", correlation_id="abc")
    assert headers == {
        "ce_specversion": "1.0",
        "ce_id": str(event.event_id),
        "ce_type": "immo.pix.orders.order.placed.v1",
        "ce_source": "/pix/orders",
        "ce_time": event.occurred_at.isoformat(),
        "content-type": "application/json",
        "correlation_id": "abc",
    }


def test_the_package_needs_nothing_but_pydantic() -> None:
    code = (
        "import sys, pix_contracts, pix_contracts.rooms\n"
        "roots = {m.split('.')[0] for m in sys.modules}\n"
        "ours = {'pix_contracts', 'pydantic', 'pydantic_core', 'typing_extensions',\n"
        "        'annotated_types', 'typing_inspection', 'email_validator', 'dns', 'idna'}\n"
        "third = {r for r in roots - ours if r not in sys.stdlib_module_names\n"
        "         and not r.startswith('_')}\n"
        "print(sorted(third))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
