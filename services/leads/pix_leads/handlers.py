"""Event subscribers (thin): listings' events keep leads' copy of the listings current."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from pix_contracts.listings import ListingPublished, ListingUpdated, ListingWithdrawn
from pix_runtime.broker import subscribe

from pix_leads.listing_mirror import ListingMirror


def register_handlers(broker: KafkaBroker, mirror: ListingMirror) -> None:
    @subscribe(broker, ListingPublished, group="leads.listings-published")
    async def listing_published(event: ListingPublished) -> None:
        await mirror.listing_changed(event)

    @subscribe(broker, ListingUpdated, group="leads.listings-updated")
    async def listing_updated(event: ListingUpdated) -> None:
        await mirror.listing_changed(event)

    @subscribe(broker, ListingWithdrawn, group="leads.listings-withdrawn")
    async def listing_withdrawn(event: ListingWithdrawn) -> None:
        await mirror.listing_withdrawn(event)
