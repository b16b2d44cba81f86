"""The topic registry: every topic, its partition count and partition key field."""

from __future__ import annotations

from dataclasses import dataclass

from pix_contracts.appointments import APPOINTMENT_EVENTS
from pix_contracts.billing import BILLING_EVENTS
from pix_contracts.envelope import Event
from pix_contracts.events import ALL_EVENTS, AssetUploaded
from pix_contracts.galleries import GALLERY_EVENTS
from pix_contracts.leads import LEAD_EVENTS
from pix_contracts.listings import LISTING_EVENTS
from pix_contracts.privacy import PRIVACY_EVENTS

DEAD_LETTER_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    key_field: str
    event: type[Event]
    # How long the broker keeps events; consumers that were down longer catch up from the
    # producers' outboxes, which keep what they sent for their own window.
    retention_hours: int = 7 * 24

    @property
    def dead_letter(self) -> str:
        return self.name + DEAD_LETTER_SUFFIX


# Caption workers scale out by partition, so the upload topic gets enough of them (and the
# autoscaler's maximum replica count equals it).
_PARTITIONS: dict[type[Event], int] = {AssetUploaded: 32}
DEFAULT_PARTITIONS = 3

TOPICS: dict[str, Topic] = {
    event.topic: Topic(
        event.topic, _PARTITIONS.get(event, DEFAULT_PARTITIONS), event.key_field, event
    )
    for event in (
        *ALL_EVENTS,
        *LEAD_EVENTS,
        *LISTING_EVENTS,
        *BILLING_EVENTS,
        *PRIVACY_EVENTS,
        *APPOINTMENT_EVENTS,
        *GALLERY_EVENTS,
    )
}


def topic_of(event: type[Event]) -> Topic:
    return TOPICS[event.topic]


def all_topic_names() -> list[str]:
    """Every topic including its dead-letter topic, for creating them at start."""
    names: list[str] = []
    for topic in TOPICS.values():
        names += [topic.name, topic.dead_letter]
    return names
