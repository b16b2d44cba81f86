"""Every event of the platform. A consumer gets what it needs from the event itself.

Topic names follow `<service>.<entity>.<event>.v<major>`; a breaking change is a new major topic.
Partition keys keep each gallery's (order's, user's) events in order.
"""

from __future__ import annotations

import datetime
import uuid
from typing import ClassVar, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

from pix_contracts.envelope import Event

Locale = Literal["de", "en"]
# Platform staff: admin, photographer. An organisation's members: its owner(s) and agents.
# "client" is what members were before the roles were split (older events carry it): an owner.
Role = Literal["admin", "photographer", "owner", "agent", "client"]
OrderStatus = Literal["received", "confirmed", "scheduled", "shot", "delivered", "cancelled"]
# The order workflow, once for orders, notify and the gateway: received → confirmed → scheduled →
# shot → delivered; cancelled until the shoot happened.
ORDER_STATUSES: tuple[OrderStatus, ...] = get_args(OrderStatus)
ORDER_STEPS: dict[str, tuple[OrderStatus, ...]] = {
    "received": ("confirmed", "cancelled"),
    "confirmed": ("scheduled", "cancelled"),
    "scheduled": ("shot", "cancelled"),
    "shot": ("delivered",),
    "delivered": (),
    "cancelled": (),
}


# --- auth -------------------------------------------------------------------------------------


class UserRegistered(Event):
    topic: ClassVar[str] = "auth.user.registered.v1"
    key_field: ClassVar[str] = "user_id"

    user_id: uuid.UUID
    org_id: uuid.UUID
    email: EmailStr
    name: str
    role: Role
    locale: Locale = "de"


class PasswordResetRequested(Event):
    """The reset link travels sealed (AES-GCM with the internal key): the broker never sees it."""

    topic: ClassVar[str] = "auth.password-reset.requested.v1"
    key_field: ClassVar[str] = "user_id"

    user_id: uuid.UUID
    email: EmailStr
    name: str
    locale: Locale = "de"
    sealed_reset_url: str
    expires_at: AwareDatetime
    purpose: Literal["reset", "invitation"] = "reset"


class EmailVerificationRequested(Event):
    """The verification link travels sealed, like the reset link."""

    topic: ClassVar[str] = "auth.email-verification.requested.v1"
    key_field: ClassVar[str] = "user_id"

    user_id: uuid.UUID
    email: EmailStr
    name: str
    locale: Locale = "de"
    sealed_verify_url: str
    expires_at: AwareDatetime


class PasswordChanged(Event):
    """Tells the user their password changed, so an unexpected change does not go unnoticed."""

    topic: ClassVar[str] = "auth.password.changed.v1"
    key_field: ClassVar[str] = "user_id"

    user_id: uuid.UUID
    email: EmailStr
    name: str
    locale: Locale = "de"
    via: Literal["reset", "account"]


class UserDeleted(Event):
    """Deprecated: auth publishes `UserDeletedV2` instead. This one carried the address in clear
    into the broker (and its retention window) and into every outbox that replays it. Consumers
    keep draining it until the broker's retention has passed after the switch."""

    topic: ClassVar[str] = "auth.user.deleted.v1"
    key_field: ClassVar[str] = "user_id"

    user_id: uuid.UUID
    org_id: uuid.UUID
    email: EmailStr


class UserDeletedV2(Event):
    """A user deleted their account (GDPR erasure): every service forgets or anonymises them.

    Ids only: a service finds what it holds by `user_id`, and rows it knows by address alone by
    `email_digest` (pix_runtime.personal_data.subject_digest of the address, an HMAC only our
    services can compute). Dropping a required field breaks v1's consumers, so it is a new
    major topic rather than an optional field."""

    topic: ClassVar[str] = "auth.user.deleted.v2"
    key_field: ClassVar[str] = "user_id"

    user_id: uuid.UUID
    org_id: uuid.UUID
    email_digest: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 (hex) of the lower-case address"
    )


# --- orders -----------------------------------------------------------------------------------


