"""Listings' tables, all in the `listings` schema.

`listings.search_vector` is kept by a trigger (German stemming; title A, address B,
description and features C). Vectors are stored without a fixed dimension beside the model
that made them and its dimension; the HNSW index is a partial expression index per dimension
(`vector_index_sql`), so a model change re-embeds row by row while search keeps working.
"""

from pgvector.sqlalchemy import Vector
from pix_runtime.dead_letters import dead_letters_table
from pix_runtime.erasure import OrganisationData, Prefix
from pix_runtime.inbox import inbox_table
from pix_runtime.jobs import jobs_table
from pix_runtime.licences import licences_table
from pix_runtime.outbox import outbox_table
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    and_,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR

SCHEMA = "listings"
metadata = MetaData(schema=SCHEMA)

# status: draft -> published <-> withdrawn (a withdrawn listing can be published again).
listings = Table(
    "listings",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("order_id", Uuid, nullable=True, unique=True),
    Column("gallery_id", Uuid, nullable=True, unique=True),
    Column("reference", String(60), nullable=False),
    Column("status", String(20), nullable=False, server_default="draft"),
    Column("title", String(200), nullable=False, server_default=""),
    Column("property_type", String(20), nullable=True),
    Column("marketing", String(10), nullable=False, server_default="sale"),
    # Purchase price, or the cold rent per month; for rentals also Nebenkosten and Kaution.
    Column("price_eur", Integer, nullable=True),
    Column("service_charge_eur", Integer, nullable=True),
    Column("deposit_eur", Integer, nullable=True),
    Column("rooms", Float, nullable=True),
    Column("living_area_m2", Float, nullable=True),
    Column("plot_area_m2", Float, nullable=True),
    Column("year_built", Integer, nullable=True),
    # Energieausweis (GEG §87: required in German listings): Bedarfs- or Verbrauchsausweis,
    # the value in kWh/(m²·a), the efficiency class A+..H and the main energy carrier.
    Column("energy_certificate_type", String(20), nullable=True),
    Column("energy_value_kwh", Float, nullable=True),
    Column("energy_class", String(3), nullable=True),
    Column("energy_carrier", String(60), nullable=True),
    Column("features", ARRAY(String(60)), nullable=False, server_default="{}"),
    Column("description_de", Text, nullable=False, server_default=""),
    Column("description_en", Text, nullable=False, server_default=""),
    # The last draft, kept apart from the description until the agent takes it over.
    Column("draft_de", Text, nullable=True),
    Column("draft_en", Text, nullable=True),
    Column("draft_model", String(100), nullable=True),
    Column("available_from", String(60), nullable=True),
    Column("video_url", String(500), nullable=True),
    Column("tour_url", String(500), nullable=True),
    Column("street", String(200), nullable=True),
    Column("postcode", String(10), nullable=True),
    Column("city", String(100), nullable=True),
    Column("country", String(2), nullable=False, server_default="DE"),
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    # Where the coordinates came from: "geocoded" (a job, from `geocoded_address`), "manual"
    # (typed by the agent, never overwritten by a job), "not_found"; NULL: not yet located.
    Column("geo_source", String(20), nullable=True),
    Column("geocoded_address", String(300), nullable=True),
    Column("portal_ids", ARRAY(String(60)), nullable=False, server_default="{}"),
    # The agent's contact for the exposé (from the order, editable).
    Column("contact_name", String(200), nullable=True),
    Column("contact_email", String(320), nullable=True),
    Column("contact_phone", String(40), nullable=True),
    Column("withdraw_reason", String(300), nullable=True),
    Column("search_vector", TSVECTOR, nullable=True),
    # Lower-case title, features and descriptions, kept by the same trigger, for substring
    # search (trigram index): German compounds ("Südbalkon") hide their parts from stemming.
    Column("search_text", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True),
)
Index("listings_org", listings.c.org_id, listings.c.status)
Index("listings_postcode", listings.c.org_id, listings.c.postcode)
Index("listings_region", listings.c.org_id, func.left(listings.c.postcode, 3))
Index("listings_city", listings.c.org_id, func.lower(listings.c.city))
# Listings within a radius: a bounding box on latitude first, the exact distance after.
Index("listings_latitude", listings.c.org_id, listings.c.latitude)
Index("listings_search", listings.c.search_vector, postgresql_using="gin")
Index(
    "listings_search_text",
    listings.c.search_text,
    postgresql_using="gin",
    postgresql_ops={"search_text": "gin_trgm_ops"},
)
# Price estimates look for comparables by type, marketing and postcode.
Index(
    "listings_comparables",
    listings.c.property_type,
    listings.c.marketing,
    listings.c.postcode,
)

