"""Events of an organisation's erasure (GDPR Art. 17 for a whole organisation).

Auth announces `OrganisationErasureDue` when the grace period of a requested deletion ends;
every service that holds the organisation's data erases all of it and answers with its own
`<service>.organisation.erased.v1`, which auth records so an admin sees the progress per
service. The events carry ids and counts only: an erasure must not spread what it erases.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import Field

from pix_contracts.envelope import Event


class OrganisationErasureDue(Event):
    topic: ClassVar[str] = "auth.organisation.erasure-due.v1"
    key_field: ClassVar[str] = "org_id"

    org_id: uuid.UUID
    erasure_id: uuid.UUID


class OrganisationErased(Event):
    """One service erased everything it held for the organisation. Subclassed per service, so
    each service publishes on its own topic."""

    topic: ClassVar[str] = "runtime.organisation.erased.v1"
    key_field: ClassVar[str] = "org_id"
    service: ClassVar[str] = "runtime"

    org_id: uuid.UUID
    erasure_id: uuid.UUID
    rows: int = Field(ge=0, description="Rows deleted from the service's tables")
    objects: int = Field(ge=0, description="Objects deleted from storage")


class OrdersOrganisationErased(OrganisationErased):
    topic: ClassVar[str] = "orders.organisation.erased.v1"
    service: ClassVar[str] = "orders"


class MediaOrganisationErased(OrganisationErased):
    topic: ClassVar[str] = "media.organisation.erased.v1"
    service: ClassVar[str] = "media"


class CaptioningOrganisationErased(OrganisationErased):
    topic: ClassVar[str] = "captioning.organisation.erased.v1"
    service: ClassVar[str] = "captioning"


class ExportOrganisationErased(OrganisationErased):
    topic: ClassVar[str] = "export.organisation.erased.v1"
    service: ClassVar[str] = "export"


class NotifyOrganisationErased(OrganisationErased):
    topic: ClassVar[str] = "notify.organisation.erased.v1"
    service: ClassVar[str] = "notify"


class LeadsOrganisationErased(OrganisationErased):
    topic: ClassVar[str] = "leads.organisation.erased.v1"
    service: ClassVar[str] = "leads"


class ListingsOrganisationErased(OrganisationErased):
    topic: ClassVar[str] = "listings.organisation.erased.v1"
    service: ClassVar[str] = "listings"


class BillingOrganisationErased(OrganisationErased):
    topic: ClassVar[str] = "billing.organisation.erased.v1"
    service: ClassVar[str] = "billing"


class AssistantOrganisationErased(OrganisationErased):
    topic: ClassVar[str] = "assistant.organisation.erased.v1"
    service: ClassVar[str] = "assistant"


# Every service that erases on `OrganisationErasureDue` and reports back, by name; auth waits
# for all of them (and erases its own data itself).
ERASURE_REPORTS: dict[str, type[OrganisationErased]] = {
    report.service: report
    for report in (
        OrdersOrganisationErased,
        MediaOrganisationErased,
        CaptioningOrganisationErased,
        ExportOrganisationErased,
        NotifyOrganisationErased,
        LeadsOrganisationErased,
        ListingsOrganisationErased,
        BillingOrganisationErased,
        AssistantOrganisationErased,
    )
}

PRIVACY_EVENTS: tuple[type[Event], ...] = (OrganisationErasureDue, *ERASURE_REPORTS.values())
