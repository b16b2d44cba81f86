"""The listings service: properties, their media and texts, matching, search, price
estimates and exposé PDFs (port 8008)."""

from __future__ import annotations

import sys
from datetime import timedelta

from fastapi import FastAPI
from pix_contracts.privacy import ListingsOrganisationErased
from pix_runtime.embeddings import Embedder, build_embedder
from pix_runtime.erasure import subscribe_organisation_erasure
from pix_runtime.jobs import RetryPolicy
from pix_runtime.licences import LicenceRequired, Licences, register_licence_handler
from pix_runtime.lifecycle import ServiceRuntime, serve
from pix_runtime.personal_data import declare
from pix_runtime.sealing import derive_key

from pix_listings.api import STAGED_PHOTOS_PREFIX, public_router, router
from pix_listings.drafts import build_drafts
from pix_listings.exposes import RENDER_EXPOSE, Exposes, RenderExpose
from pix_listings.facts import ExposeLinks
from pix_listings.gallery import GalleryImport
from pix_listings.geocoding import (
    LOCATE_LEAD,
    LOCATE_LISTING,
    GeocodingClient,
    LocateLead,
    LocateListing,
    Locations,
)
from pix_listings.handlers import register_handlers
from pix_listings.matching import Matching, Tuning
from pix_listings.models import ORGANISATION_DATA, inbox, jobs, outbox
from pix_listings.models import licences as licence_table
from pix_listings.pricing import PriceEstimator
from pix_listings.privacy import PERSONAL_DATA
from pix_listings.search import Search
from pix_listings.service import EMBED_LISTING, ListingJob, Listings
from pix_listings.settings import ListingsSettings
from pix_listings.vectors import EMBED_LEAD, REEMBED, LeadJob, Reembed, Vectors

EMBED_POLICY = RetryPolicy(max_attempts=8, base_seconds=10, max_seconds=1800)


def create_app(
    settings: ListingsSettings | None = None, *, embedder: Embedder | None = None
) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or ListingsSettings()
    embedder = embedder or build_embedder(settings)
    drafts = build_drafts(settings)
    runtime = ServiceRuntime(settings, outbox=outbox, jobs=jobs)
    links = ExposeLinks(
        key=derive_key(runtime.internal_key, "listing-expose-link"),
        public_url=settings.platform.public_url,
    )
    locations = Locations(
        runtime.db,
        GeocodingClient(
            settings.google_maps_key,
            base_url=settings.google_geocoding_base_url,
            timeout_seconds=settings.google_geocoding_timeout_seconds,
        ),
    )
    listings = Listings(runtime.db, runtime.storage, runtime.clock, links, locations)
    vectors = Vectors(runtime.db, embedder)
    matching = Matching(
        runtime.db,
        vectors,
        Tuning(
            budget_tolerance=settings.budget_tolerance,
            semantic_weight=settings.semantic_weight,
            radius_km=settings.match_radius_km,
        ),
        locations,
    )
    exposes = Exposes(
        runtime.db, runtime.storage, runtime.clock, listings, photo_px=settings.expose_photo_px
    )
    gallery = GalleryImport(runtime.db, runtime.storage, listings)
    register_handlers(runtime.broker, listings, gallery, matching)
    subscribe_organisation_erasure(runtime, ORGANISATION_DATA, ListingsOrganisationErased)
    billing_url = f"{settings.platform.public_url.rstrip('/')}/billing"
    licences = Licences(
        runtime.db,
        table=licence_table,
        inbox=inbox,
        consumer="listings.licences",
        billing_url=billing_url,
        # Taking a listing off the portals stays possible without a licence.
        always_allowed=lambda request: request.url.path.endswith("/withdraw"),
    )
    register_licence_handler(runtime.broker, licences)

    runtime.jobs.register(EMBED_LISTING, ListingJob, vectors.listing_job, policy=EMBED_POLICY)
    runtime.jobs.register(EMBED_LEAD, LeadJob, vectors.lead_job, policy=EMBED_POLICY)
    runtime.jobs.register(
        REEMBED, Reembed, vectors.reembed_job, policy=EMBED_POLICY, timeout=timedelta(minutes=30)
    )
    geocode_policy = RetryPolicy(max_attempts=6, base_seconds=30, max_seconds=3600)
    runtime.jobs.register(
        LOCATE_LISTING, LocateListing, locations.listing_job, policy=geocode_policy
    )
    runtime.jobs.register(LOCATE_LEAD, LocateLead, locations.lead_job, policy=geocode_policy)
    runtime.jobs.register(
        RENDER_EXPOSE,
        RenderExpose,
        exposes.render_job,
        policy=RetryPolicy(max_attempts=4, base_seconds=5, max_seconds=300),
        timeout=timedelta(minutes=5),
    )
    runtime.on_start(vectors.ensure_indexes)
    runtime.on_start(vectors.plan_reembed)

    app = runtime.create_app(title="pix.immo listings")
    declare(app, "listings", PERSONAL_DATA)
    app.include_router(router, dependencies=[LicenceRequired])
    app.include_router(public_router)
    app.state.streamed_body_prefixes = (STAGED_PHOTOS_PREFIX,)
    app.state.runtime = runtime
    app.state.listings = listings
    app.state.licences = licences
    app.state.matching = matching
    app.state.search = Search(runtime.db, vectors)
    app.state.exposes = exposes
    app.state.pricing = PriceEstimator(
        runtime.db, runtime.clock, locations, radius_km=settings.price_radius_km
    )
    app.state.drafts = drafts
    app.state.vectors = vectors
    return app, runtime


def main() -> None:
    settings = ListingsSettings()
    try:
        app, _ = create_app(settings)
    except ValueError as exc:
        sys.exit(f"pix-listings: {exc}")
    serve(app, settings, migrations_package="pix_listings")
