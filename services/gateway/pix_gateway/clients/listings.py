"""The listings service as the gateway's pages call it."""

from collections.abc import Mapping
from typing import Any

from pix_gateway.clients.base import ServiceClient, query, segment
from pix_gateway.clients.listings_models import (
    Draft,
    Expose,
    LeadMatches,
    Listing,
    ListingSummary,
    Match,
    SearchHit,
)


class ListingsClient(ServiceClient):
    service = "listings"

    async def listings(self, status: str = "", *, limit: int | None = None) -> list[ListingSummary]:
        wanted = {"status": status or None, "limit": str(limit) if limit else None}
        return await self.many(ListingSummary, f"/listings{query(wanted)}")

    async def search(self, words: str) -> list[SearchHit]:
        return await self.many(SearchHit, f"/search{query({'q': words})}")

    async def listing(self, listing_id: str) -> Listing:
        return await self.one(Listing, "GET", f"/listings/{segment(listing_id)}")

    async def create(self, changes: Mapping[str, Any]) -> Listing:
        """The form as typed (numbers may be text): the service names what it refuses."""
        return await self.one(Listing, "POST", "/listings", json=dict(changes))

    async def update(self, listing_id: str, changes: Mapping[str, Any]) -> Listing:
        return await self.one(
            Listing, "PATCH", f"/listings/{segment(listing_id)}", json=dict(changes)
        )

    async def publish(self, listing_id: str) -> Listing:
        return await self.one(Listing, "POST", f"/listings/{segment(listing_id)}/publish")

    async def withdraw(self, listing_id: str, reason: str | None) -> Listing:
        return await self.one(
            Listing, "POST", f"/listings/{segment(listing_id)}/withdraw", json={"reason": reason}
        )

    async def arrange_media(self, listing_id: str, arrangement: Mapping[str, Any]) -> Listing:
        return await self.one(
            Listing, "PUT", f"/listings/{segment(listing_id)}/media", json=dict(arrangement)
        )

    async def draft(self, listing_id: str) -> Draft:
        return await self.one(Draft, "POST", f"/listings/{segment(listing_id)}/draft")

    async def create_expose(self, listing_id: str, locale: str) -> Expose:
        return await self.one(
            Expose, "POST", f"/listings/{segment(listing_id)}/exposes", json={"locale": locale}
        )

    async def exposes(self, listing_id: str) -> list[Expose]:
        return await self.many(Expose, f"/listings/{segment(listing_id)}/exposes")

    async def leads_for_listing(self, listing_id: str, *, limit: int, locale: str) -> LeadMatches:
        """How many leads might want the listing, and the best of them."""
        path = (
            f"/listings/{segment(listing_id)}/leads{query({'limit': str(limit), 'locale': locale})}"
        )
        return await self.one(LeadMatches, "GET", path)

    async def listings_for_lead(self, lead_id: str, *, limit: int, locale: str) -> list[Match]:
        return await self.many(
            Match,
            f"/leads/{segment(lead_id)}/listings{query({'limit': str(limit), 'locale': locale})}",
        )
