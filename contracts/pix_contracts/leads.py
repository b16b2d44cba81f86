"""Events of the leads service (the lead CRM): inquiries that became leads, and their status.

Events carry ids and facts, no personal data of the lead (GDPR data minimisation): the gateway
composes names from the leads API. The one exception is a message the lead asked for (an
acknowledgement, a follow-up): its recipient and body travel sealed (AES-256-GCM under a key
derived from the internal key, purpose `lead-mail`), so the broker never sees them in clear.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from pix_contracts.envelope import Event

LeadStatus = Literal["NEW", "CONTACTED", "CONVERSATION", "BOOKED", "LOST"]
LeadSource = Literal[
    "immoscout24", "immowelt", "kleinanzeigen", "willhaben", "website", "email", "manual"
]
LeadLocale = Literal["de", "en"]
Financing = Literal["confirmed", "in_progress", "none", "unknown"]
PropertyType = Literal["apartment", "house", "commercial", "land"]
Marketing = Literal["sale", "rent"]

# Purpose of the key a `LeadMessageRequested`'s sealed fields are sealed with.
LEAD_MAIL_SEAL_PURPOSE = "lead-mail"


class LeadProfile(BaseModel):
    """What a lead is looking for, for matching; free of contact data."""

    model_config = ConfigDict(frozen=True)

    property_type: PropertyType | None = None
    marketing: Marketing | None = None
    budget_min_eur: int | None = None
    budget_max_eur: int | None = None
    rooms_min: float | None = None
    area_min_m2: float | None = None
    postcodes: list[str] = Field(default_factory=list)
    city: str | None = None
    wishes: str = Field(
        default="",
        max_length=2000,
        description="What they want, with contact data and greetings stripped (for embeddings)",
    )
    financing: Financing = "unknown"


class LeadCreated(Event):
    topic: ClassVar[str] = "leads.lead.created.v1"
    key_field: ClassVar[str] = "lead_id"

    lead_id: uuid.UUID
    org_id: uuid.UUID
    listing_id: uuid.UUID | None = None
    source: str = Field(
        description="immoscout24, immowelt, kleinanzeigen, willhaben, website, email or manual"
    )
    status: str
    score: int
    locale: LeadLocale = "de"
    profile: LeadProfile = Field(default_factory=LeadProfile)


class LeadUpdated(Event):
    """The lead's profile or score changed (a merged inquiry, a reply, an edit)."""

    topic: ClassVar[str] = "leads.lead.updated.v1"
    key_field: ClassVar[str] = "lead_id"

    lead_id: uuid.UUID
    org_id: uuid.UUID
    listing_id: uuid.UUID | None = None
    status: str
    score: int
    profile: LeadProfile = Field(default_factory=LeadProfile)


class LeadStatusChanged(Event):
    topic: ClassVar[str] = "leads.lead.status-changed.v1"
    key_field: ClassVar[str] = "lead_id"

    lead_id: uuid.UUID
    org_id: uuid.UUID
    old_status: str
    new_status: str = Field(description="NEW, CONTACTED, CONVERSATION, BOOKED or LOST")
    reason: str | None = None
    changed_by: uuid.UUID | None = Field(
        default=None, description="The user who changed it; null when the system did"
    )


class LeadErased(Event):
    """Forget everything of the lead (GDPR erasure)."""

    topic: ClassVar[str] = "leads.lead.erased.v1"
    key_field: ClassVar[str] = "lead_id"

    lead_id: uuid.UUID
    org_id: uuid.UUID


class LeadMessageRequested(Event):
    """An email to the lead (acknowledgement, follow-up, an agent's reply) for notify to send.

    The event id is derived from the lead and the message (uuid5), so asking twice for the same
    message is one email. `sealed_recipient` and `sealed_content` (JSON with `subject`, `text`)
    are sealed with `LEAD_MAIL_SEAL_PURPOSE`, context = the event's `message_key`. A viewing's
    invitation (`kind` "viewing") adds `calendar` to the content: `method` (REQUEST/CANCEL),
    `filename` and `content` (the .ics text), sent as the mail's calendar attachment.
    """

    topic: ClassVar[str] = "leads.message.requested.v1"
    key_field: ClassVar[str] = "lead_id"

    lead_id: uuid.UUID
    org_id: uuid.UUID
    message_key: str = Field(
        description="e.g. `<lead_id>:acknowledgement`, `<lead_id>:follow-up:3`"
    )
    kind: Literal["acknowledgement", "follow_up", "reply", "viewing"]
    locale: LeadLocale = "de"
    sender_name: str = Field(description="The organisation's sender name, for the From header")
    reply_to: str = Field(description="The lead's reply address (plus-addressed, no personal data)")
    sealed_recipient: str
    sealed_content: str
    variant: str | None = Field(default=None, description="A/B test variant, if one was used")


class AgentMailboxBroken(Event):
    """An agent's own mailbox (Gmail, Outlook, IMAP) stopped accepting our credentials: revoked,
    expired, or its password changed. Notify tells the agent once per breakage; until they
    reconnect, leads sends their mails through the platform under the agent's name.

    `sealed_recipient` is the agent's platform address, sealed with `LEAD_MAIL_SEAL_PURPOSE`,
    context = the event's `mailbox_id` as text.
    """

    topic: ClassVar[str] = "leads.mailbox.broken.v1"
    key_field: ClassVar[str] = "mailbox_id"

    mailbox_id: uuid.UUID
    org_id: uuid.UUID
    user_id: uuid.UUID
    provider: Literal["gmail", "outlook", "imap"]
    locale: LeadLocale = "de"
    reason: str = Field(max_length=100, description="e.g. invalid_grant, imap_login_failed")
    agent_name: str = Field(max_length=200)
    sealed_recipient: str


LEAD_EVENTS: tuple[type[Event], ...] = (
    LeadCreated,
    LeadUpdated,
    LeadStatusChanged,
    LeadErased,
    LeadMessageRequested,
    AgentMailboxBroken,
)