# A listing's photos and floor plans, in the agent's order; one title picture. A staged photo
# (virtually furnished, `staged`) is a copy of another photo (`source_photo_id`) with no asset of
# its own; exports of the gallery never touch it, and it goes when its source goes.
media = Table(
    "media",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("listing_id", Uuid, ForeignKey("listings.listings.id", ondelete="CASCADE")),
    Column("org_id", Uuid, nullable=False),
    Column("asset_id", Uuid, nullable=True),
    Column("name", String(100), nullable=False),
    Column("room_type", String(30), nullable=True),
    Column("title_de", String(100), nullable=False, server_default=""),
    Column("title_en", String(100), nullable=False, server_default=""),
    Column("caption_de", Text, nullable=False, server_default=""),
    Column("caption_en", Text, nullable=False, server_default=""),
    Column("features", ARRAY(String(60)), nullable=False, server_default="{}"),
    Column("storage_key", String(300), nullable=False),
    Column("position", Integer, nullable=False),
    Column("is_title", Boolean, nullable=False, server_default="false"),
    Column("gallery_version", Integer, nullable=False, server_default="0"),
    Column("staged", Boolean, nullable=False, server_default="false"),
    Column(
        "source_photo_id",
        Uuid,
        ForeignKey("listings.media.id", ondelete="CASCADE", name="media_source_photo"),
        nullable=True,
    ),
    Column("staging_style", String(30), nullable=True),
    UniqueConstraint("listing_id", "asset_id", name="media_listing_asset"),
)
Index("media_listing", media.c.listing_id, media.c.position)

listing_vectors = Table(
    "listing_vectors",
    metadata,
    Column(
        "listing_id",
        Uuid,
        ForeignKey("listings.listings.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("org_id", Uuid, nullable=False),
    Column("model", String(120), nullable=False),
    Column("dim", Integer, nullable=False),
    Column("embedding", Vector(), nullable=False),
    # SHA-256 of the embedded text: an unchanged text is not embedded again.
    Column("text_sha", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("listing_vectors_model", listing_vectors.c.model)

# What leads look for, from the leads service's events (no names, no contact data).
lead_profiles = Table(
    "lead_profiles",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("listing_id", Uuid, nullable=True),
    Column("status", String(20), nullable=False),
    Column("score", Integer, nullable=False, server_default="0"),
    Column("locale", String(2), nullable=False, server_default="de"),
    Column("property_type", String(20), nullable=True),
    Column("marketing", String(10), nullable=True),
    Column("budget_min_eur", Integer, nullable=True),
    Column("budget_max_eur", Integer, nullable=True),
    Column("rooms_min", Float, nullable=True),
    Column("area_min_m2", Float, nullable=True),
    Column("postcodes", ARRAY(String(10)), nullable=False, server_default="{}"),
    # The postcodes' first three digits: "nearby" for matching without coordinates.
    Column("regions", ARRAY(String(3)), nullable=False, server_default="{}"),
    Column("city", String(100), nullable=True),
    # The wished place as a point (geocoded by a job from `geocoded_place`) and the lead's own
    # radius when their words name one; NULL: postcodes and town only.
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    Column("geocoded_place", String(300), nullable=True),
    Column("radius_km", Float, nullable=True),
    Column("wishes", Text, nullable=False, server_default=""),
    Column("financing", String(20), nullable=False, server_default="unknown"),
    Column("model", String(120), nullable=True),
    Column("dim", Integer, nullable=True),
    Column("embedding", Vector(), nullable=True),
    Column("text_sha", String(64), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("lead_profiles_org", lead_profiles.c.org_id, lead_profiles.c.status)
# Leads for a new listing: each way a lead names a place is an index, so the planner ORs
# bitmaps instead of reading every lead of the organisation.
Index("lead_profiles_postcodes", lead_profiles.c.postcodes, postgresql_using="gin")
Index("lead_profiles_regions", lead_profiles.c.regions, postgresql_using="gin")
Index("lead_profiles_city", lead_profiles.c.org_id, func.lower(lead_profiles.c.city))
Index(
    "lead_profiles_anywhere",
    lead_profiles.c.org_id,
    postgresql_where=and_(
        func.cardinality(lead_profiles.c.postcodes) == 0, lead_profiles.c.city.is_(None)
    ),
)

# Exposé PDFs: one row per requested version; the file lives in object storage.
# status: queued -> done | failed
exposes = Table(
    "exposes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("listing_id", Uuid, ForeignKey("listings.listings.id", ondelete="CASCADE")),
    Column("org_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("locale", String(2), nullable=False),
    Column("status", String(20), nullable=False, server_default="queued"),
    Column("storage_key", String(300), nullable=True),
    Column("byte_size", Integer, nullable=True),
    Column("pages", Integer, nullable=True),
    Column("render_ms", Integer, nullable=True),
    Column("error", String(500), nullable=True),
    Column("requested_by", Uuid, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("listing_id", "version", name="exposes_listing_version"),
)

# The CRM licence per organisation, as billing last announced it (pix_runtime.licences).
licences = licences_table(metadata)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
jobs = jobs_table(metadata)
dead_letters = dead_letters_table(metadata)


# The HNSW indexes are not in this metadata (their dimension is configuration): an autogenerated
# revision proposes to drop them; delete those lines.
def vector_index_sql(table: str, dim: int) -> str:
    """The HNSW index for vectors of one dimension (cosine distance), created when a model of
    that dimension is first configured. Queries must use the same cast and condition."""
    return (
        f"CREATE INDEX IF NOT EXISTS {table}_hnsw_{dim} ON {SCHEMA}.{table} "
        f"USING hnsw ((embedding::vector({dim})) vector_cosine_ops) WHERE dim = {dim}"
    )


# What an organisation's erasure removes (pix_runtime.erasure): every table by its org_id (vectors
# among them), and each listing's folder (media, staged photos, exposé PDFs).
ORGANISATION_DATA = OrganisationData(
    metadata,
    inbox=inbox,
    outbox=outbox,
    object_keys=(exposes.c.storage_key, media.c.storage_key),
    prefixes=(Prefix("listings/{}/", listings.c.id),),
)
