"""What leads keeps of listings (to attach inquiries, score the budget match, link the exposé),
from listings' events. Each effect commits with its inbox row, so a redelivery is a no-op."""

from __future__ import annotations

from pix_contracts.listings import ListingPublished, ListingUpdated, ListingWithdrawn
from pix_runtime.db import Database
from pix_runtime.inbox import first_delivery
from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert

from pix_leads import models as m

CONSUMER = "leads.listings"


class ListingMirror:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def listing_changed(self, event: ListingPublished | ListingUpdated) -> None:
        facts = event.facts
        values = {
            "org_id": event.org_id,
            "reference": facts.reference[:100],
            "title": facts.title[:300],
            "marketing": facts.marketing,
            "property_type": facts.property_type,
            "price_eur": facts.price_eur,
            "postcode": facts.postcode,
            "city": facts.city,
            "street": (facts.street or "")[:200] or None,
            "portal_ids": [p[:100] for p in facts.portal_ids],
            "expose_url": facts.expose_url,
            "withdrawn": False,
            "updated_at": func.now(),
        }
        async with self._db.transaction() as session:
            if not await first_delivery(
                session, m.inbox, consumer=CONSUMER, event_id=event.event_id
            ):
                return
            await session.execute(
                insert(m.listings)
                .values(listing_id=event.listing_id, **values)
                .on_conflict_do_update(index_elements=[m.listings.c.listing_id], set_=values)
            )
            # Leads that named the listing keep its title in step (the inbox shows it).
            await session.execute(
                update(m.leads)
                .where(m.leads.c.listing_id == event.listing_id)
                .values(listing_title=facts.title[:300])
            )

    async def listing_withdrawn(self, event: ListingWithdrawn) -> None:
        async with self._db.transaction() as session:
            if not await first_delivery(
                session, m.inbox, consumer=CONSUMER, event_id=event.event_id
            ):
                return
            await session.execute(
                update(m.listings)
                .where(m.listings.c.listing_id == event.listing_id)
                .values(withdrawn=True, updated_at=func.now())
            )