class OrderedService(BaseModel):
    """One ordered service with the price it had when the order was placed."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="photos, drone, tour360, floorplan or video")
    price_cents: int


class PreferredSlot(BaseModel):
    model_config = ConfigDict(frozen=True)

    date: datetime.date
    window: Literal["morning", "afternoon", "all_day"]


class OrderPlaced(Event):
    """A photo-shoot order; `gallery_id` is reserved for its gallery, which media creates."""

    topic: ClassVar[str] = "orders.order.placed.v1"
    key_field: ClassVar[str] = "order_id"

    order_id: uuid.UUID
    org_id: uuid.UUID
    gallery_id: uuid.UUID
    reference: str = Field(description="Human-readable order number, the CRM's objektnr_extern")
    placed_by: uuid.UUID
    contact_name: str
    contact_email: EmailStr
    locale: Locale = "de"
    property_address: str
    # Added with the full order form; optional so events of older producers still validate.
    contact_phone: str | None = Field(default=None, description="E.164, e.g. +493012345678")
    property_type: Literal["apartment", "house", "commercial", "land"] | None = None
    services: list[OrderedService] = Field(default_factory=list)
    total_cents: int | None = Field(default=None, description="Gross total in cents")
    currency: str = "EUR"
    preferred_slots: list[PreferredSlot] = Field(default_factory=list)
    # The property's facts for listings and CRM exports; optional, as above (orders placed
    # before they were asked for carry none of them).
    street: str | None = None
    house_number: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2, e.g. DE")
    marketing: Literal["sale", "rent"] | None = Field(
        default=None, description="Offered for sale (Kauf) or for rent (Miete)"
    )
    living_area_m2: float | None = None
    rooms: float | None = Field(default=None, description="Rooms, halves allowed (2.5)")


class OrderStatusChanged(Event):
    topic: ClassVar[str] = "orders.order.status-changed.v1"
    key_field: ClassVar[str] = "order_id"

    order_id: uuid.UUID
    org_id: uuid.UUID
    gallery_id: uuid.UUID
    reference: str
    old_status: OrderStatus
    new_status: OrderStatus
    changed_by: uuid.UUID
    contact_email: EmailStr
    locale: Locale = "de"
    contact_name: str | None = None
    property_address: str | None = None
    note: str | None = Field(default=None, description="The note given with the change, if any")
    via: Literal["staff", "gallery-delivery"] = Field(
        default="staff",
        description="gallery-delivery: the order followed the delivery of its gallery (the "
        "client hears about it from the gallery-ready email)",
    )


# --- media ------------------------------------------------------------------------------------


class AssetUploaded(Event):
    """An uploaded photo, validated, anonymised and rendered; the original stays private.

    `version` grows when the asset is re-processed, so a consumer can tell a redelivery of the
    same version (ignore) from new work.
    """

    topic: ClassVar[str] = "media.asset.uploaded.v1"
    key_field: ClassVar[str] = "gallery_id"

    asset_id: uuid.UUID
    gallery_id: uuid.UUID
    org_id: uuid.UUID
    version: int = 1
    pseudonym: str = Field(
        description="Pseudonymous file stem used in every export, e.g. Kitchen_01"
    )
    room_type: str | None = Field(description="pix_contracts.rooms.RoomType value, or null")
    sequence: int = Field(description="Number of this photo within its room type in the gallery")
    width: int
    height: int
    byte_size: int
    sha256: str
    web_key: str = Field(description="Storage key of the anonymised web rendition (JPEG, sRGB)")
    thumb_key: str
    faces_blurred: int = 0
    kind: Literal["photo", "floor_plan", "video"] = Field(
        default="photo",
        description="Media announces only photos; floor plans and videos travel as deliverables "
        "of media.gallery.delivered.v1, and captioning refuses any other kind",
    )


# --- captioning -------------------------------------------------------------------------------


class CaptionText(BaseModel):
    """The caption itself, as agents and CRMs use it."""

    model_config = ConfigDict(frozen=True)

    room_type: str | None
    title_de: str = Field(max_length=30)
    title_en: str = Field(max_length=30)
    description_de: str
    description_en: str
    alt_text_de: str
    alt_text_en: str
    features: list[str]


class CaptionReady(Event):
    topic: ClassVar[str] = "captioning.caption.ready.v1"
    key_field: ClassVar[str] = "gallery_id"

    asset_id: uuid.UUID
    gallery_id: uuid.UUID
    org_id: uuid.UUID
    asset_version: int
    caption_version: int
    pseudonym: str
    caption: CaptionText
    model: str
    provider: str
    prompt_version: str
    edited: bool = False
    txt_key: str
    json_key: str
    web_key: str


class CaptionFailed(Event):
    topic: ClassVar[str] = "captioning.caption.failed.v1"
    key_field: ClassVar[str] = "gallery_id"

    asset_id: uuid.UUID
    gallery_id: uuid.UUID
    org_id: uuid.UUID
    asset_version: int
    pseudonym: str
    reason: str
    attempts: int
    needs_review: bool = Field(
        default=False,
        description="True when the caption exists but the guard held it for human review "
        "(contact data, links or names); an edit or regeneration then emits CaptionReady",
    )


# --- export -----------------------------------------------------------------------------------


class ExportFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(description="File name inside the export, e.g. captions.json")
    format: str = Field(description="captions-json, captions-txt, …")
    media_type: str
    storage_key: str
    download_url: str = Field(description="Signed URL, valid until url_expires_at")
    url_expires_at: AwareDatetime
    sha256: str
    byte_size: int


class GalleryExported(Event):
    topic: ClassVar[str] = "export.gallery.exported.v1"
    key_field: ClassVar[str] = "gallery_id"

    gallery_id: uuid.UUID
    org_id: uuid.UUID
    version: int
    asset_count: int
    files: list[ExportFile]
    reference: str | None = Field(
        default=None, description="The order's reference (OpenImmo objektnr_extern), if known"
    )
    complete: bool = Field(
        default=False,
        description="True for a delivered version: media declared the photo set complete and "
        "the gallery was delivered (see `delivery`); interim previews are false",
    )
    failed_count: int = Field(default=0, description="Photos left out because captioning failed")
    delivery: int | None = Field(
        default=None,
        description="The delivery (media.gallery.delivered.v1) this version carries: 1 for the "
        "first, more for updates after it; null for an interim preview",
    )


class PhotoInSet(BaseModel):
    """One photo of a gallery's photo set as media saw it when it announced the set."""

    model_config = ConfigDict(frozen=True)

    asset_id: uuid.UUID
    version: int = Field(description="The asset version that was captioned or refused")
    outcome: Literal["captioned", "caption_failed"]
    caption_version: int | None = Field(
        default=None, description="The caption version media recorded (captioned photos)"
    )


