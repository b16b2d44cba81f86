"""Personal data: the keyed digest that stands in for an address, and the declarations that
make up the record of processing (GDPR Art. 30).

An event that asks services to forget a person must not spread what it asks them to forget, so
it carries `subject_digest(address)` instead of the address: an HMAC-SHA256 of the lower-case
address under a key derived from the internal key. Only our services can compute it, a digest
seen in the broker reveals nothing, and a service that keeps an address keeps its digest
beside it to find the rows again.

Each service declares what personal data it stores, why, for how long and which processors
receive what (`PersonalData`); `GET /privacy/processing` serves the declarations and the
gateway gathers them into the record of processing.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, model_validator

from pix_runtime.errors import Forbidden, Invalid
from pix_runtime.http import CurrentIdentity
from pix_runtime.identity import Identity
from pix_runtime.sealing import derive_key

DIGEST_PURPOSE = "privacy-subject"


def subject_key(internal_key: bytes) -> bytes:
    return derive_key(internal_key, DIGEST_PURPOSE)


def subject_digest(address: str, key: bytes) -> str:
    """The digest of an email address (or an E.164 phone number) under `subject_key`."""
    return hmac.new(key, address.strip().lower().encode(), hashlib.sha256).hexdigest()


class Processor(BaseModel):
    """A third party that receives personal data on our behalf (Art. 28)."""

    model_config = ConfigDict(frozen=True)

    name: str
    receives: str
    location: str
    condition: str = ""


class PersonalData(BaseModel):
    """One category of personal data a service stores, as the record of processing lists it."""

    model_config = ConfigDict(frozen=True)

    category: str
    subjects: str
    purpose: str
    legal_basis: str
    retention: str
    processors: tuple[Processor, ...] = ()


class ProcessingRecord(BaseModel):
    """What one service declares; the gateway gathers one per service."""

    service: str
    declarations: list[PersonalData]


# Processors named once, so every service that uses one describes it the same way.
MAILGUN_EU = Processor(
    name="Mailgun (Sinch), EU region",
    receives="recipient addresses, names and mail content",
    location="EU (Frankfurt)",
    condition="only with PIX_MAIL_PROVIDER=mailgun",
)
STRIPE = Processor(
    name="Stripe Payments Europe",
    receives="billing data: organisation name, billing address, VAT id, invoice amounts",
    location="EU (Ireland), transfers to the US under SCCs",
    condition="only with STRIPE_API_KEY set",
)
REPLICATE = Processor(
    name="Replicate",
    receives="anonymised photos only (metadata stripped, faces blurred, pseudonymous names)",
    location="USA",
    condition="only with PIX_CAPTION_PROVIDER=replicate",
)
OPENAI_COMPATIBLE = Processor(
    name="OpenAI-compatible model provider (configured endpoint)",
    receives="anonymised photos and texts without contact data",
    location="as configured (EU endpoint by default where offered)",
    condition="only with an API key configured; offline default otherwise",
)
GOOGLE_MAPS = Processor(
    name="Google Places / Geocoding",
    receives="property addresses typed into the order form",
    location="USA (Google LLC), EU-US Data Privacy Framework",
    condition="only with a Google Maps API key configured",
)


router = APIRouter(tags=["privacy"])


@router.get("/privacy/processing")
async def processing(request: Request) -> ProcessingRecord:
    """What this service declares (no identity needed: it names categories, never data)."""
    record: ProcessingRecord = request.app.state.processing_record
    return record


def declare(app: FastAPI, service: str, declarations: tuple[PersonalData, ...]) -> None:
    """Serve the service's declarations at `GET /privacy/processing`."""
    app.state.processing_record = ProcessingRecord(service=service, declarations=list(declarations))
    app.include_router(router)


# --- a person's records in a service (GDPR Art. 15, 17) ------------------------------------------
# Leads answers the richer `pix_leads.subjects` API at the same paths; services that keep a
# person's data only as text (mails, conversations) answer this one, and the gateway gathers.


class SubjectQuery(BaseModel):
    """A person, as they identify themselves: an email address and/or a phone number."""

    email: str | None = None
    phone: str | None = None

    @model_validator(mode="after")
    def _one_of_them(self) -> SubjectQuery:
        self.email = (self.email or "").strip().lower() or None
        digits = "".join(ch for ch in (self.phone or "") if ch.isdigit())
        self.phone = digits if len(digits) >= 6 else None
        if self.email is None and self.phone is None:
            raise Invalid("subject_missing", "give an email address or a phone number")
        return self


class SubjectRecord(BaseModel):
    kind: str
    id: str
    at: datetime | None
    text: str


class SubjectFindings(BaseModel):
    service: str
    records: list[SubjectRecord]


class SubjectErasure(BaseModel):
    service: str
    erased: int


class SubjectHolder(Protocol):
    async def find(self, query: SubjectQuery, org_id: uuid.UUID) -> list[SubjectRecord]: ...

    async def erase(self, query: SubjectQuery, org_id: uuid.UUID) -> int: ...


subjects_router = APIRouter(prefix="/privacy/subjects", tags=["privacy"])


def _organisation(identity: Identity) -> uuid.UUID:
    # Owners and agents serve the people who wrote to their organisation, organisation-wide.
    if identity.role not in ("owner", "agent", "client"):
        raise Forbidden()
    return identity.org_id


def _holder(request: Request) -> tuple[str, SubjectHolder]:
    held: tuple[str, SubjectHolder] = request.app.state.subject_holder
    return held


Holder = Annotated[tuple[str, SubjectHolder], Depends(_holder)]


@subjects_router.post("/find")
async def find_subject(
    identity: CurrentIdentity, holder: Holder, query: SubjectQuery
) -> SubjectFindings:
    service, held = holder
    records = await held.find(query, _organisation(identity))
    return SubjectFindings(
        service=service, records=[r.model_copy(update={"text": ""}) for r in records]
    )


@subjects_router.post("/export")
async def export_subject(
    identity: CurrentIdentity, holder: Holder, query: SubjectQuery
) -> SubjectFindings:
    service, held = holder
    return SubjectFindings(service=service, records=await held.find(query, _organisation(identity)))


@subjects_router.post("/erase")
async def erase_subject(
    identity: CurrentIdentity, holder: Holder, query: SubjectQuery
) -> SubjectErasure:
    service, held = holder
    return SubjectErasure(service=service, erased=await held.erase(query, _organisation(identity)))


def declare_subjects(app: FastAPI, service: str, holder: SubjectHolder) -> None:
    """Answer `POST /privacy/subjects/{find,export,erase}` with `holder`."""
    app.state.subject_holder = (service, holder)
    app.include_router(subjects_router)
