"""The base of every event, and the CloudEvents binary-mode header mapping.

Kafka headers carry the CloudEvents attributes so a consumer can route and deduplicate
without parsing the body; the body is the event's JSON.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

CLOUDEVENTS_SPEC_VERSION = "1.0"
EVENT_TYPE_PREFIX = "immo.pix."


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Fields every event has. Subclasses set `topic` and `key_field`.

    Unknown fields are ignored so that a producer may add optional fields within a major version
    without breaking older consumers.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    topic: ClassVar[str]
    key_field: ClassVar[str]

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: AwareDatetime = Field(default_factory=utc_now)

    def partition_key(self) -> bytes:
        return str(getattr(self, self.key_field)).encode()

    @classmethod
    def cloudevent_type(cls) -> str:
        return EVENT_TYPE_PREFIX + cls.topic


def cloudevent_headers(
    event: Event,
    *,
    source: str,
    correlation_id: str | None = None,
    traceparent: str | None = None,
) -> dict[str, str]:
    """Kafka headers for `event` in CloudEvents binary content mode (Kafka protocol binding)."""
    headers = {
        "ce_specversion": CLOUDEVENTS_SPEC_VERSION,
        "ce_id": str(event.event_id),
        "ce_type": event.cloudevent_type(),
        "ce_source": source,
        "ce_time": event.occurred_at.isoformat(),
        "content-type": "application/json",
    }
    if correlation_id:
        headers["correlation_id"] = correlation_id
    if traceparent:
        headers["traceparent"] = traceparent
    return headers
