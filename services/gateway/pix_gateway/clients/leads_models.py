"""The leads service's answers as the gateway reads them.

Generated from the service's OpenAPI by `make clients` (pix_stack.clients): do not edit.
"""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    # Fields a newer service adds are ignored until the next `make clients`.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, protected_namespaces=())


class Activity(_Model):
    id: int
    kind: str
    at: dt.datetime
    actor_id: str | None
    raw_message_id: str | None
    text: str
    data: dict[str, Any]


class AgentMailbox(_Model):
    id: str
    provider: Literal["gmail", "outlook", "imap"]
    address: str
    status: Literal["live", "broken"]
    broken_reason: str | None = None
    last_sync_at: dt.datetime | None = None
    created_at: dt.datetime


class WorkingHours(_Model):
    days: list[int] | None = None
    start: str = "09:00:00"
    end: str = "18:00:00"
    slot_minutes: int = 45


class CalendarConnect(_Model):
    url: str
    username: str
    password: str
    hours: WorkingHours | None = None


class CalendarView(_Model):
    id: str
    kind: str
    server_url: str
    calendar_url: str
    name: str
    username: str
    status: str
    last_error: str | None
    hours: WorkingHours
    connected_at: dt.datetime


class CalendarStatus(_Model):
    calendar: CalendarView | None


class ContactTime(_Model):
    best_hour: int | None
    best_weekday: int | None
    replies_counted: int
    by_hour: list[int]
    by_weekday: list[int]


class DeadLetterView(_Model):
    id: int
    consumer_group: str
    topic: str
    event_id: str | None
    partition: int | None
    offset: int | None
    key: str | None
    payload: str
    headers: dict[str, str]
    error: str
    traceback: str | None
    attempts: int
    status: str
    first_failed_at: dt.datetime
    last_failed_at: dt.datetime
    replayed_at: dt.datetime | None


class ErrorBody(_Model):
    error: dict[str, Any]


class Variant(_Model):
    name: str
    weight: int
    subject: str
    body: str


class Experiment(_Model):
    id: str
    org_id: str
    name: str
    template_kind: str
    locale: str
    status: str
    variants: list[Variant]
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None


class ExperimentForm(_Model):
    name: str
    template_kind: str
    locale: Literal["de", "en"] = "de"
    variants: list[Variant]


class VariantResult(_Model):
    name: str
    assigned: int
    replied: int
    booked: int
    reply_rate: float
    booking_rate: float
    z: float | None
    p_value: float | None
    significant: bool


class ExperimentResults(_Model):
    experiment: Experiment
    variants: list[VariantResult]


class GroupLag(_Model):
    group: str
    topic: str
    lag: int


class ImapConnection(_Model):
    username: str
    password: str
    imap_host: str
    imap_port: int = 993
    imap_security: Literal["ssl", "starttls", "plain"] = "ssl"
    smtp_host: str
    smtp_port: int = 465
    smtp_security: Literal["ssl", "starttls", "plain"] = "ssl"
    sent_folder: str = "Sent"


class JobCounts(_Model):
    kind: str
    status: str
    count: int
    oldest_run_at: dt.datetime | None


class JobView(_Model):
    id: int
    kind: str
    key: str | None
    status: str
    attempts: int
    run_at: dt.datetime
    last_error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    payload: dict[str, Any]


class ScoreFactor(_Model):
    points: int
    max: int
    reason: str


class Lead(_Model):
    id: str
    org_id: str
    listing_id: str | None
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
    assignee_id: str | None
    inquiry_count: int
    reply_count: int
    created_at: dt.datetime
    updated_at: dt.datetime
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
    consent_at: dt.datetime | None
    first_contact_at: dt.datetime | None
    last_inbound_at: dt.datetime | None
    last_outbound_at: dt.datetime | None
    status_changed_at: dt.datetime


class LeadChanges(_Model):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    notes: str | None = None
    financing: Literal["confirmed", "in_progress", "none", "unknown"] | None = None
    time_frame: Literal["immediate", "3_months", "6_months", "later", "unknown"] | None = None
    budget_max_eur: int | None = None
    household: str | None = None
    assignee_id: str | None = None
    unassign: bool = False
    listing_id: str | None = None


class PlannedJob(_Model):
    kind: str
    run_at: dt.datetime
    step: int | None = None


class LeadDetail(_Model):
    id: str
    name: str
    lead: Lead
    timeline: list[Activity]
    planned: list[PlannedJob]


class LeadStats(_Model):
    new: int
    open: int
    needs_review: int
    total: int
    received_this_week: int = 0


class LeadSummary(_Model):
    id: str
    org_id: str
    listing_id: str | None
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
    assignee_id: str | None
    inquiry_count: int
    reply_count: int
    created_at: dt.datetime
    updated_at: dt.datetime


class SourceFunnel(_Model):
    source: str
    received: int
    contacted: int
    conversation: int
    booked: int
    conversion_percent: float
    median_first_response_minutes: float | None


class WeekLeads(_Model):
    week: str
    source: str
    leads: int


class LeadsReport(_Model):
    weeks: list[WeekLeads]
    funnel: list[SourceFunnel]
    median_first_response_minutes: float | None


class Mailbox(_Model):
    org_id: str
    slug: str
    intake_address: str
    sender_name: str
    locale: str
    form_key: str
    form_url: str
    snippet_html: str
    snippet_script: str


class MailboxChanges(_Model):
    slug: str | None = None
    sender_name: str | None = None
    locale: Literal["de", "en"] | None = None


class MailboxOverview(_Model):
    mailbox: AgentMailbox | None
    providers: list[Literal["gmail", "outlook", "imap"]]


class ManualLead(_Model):
    name: str
    email: str | None = None
    phone: str | None = None
    message: str = ""
    listing_id: str | None = None
    locale: Literal["de", "en"] = "de"


class MessageTemplate(_Model):
    kind: str
    locale: str
    subject: str
    body: str
    custom: bool


class OAuthCallback(_Model):
    state: str
    code: str


class OAuthStart(_Model):
    authorization_url: str


class OperationsLine(_Model):
    key: str
    value: float | None = None
    detail: str | None = None
    at: dt.datetime | None = None


class OutboxFigures(_Model):
    unpublished: int
    oldest_seconds: float
    parked: int


class OutgoingMessage(_Model):
    subject: str = ""
    text: str


class Processor(_Model):
    name: str
    receives: str
    location: str
    condition: str = ""


class PersonalData(_Model):
    category: str
    subjects: str
    purpose: str
    legal_basis: str
    retention: str
    processors: list[Processor] = Field(default_factory=lambda: [])


class Prediction(_Model):
    lead_id: str
    probability: int
    factors: dict[str, float]
    calibrated: bool
    method: str


class ProcessingRecord(_Model):
    service: str
    declarations: list[PersonalData]


class PublicViewing(_Model):
    starts_at: dt.datetime
    ends_at: dt.datetime
    day: dt.date
    start: str
    end: str
    place: str


class Slot(_Model):
    starts_at: dt.datetime
    ends_at: dt.datetime
    day: dt.date
    start: str
    end: str


class PublicOffer(_Model):
    locale: Literal["de", "en"]
    sender_name: str
    listing_title: str | None
    place: str
    slots: list[Slot]
    booked: PublicViewing | None
    calendar_unavailable: bool = False


class PublicPick(_Model):
    starts_at: dt.datetime


class ReplayOutcome(_Model):
    id: int
    replayed: bool
    error: str | None = None


class ReplayReport(_Model):
    replayed: int
    failed: int
    outcomes: list[ReplayOutcome]


class Retention(_Model):
    lost_lead_days: int | None = None
    raw_message_days: int | None = None


class RetentionView(_Model):
    lost_lead_days: int
    raw_message_days: int
    own: Retention


class SearchHit(_Model):
    lead: LeadSummary
    rank: float


class SemanticHit(_Model):
    lead: LeadSummary
    similarity: float


class ServiceOperations(_Model):
    service: str
    outbox: OutboxFigures | None
    lag: list[GroupLag]
    lag_known: bool
    lines: list[OperationsLine]


class StatusChange(_Model):
    status: Literal["NEW", "CONTACTED", "CONVERSATION", "BOOKED", "LOST"]
    reason: str | None = None


class Subject(_Model):
    email: str | None = None
    phone: str | None = None


class SubjectActivity(_Model):
    kind: str
    at: dt.datetime
    text: str
    data: dict[str, Any]


class SubjectErased(_Model):
    service: str = "leads"
    leads: int
    raw_messages: int


class SubjectLead(_Model):
    id: str
    status: str
    source: str
    created_at: dt.datetime
    listing_title: str | None
    salutation: str | None
    name: str
    email: str | None
    phone: str | None
    message: str
    notes: str
    household: str | None
    financing: str
    budget_min_eur: int | None
    budget_max_eur: int | None
    consent_text: str | None
    consent_at: dt.datetime | None
    activities: list[SubjectActivity]


class SubjectRawMessage(_Model):
    id: str
    channel: str
    mail_from: str | None
    received_at: dt.datetime


class SubjectExport(_Model):
    service: str = "leads"
    exported_at: dt.datetime
    subject: Subject
    objected: bool
    leads: list[SubjectLead]
    raw_messages: list[SubjectRawMessage]


class SubjectFound(_Model):
    service: str = "leads"
    lead_ids: list[str]
    raw_messages: int
    objected: bool


class SubjectObjected(_Model):
    service: str = "leads"
    leads: int


class TemplateText(_Model):
    subject: str
    body: str


class Viewing(_Model):
    id: str
    lead_id: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    day: dt.date
    start: str
    end: str
    place: str
    state: Literal["invited", "planned", "accepted", "declined", "tentative", "cancelled"]
    sequence: int
    booked_via: str
    calendar_state: str
    calendar_error: str | None
    created_at: dt.datetime
    replied_at: dt.datetime | None


class ViewingChange(_Model):
    date: dt.date | None = None
    start: str | None = None
    end: str | None = None
    place: str | None = None


class ViewingForm(_Model):
    date: dt.date
    start: str
    end: str | None = None
    place: str | None = None