class DeliverableInSet(BaseModel):
    """A floor plan or video delivered with the photo set: never captioned, exported as it is
    (OpenImmo GRUNDRISS / FILM and FILMLINK)."""

    model_config = ConfigDict(frozen=True)

    asset_id: uuid.UUID
    kind: Literal["floor_plan", "video"]
    name: str = Field(description="Pseudonymous file name in every export, e.g. FloorPlan_01.pdf")
    file_key: str = Field(description="Storage key of the delivered file (metadata removed)")
    media_type: str = Field(description="application/pdf, image/png, image/svg+xml or video/mp4")
    byte_size: int
    sha256: str
    preview_key: str | None = Field(
        default=None, description="Storage key of a JPEG preview (a floor plan) or poster frame"
    )
    duration_seconds: float | None = Field(default=None, description="Videos only")


class GalleryStateChanged(Event):
    """Media's view of a gallery's photo set changed state.

    `complete`: every photo uploaded into the gallery was processed and captioned, or refused
    (by media's checks or by captioning), and no upload is in flight; `in_progress` otherwise.
    `set_version` grows with every change of the set (a photo added, refused, captioned,
    re-captioned or deleted), so consumers can tell an old announcement from a new one.
    """

    topic: ClassVar[str] = "media.gallery.state-changed.v1"
    key_field: ClassVar[str] = "gallery_id"

    gallery_id: uuid.UUID
    org_id: uuid.UUID
    order_id: uuid.UUID
    state: Literal["in_progress", "complete"]
    set_version: int
    photo_count: int = Field(description="Photos in the set (captioned or caption failed)")
    rejected_count: int = Field(default=0, description="Uploads media refused")
    in_flight: int = Field(default=0, description="Uploads not yet captioned or refused")
    delivered: bool = Field(default=False, description="The gallery was delivered before")


class GalleryDelivered(Event):
    """The gallery is delivered: the photo set `photos` (at `set_version`) is what the client
    gets. `delivery` counts the deliveries of the gallery: 1 is the first ("ready"); later ones
    follow changes after it (a photo added, a caption edited) and are updates.

    Export builds exactly this set into a delivered version once its captions caught up; only
    delivered versions go to CRMs, webhooks and the client's mailbox. Orders moves the order to
    `delivered`.
    """

    topic: ClassVar[str] = "media.gallery.delivered.v1"
    key_field: ClassVar[str] = "gallery_id"

    gallery_id: uuid.UUID
    org_id: uuid.UUID
    order_id: uuid.UUID
    delivery: int = Field(ge=1)
    set_version: int
    photos: list[PhotoInSet]
    delivered_by: uuid.UUID | None = Field(
        default=None, description="Who delivered it; null when delivered automatically"
    )
    automatic: bool = False
    deliverables: list[DeliverableInSet] = Field(
        default_factory=list, description="Floor plans and videos the order included"
    )


class AssetDeleted(Event):
    """A photo was deleted: its original and renditions are gone from storage.

    Export leaves the photo out of the next version; captioning drops its caption files.
    """

    topic: ClassVar[str] = "media.asset.deleted.v1"
    key_field: ClassVar[str] = "gallery_id"

    asset_id: uuid.UUID
    gallery_id: uuid.UUID
    org_id: uuid.UUID
    version: int = 1
    pseudonym: str | None = Field(
        default=None, description="Pseudonymous name, null if it was never processed"
    )
    deleted_by: uuid.UUID


ALL_EVENTS: tuple[type[Event], ...] = (
    UserRegistered,
    PasswordResetRequested,
    EmailVerificationRequested,
    PasswordChanged,
    UserDeleted,
    UserDeletedV2,
    OrderPlaced,
    OrderStatusChanged,
    AssetUploaded,
    AssetDeleted,
    GalleryStateChanged,
    GalleryDelivered,
    CaptionReady,
    CaptionFailed,
    GalleryExported,
)
