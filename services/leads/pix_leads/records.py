"""What the leads service hands out and takes in: leads, their timeline, filters, settings.

Pydantic models, so the domain returns typed values and the API serialises them as they are.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import RowMapping

from pix_leads.scoring import ScoreFactor

Status = Literal["NEW", "CONTACTED", "CONVERSATION", "BOOKED", "LOST"]
STATUSES: tuple[Status, ...] = ("NEW", "CONTACTED", "CONVERSATION", "BOOKED", "LOST")
OPEN_STATUSES = ("NEW", "CONTACTED", "CONVERSATION")
SOURCES = ("immoscout24", "immowelt", "kleinanzeigen", "willhaben", "website", "email", "manual")
TimeFrame = Literal["immediate", "3_months", "6_months", "later", "unknown"]
Financing = Literal["confirmed", "in_progress", "none", "unknown"]


class LeadSummary(BaseModel):
    """A lead as the inbox lists it."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    org_id: uuid.UUID
    listing_id: uuid.UUID | None
    listing_title: str | None
    source: str
    status: str
    needs_review: bool
    name: str
    email: str | None
    phone: str | None
    score: int
    score_factors: dict[str, ScoreFactor]
    completeness: int
    assignee_id: uuid.UUID | None
    inquiry_count: int
    reply_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> LeadSummary:
        return cls.model_validate({k: row[k] for k in cls.model_fields})


class Lead(LeadSummary):
    """A lead with everything the lead page shows."""

    salutation: str | None
    portal_listing_ref: str | None
    lost_reason: str | None
    locale: str
    message: str
    financing: str
    time_frame: str
    budget_min_eur: int | None
    budget_max_eur: int | None
    household: str | None
    requested_viewing: bool
    requested_callback: bool
    property_type: str | None
    marketing: str | None
    rooms_min: float | None
    area_min_m2: float | None
    postcodes: list[str]
    city: str | None
    sentiment: dict[str, Any]
    notes: str
    reply_address: str
    consent_text: str | None
    consent_at: datetime | None
    first_contact_at: datetime | None
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None
    status_changed_at: datetime

    @classmethod
    def of(cls, row: RowMapping, reply_address: str) -> Lead:
        values = {k: row[k] for k in cls.model_fields if k != "reply_address"}
        return cls.model_validate({**values, "reply_address": reply_address})


class Activity(BaseModel):
    """One entry of a lead's timeline."""

    id: int
    kind: str
    at: datetime
    actor_id: uuid.UUID | None
    raw_message_id: uuid.UUID | None
    text: str
    data: dict[str, Any]

    @classmethod
    def from_row(cls, row: RowMapping) -> Activity:
        return cls.model_validate({k: row[k] for k in cls.model_fields})


class PlannedJob(BaseModel):
    kind: str
    run_at: datetime
    step: int | None = None


class LeadDetail(BaseModel):
    # The lead's id and name on top as well, for pages that only need to name it.
    id: uuid.UUID
    name: str
    lead: Lead
    timeline: list[Activity]
    planned: list[PlannedJob]


class LeadFilter(BaseModel):
    status: Status | None = None
    source: str | None = None
    listing_id: uuid.UUID | None = None
    min_score: int | None = Field(default=None, ge=0, le=100)
    max_score: int | None = Field(default=None, ge=0, le=100)
    # "me", "none" or a user id.
    assignee: str | None = None
    needs_review: bool | None = None
    q: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=100_000)


class SearchHit(BaseModel):
    lead: LeadSummary
    rank: float


class LeadChanges(BaseModel):
    """What an agent may edit on a lead; unset fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=80)
    notes: str | None = Field(default=None, max_length=20_000)
    financing: Financing | None = None
    time_frame: TimeFrame | None = None
    budget_max_eur: int | None = Field(default=None, ge=0, le=100_000_000)
    household: str | None = Field(default=None, max_length=200)
    assignee_id: uuid.UUID | None = None
    unassign: bool = False
    listing_id: uuid.UUID | None = None


class ManualLead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=80)
    message: str = Field(default="", max_length=20_000)
    listing_id: uuid.UUID | None = None
    locale: Literal["de", "en"] = "de"


class Mailbox(BaseModel):
    org_id: uuid.UUID
    slug: str
    intake_address: str
    sender_name: str
    locale: str
    form_key: str
    form_url: str
    snippet_html: str
    snippet_script: str


class MessageTemplate(BaseModel):
    kind: str
    locale: str
    subject: str
    body: str
    custom: bool


class ReceivedMessage(BaseModel):
    """What intake recorded for one message, before anything parsed it."""

    id: uuid.UUID
    org_id: uuid.UUID | None
    status: str
    storage_key: str


class Prediction(BaseModel):
    lead_id: uuid.UUID
    probability: int = Field(description="Conversion probability in percent, 0–99")
    factors: dict[str, float]
    calibrated: bool
    method: str


class ContactTime(BaseModel):
    best_hour: int | None
    best_weekday: int | None = Field(description="0 = Monday")
    replies_counted: int
    by_hour: list[int]
    by_weekday: list[int]


class LeadStats(BaseModel):
    new: int
    open: int
    needs_review: int
    total: int
    # Inquiries of the last seven days, whatever their status (an acknowledged lead is no
    # longer NEW, but the agent still wants to see that it came in).
    received_this_week: int = 0
