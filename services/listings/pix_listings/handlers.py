"""Event subscribers (thin): orders and exports make listings; leads' events make profiles."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from pix_contracts import GalleryExported, OrderPlaced
from pix_contracts.leads import LeadCreated, LeadErased, LeadStatusChanged, LeadUpdated
from pix_contracts.listings import LISTING_EVENTS
from pix_runtime.broker import declare_publishers, subscribe

from pix_listings.gallery import GalleryImport
from pix_listings.matching import Matching
from pix_listings.service import Listings


def register_handlers(
    broker: KafkaBroker, listings: Listings, gallery: GalleryImport, matching: Matching
) -> None:
    declare_publishers(broker, *LISTING_EVENTS)

    @subscribe(broker, OrderPlaced, group="listings.orders")
    async def order_placed(event: OrderPlaced) -> None:
        await listings.order_placed(event)

    @subscribe(broker, GalleryExported, group="listings.galleries")
    async def gallery_exported(event: GalleryExported) -> None:
        await gallery.gallery_exported(event)

    @subscribe(broker, LeadCreated, group="listings.lead-created")
    async def lead_created(event: LeadCreated) -> None:
        await matching.lead_changed(event)

    @subscribe(broker, LeadUpdated, group="listings.lead-updated")
    async def lead_updated(event: LeadUpdated) -> None:
        await matching.lead_changed(event)

    @subscribe(broker, LeadStatusChanged, group="listings.lead-status")
    async def lead_status_changed(event: LeadStatusChanged) -> None:
        await matching.lead_status_changed(event)

    @subscribe(broker, LeadErased, group="listings.lead-erasures")
    async def lead_erased(event: LeadErased) -> None:
        await matching.lead_erased(event)
