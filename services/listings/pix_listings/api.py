"""HTTP routes of the listings service (thin: parse, authorise, call the domain).

Everything except `/public/...` needs the gateway's signed identity.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pix_runtime.errors import Invalid, Unavailable
from pix_runtime.http import CurrentIdentity, read_limited_body

from pix_listings.drafts import DraftError, DraftWriter
from pix_listings.exposes import Exposes
from pix_listings.matching import LeadMatches, Match, Matching
from pix_listings.pricing import EstimateRequest, PriceEstimate, PriceEstimator
from pix_listings.records import (
    Draft,
    Expose,
    ExposeRequest,
    Listing,
    ListingChanges,
    ListingSummary,
    Locale,
    MediaItem,
    MediaOrder,
    NewListing,
    StagingStyle,
    Withdrawal,
)
from pix_listings.search import Search, SearchHit
from pix_listings.service import Listings
from pix_listings.staging import MAX_STAGED_BYTES

router = APIRouter()
public_router = APIRouter(prefix="/public")


def _listings(request: Request) -> Listings:
    found: Listings = request.app.state.listings
    return found


def _matching(request: Request) -> Matching:
    found: Matching = request.app.state.matching
    return found


def _search(request: Request) -> Search:
    found: Search = request.app.state.search
    return found


def _exposes(request: Request) -> Exposes:
    found: Exposes = request.app.state.exposes
    return found


def _pricing(request: Request) -> PriceEstimator:
    found: PriceEstimator = request.app.state.pricing
    return found


def _drafts(request: Request) -> DraftWriter:
    found: DraftWriter = request.app.state.drafts
    return found


ListingsService = Annotated[Listings, Depends(_listings)]
MatchingService = Annotated[Matching, Depends(_matching)]
SearchService = Annotated[Search, Depends(_search)]
ExposeService = Annotated[Exposes, Depends(_exposes)]
PricingService = Annotated[PriceEstimator, Depends(_pricing)]
DraftService = Annotated[DraftWriter, Depends(_drafts)]


@router.get("/listings")
async def list_listings(
    viewer: CurrentIdentity,
    listings: ListingsService,
    status_: Annotated[
        str | None, Query(alias="status", pattern="^(draft|published|withdrawn)$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[ListingSummary]:
    return await listings.list_for(viewer, status=status_, limit=limit)


@router.post("/listings", status_code=status.HTTP_201_CREATED)
async def create_listing(
    body: NewListing, viewer: CurrentIdentity, listings: ListingsService
) -> Listing:
    return await listings.create(viewer, body)


@router.get("/listings/{listing_id}")
async def get_listing(
    listing_id: uuid.UUID, viewer: CurrentIdentity, listings: ListingsService
) -> Listing:
    return await listings.get(viewer, listing_id)


@router.patch("/listings/{listing_id}")
async def update_listing(
    listing_id: uuid.UUID,
    body: ListingChanges,
    viewer: CurrentIdentity,
    listings: ListingsService,
) -> Listing:
    return await listings.update(viewer, listing_id, body)


@router.post("/listings/{listing_id}/publish")
async def publish_listing(
    listing_id: uuid.UUID, viewer: CurrentIdentity, listings: ListingsService
) -> Listing:
    return await listings.publish(viewer, listing_id)


@router.post("/listings/{listing_id}/withdraw")
async def withdraw_listing(
    listing_id: uuid.UUID,
    body: Withdrawal,
    viewer: CurrentIdentity,
    listings: ListingsService,
) -> Listing:
    return await listings.withdraw(viewer, listing_id, body.reason)


@router.put("/listings/{listing_id}/media")
async def arrange_media(
    listing_id: uuid.UUID,
    body: MediaOrder,
    viewer: CurrentIdentity,
    listings: ListingsService,
) -> Listing:
    return await listings.arrange_media(viewer, listing_id, body)


# Outside the request guard's 1 MB JSON limit (app.state.streamed_body_prefixes): the route
# reads the picture itself with its own limit.
STAGED_PHOTOS_PREFIX = "/staged-photos/"


@router.post(
    STAGED_PHOTOS_PREFIX + "{listing_id}/{photo_id}",
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}},
        }
    },
)
async def add_staged_photo(
    listing_id: uuid.UUID,
    photo_id: uuid.UUID,
    request: Request,
    viewer: CurrentIdentity,
    listings: ListingsService,
    style: StagingStyle = "modern",
) -> MediaItem:
    """A virtually furnished copy of the listing's photo `photo_id` (the picture as the raw
    body): a new photo of the listing right after it, marked `staged` and labelled
    "Virtuell eingerichtet" in its corner; the photo itself stays as it was."""
    data = await read_limited_body(request, MAX_STAGED_BYTES)
    if not data:
        raise Invalid("empty", "the picture is missing (send it as the request body)")
    return await listings.add_staged_photo(viewer, listing_id, photo_id, data, style)


@router.post("/listings/{listing_id}/draft")
async def draft_description(
    listing_id: uuid.UUID,
    viewer: CurrentIdentity,
    listings: ListingsService,
    drafts: DraftService,
) -> Draft:
    try:
        draft: Draft = await listings.save_draft(viewer, listing_id, drafts)
    except DraftError as exc:
        raise Unavailable("draft_failed", str(exc)) from exc
    return draft


@router.post("/listings/{listing_id}/exposes", status_code=status.HTTP_202_ACCEPTED)
async def request_expose(
    listing_id: uuid.UUID,
    body: ExposeRequest,
    viewer: CurrentIdentity,
    exposes: ExposeService,
) -> Expose:
    return await exposes.request(viewer, listing_id, body.locale)


@router.get("/listings/{listing_id}/exposes")
async def list_exposes(
    listing_id: uuid.UUID, viewer: CurrentIdentity, exposes: ExposeService
) -> list[Expose]:
    return await exposes.list_for(viewer, listing_id)


@router.get("/listings/{listing_id}/exposes/{expose_id}")
async def get_expose(
    listing_id: uuid.UUID, expose_id: uuid.UUID, viewer: CurrentIdentity, exposes: ExposeService
) -> Expose:
    return await exposes.get(viewer, listing_id, expose_id)


@router.get("/listings/{listing_id}/leads")
async def leads_for_listing(
    listing_id: uuid.UUID,
    viewer: CurrentIdentity,
    matching: MatchingService,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    locale: Locale | None = None,
) -> LeadMatches:
    return await matching.leads_for_listing(viewer, listing_id, limit=limit, locale=locale)


@router.get("/leads/{lead_id}/listings")
async def listings_for_lead(
    lead_id: uuid.UUID,
    viewer: CurrentIdentity,
    matching: MatchingService,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    locale: Locale | None = None,
) -> list[Match]:
    return await matching.listings_for_lead(viewer, lead_id, limit=limit, locale=locale)


@router.get("/search")
async def search_listings(
    viewer: CurrentIdentity,
    search: SearchService,
    q: Annotated[str, Query(max_length=500)] = "",
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> list[SearchHit]:
    return await search.search(viewer, q, limit=limit)


@router.post("/price-estimate")
async def price_estimate(
    body: EstimateRequest, viewer: CurrentIdentity, pricing: PricingService
) -> PriceEstimate:
    return await pricing.estimate(viewer, body)


@public_router.get("/exposes/{listing_id}/{locale}")
async def public_expose(
    listing_id: uuid.UUID,
    locale: Locale,
    exposes: ExposeService,
    sig: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    data, filename = await exposes.public_file(listing_id, locale, sig)
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )
