"""Typed event contracts of pix.immo. Depends on pydantic only, so a CRM can install it alone."""

from pix_contracts.envelope import CLOUDEVENTS_SPEC_VERSION, Event, cloudevent_headers
from pix_contracts.events import (
    ALL_EVENTS,
    AssetDeleted,
    AssetUploaded,
    CaptionFailed,
    CaptionReady,
    CaptionText,
    EmailVerificationRequested,
    ExportFile,
    GalleryExported,
    OrderPlaced,
    OrderStatusChanged,
    PasswordChanged,
    PasswordResetRequested,
    UserDeleted,
    UserRegistered,
)
from pix_contracts.topics import TOPICS, Topic, all_topic_names, topic_of

__all__ = [
    "ALL_EVENTS",
    "CLOUDEVENTS_SPEC_VERSION",
    "TOPICS",
    "AssetDeleted",
    "AssetUploaded",
    "CaptionFailed",
    "CaptionReady",
    "CaptionText",
    "EmailVerificationRequested",
    "Event",
    "ExportFile",
    "GalleryExported",
    "OrderPlaced",
    "OrderStatusChanged",
    "PasswordChanged",
    "PasswordResetRequested",
    "Topic",
    "UserDeleted",
    "UserRegistered",
    "all_topic_names",
    "cloudevent_headers",
    "topic_of",
]
