"""Listings: the property record, its life cycle and its events.

Knows nothing of HTTP or Kafka: the API and the event handlers call in with typed values.
Matching, search, price estimates, media import and exposés live beside it.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pix_contracts import OrderPlaced
from pix_contracts.listings import (
    ListingPublished,
    ListingUpdated,
    ListingWithdrawn,
)
from pix_contracts.rooms import RoomType
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import Conflict, Invalid, NotFound
from pix_runtime.identity import Identity
from pix_runtime.inbox import first_delivery
from pix_runtime.jobs import enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue
from pix_runtime.storage import LocalStorage, S3Storage
from pydantic import BaseModel
from sqlalchemy import RowMapping, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_listings.facts import (
    TYPE_LABELS,
    ExposeLinks,
    facts_of,
    publish_problems,
    split_address,
)
from pix_listings.geocoding import Locations
from pix_listings.models import inbox, listings, media, outbox
from pix_listings.models import jobs as jobs_table
from pix_listings.records import (
    STAGED_LABEL,
    Listing,
    ListingChanges,
    ListingSummary,
    MediaItem,
    MediaOrder,
    NewListing,
    StagingStyle,
)
from pix_listings.staging import labelled_jpeg

log = get_logger(__name__)
SOURCE = "pix.immo/listings"
EMBED_LISTING = "listings.embed-listing"
MEDIA_URL_SECONDS = 3600
# Columns with a default instead of NULL: an event that does not know them leaves them out.
NOT_NULL = frozenset({"marketing", "country"})
ADDRESS = frozenset({"street", "postcode", "city", "country"})


class ListingJob(BaseModel):
    listing_id: uuid.UUID


def scoped(viewer: Identity) -> Any:
    """The tenancy condition: a client sees only its organisation's listings."""
    return listings.c.org_id == viewer.org_id if not viewer.is_admin else True


def located(values: dict[str, Any]) -> dict[str, Any]:
    """Coordinates the agent typed are theirs: no geocoding job overwrites them."""
    if values.get("latitude") is not None and values.get("longitude") is not None:
        return {"geo_source": "manual", "geocoded_address": None}
    if "latitude" in values or "longitude" in values:
        return {"latitude": None, "longitude": None, "geo_source": None}
    return {}


class Listings:
    def __init__(
        self,
        db: Database,
        storage: LocalStorage | S3Storage,
        clock: Clock,
        links: ExposeLinks,
        locations: Locations | None = None,
    ) -> None:
        self._db = db
        self._storage = storage
        self._clock = clock
        self.links = links
        self._locations = locations

    # --- reading ------------------------------------------------------------------------------

    async def owned(
        self, session: AsyncSession, viewer: Identity, listing_id: uuid.UUID, *, lock: bool = False
    ) -> RowMapping:
        query = select(listings).where(listings.c.id == listing_id, scoped(viewer))
        if lock:
            query = query.with_for_update()
        row = (await session.execute(query)).mappings().first()
        if row is None:
            raise NotFound("listing")
        return row

    async def get(self, viewer: Identity, listing_id: uuid.UUID) -> Listing:
        async with self._db.sessions() as session:
            row = await self.owned(session, viewer, listing_id)
            return await self._view(session, row)

    async def _view(self, session: AsyncSession, row: RowMapping) -> Listing:
        rows = (
            (
                await session.execute(
                    select(media).where(media.c.listing_id == row["id"]).order_by(media.c.position)
                )
            )
            .mappings()
            .all()
        )
        items = [
            MediaItem(
                **{k: r[k] for k in MediaItem.model_fields if k in r},
                is_floor_plan=r["room_type"] == RoomType.FLOOR_PLAN,
                label=STAGED_LABEL if r["staged"] else None,
                url=await self._storage.signed_url(
                    r["storage_key"], "GET", expires_in=MEDIA_URL_SECONDS
                ),
            )
            for r in rows
        ]
        return Listing(
            **{k: row[k] for k in Listing.model_fields if k in row and k != "media"}, media=items
        )

    async def list_for(
        self, viewer: Identity, *, status: str | None = None, limit: int = 200
    ) -> list[ListingSummary]:
        def title_picture(column: Any) -> Any:
            return (
                select(column)
                .where(media.c.listing_id == listings.c.id)
                .order_by(media.c.is_title.desc(), media.c.position)
                .limit(1)
                .scalar_subquery()
            )

        query = (
            select(
                listings,
                title_picture(media.c.storage_key).label("title_key"),
                title_picture(media.c.staged).label("title_staged"),
            )
            .where(scoped(viewer))
            .order_by(listings.c.updated_at.desc())
            .limit(max(1, min(limit, 500)))
        )
        if status:
            query = query.where(listings.c.status == status)
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        found = []
        for row in rows:
            summary = ListingSummary(**{k: row[k] for k in ListingSummary.model_fields if k in row})
            if row["title_key"]:
                summary.title_picture_url = await self._storage.signed_url(
                    row["title_key"], "GET", expires_in=MEDIA_URL_SECONDS
                )
                if row["title_staged"]:
                    summary.title_picture_label = STAGED_LABEL
            found.append(summary)
        return found

    # --- writing ------------------------------------------------------------------------------

    async def create(self, viewer: Identity, wanted: NewListing) -> Listing:
        org_id = wanted.org_id if viewer.is_admin and wanted.org_id else viewer.org_id
        values = wanted.columns()
        values.pop("org_id", None)
        listing_id = uuid.uuid4()
        values.setdefault("reference", f"L-{listing_id.hex[:8].upper()}")
        values |= located(values)
        async with self._db.transaction() as session:
            await session.execute(listings.insert().values(id=listing_id, org_id=org_id, **values))
            await self._embed_later(session, listing_id)
            if values.get("geo_source") is None:
                await self._locate_later(session, listing_id)
            row = await self.owned(session, viewer, listing_id)
            return await self._view(session, row)

    async def update(
        self, viewer: Identity, listing_id: uuid.UUID, changes: ListingChanges
    ) -> Listing:
        values = changes.columns()
        values |= located(values)
        async with self._db.transaction() as session:
            before = await self.owned(session, viewer, listing_id, lock=True)
            moved = any(k in values and values[k] != before[k] for k in ADDRESS)
            if moved and "geo_source" not in values:
                # A new address: the old point is wrong, even one the agent typed.
                values |= {"latitude": None, "longitude": None, "geo_source": None}
            if values:
                await session.execute(
                    update(listings)
                    .where(listings.c.id == listing_id)
                    .values(**values, updated_at=self._clock.now())
                )
            row = await self.owned(session, viewer, listing_id)
            if row["status"] == "published":
                await self._announce(session, row, ListingUpdated)
            await self._embed_later(session, listing_id)
            if "geo_source" in values and values["geo_source"] is None:
                await self._locate_later(session, listing_id)
            return await self._view(session, row)

    async def publish(self, viewer: Identity, listing_id: uuid.UUID) -> Listing:
        async with self._db.transaction() as session:
            row = await self.owned(session, viewer, listing_id, lock=True)
            problems = publish_problems(row)
            if problems:
                raise Invalid(
                    "incomplete", "the listing lacks facts it needs to go out", fields=problems
                )
            first = row["status"] == "draft" or row["published_at"] is None
            await session.execute(
                update(listings)
                .where(listings.c.id == listing_id)
                .values(
                    status="published",
                    withdraw_reason=None,
                    published_at=self._clock.now() if first else row["published_at"],
                    updated_at=self._clock.now(),
                )
            )
            row = await self.owned(session, viewer, listing_id)
            await self._announce(session, row, ListingPublished)
            return await self._view(session, row)

    async def withdraw(
        self, viewer: Identity, listing_id: uuid.UUID, reason: str | None
    ) -> Listing:
        async with self._db.transaction() as session:
            row = await self.owned(session, viewer, listing_id, lock=True)
            if row["status"] != "published":
                raise Conflict("not_published", "only a published listing can be withdrawn")
            await session.execute(
                update(listings)
                .where(listings.c.id == listing_id)
                .values(status="withdrawn", withdraw_reason=reason, updated_at=self._clock.now())
            )
            await enqueue(
                session,
                outbox,
                ListingWithdrawn(listing_id=listing_id, org_id=row["org_id"], reason=reason),
                source=SOURCE,
            )
            row = await self.owned(session, viewer, listing_id)
            return await self._view(session, row)

    async def arrange_media(
        self, viewer: Identity, listing_id: uuid.UUID, wanted: MediaOrder
    ) -> Listing:
        async with self._db.transaction() as session:
            await self.owned(session, viewer, listing_id, lock=True)
            ids = list(
                (await session.execute(select(media.c.id).where(media.c.listing_id == listing_id)))
                .scalars()
                .all()
            )
            known = set(ids)
            if any(i not in known for i in wanted.order) or (
                wanted.title_media_id is not None and wanted.title_media_id not in known
            ):
                raise Invalid("unknown_media", "a media id does not belong to this listing")
            ordered = list(dict.fromkeys(wanted.order)) + [i for i in ids if i not in wanted.order]
            for position, media_id in enumerate(ordered):
                await session.execute(
                    update(media).where(media.c.id == media_id).values(position=position)
                )
            if wanted.title_media_id is not None:
                await session.execute(
                    update(media)
                    .where(media.c.listing_id == listing_id)
                    .values(is_title=media.c.id == wanted.title_media_id)
                )
            await session.execute(
                update(listings)
                .where(listings.c.id == listing_id)
                .values(updated_at=self._clock.now())
            )
            row = await self.owned(session, viewer, listing_id)
            return await self._view(session, row)

    async def add_staged_photo(
        self,
        viewer: Identity,
        listing_id: uuid.UUID,
        source_photo_id: uuid.UUID,
        image: bytes,
        style: StagingStyle,
    ) -> MediaItem:
        """A virtually furnished copy of one of the listing's photos, as a new photo right
        after it, marked as staged and labelled in its corner; the source photo stays as it
        was."""
        async with self._db.transaction() as session:
            await self.owned(session, viewer, listing_id, lock=True)
            # Decoded only for a listing the caller may change (CPU: off the event loop).
            image = await asyncio.to_thread(labelled_jpeg, image)
            source = (
                (
                    await session.execute(
                        select(media).where(
                            media.c.id == source_photo_id, media.c.listing_id == listing_id
                        )
                    )
                )
                .mappings()
                .first()
            )
            if source is None:
                raise NotFound("photo")
            if source["staged"]:
                raise Invalid("staged_source", "a staged photo cannot be staged again")
            if source["room_type"] == RoomType.FLOOR_PLAN:
                raise Invalid("floor_plan", "a floor plan cannot be staged")
            staged_id = uuid.uuid4()
            key = f"listings/{listing_id}/media/staged/{staged_id}.jpg"
            await self._storage.put_bytes(key, image, "image/jpeg")
            # Right after its source: the agent sees both side by side and can reorder.
            await session.execute(
                update(media)
                .where(media.c.listing_id == listing_id, media.c.position > source["position"])
                .values(position=media.c.position + 1)
            )
            await session.execute(
                media.insert().values(
                    id=staged_id,
                    listing_id=listing_id,
                    org_id=source["org_id"],
                    asset_id=None,
                    name=f"{source['name']}_eingerichtet"[:100],
                    room_type=source["room_type"],
                    title_de=source["title_de"],
                    title_en=source["title_en"],
                    caption_de=source["caption_de"],
                    caption_en=source["caption_en"],
                    features=source["features"],
                    storage_key=key,
                    position=source["position"] + 1,
                    is_title=False,
                    gallery_version=source["gallery_version"],
                    staged=True,
                    source_photo_id=source_photo_id,
                    staging_style=style,
                )
            )
            await session.execute(
                update(listings)
                .where(listings.c.id == listing_id)
                .values(updated_at=self._clock.now())
            )
            await self.announce_change(session, listing_id)
            row = await self.owned(session, viewer, listing_id)
            view = await self._view(session, row)
        log.info("media.staged", listing_id=str(listing_id), source=str(source_photo_id))
        return next(item for item in view.media if item.id == staged_id)

    async def _announce(
        self,
        session: AsyncSession,
        row: RowMapping,
        kind: type[ListingPublished] | type[ListingUpdated],
    ) -> None:
        expose_url = await self.current_expose_url(session, row["id"])
        event = kind(
            listing_id=row["id"],
            org_id=row["org_id"],
            order_id=row["order_id"],
            facts=facts_of(row, expose_url),
        )
        await enqueue(session, outbox, event, source=SOURCE)

    async def announce_change(self, session: AsyncSession, listing_id: uuid.UUID) -> None:
        """A published listing's exposé or media changed: leads hear of it."""
        row = (
            (await session.execute(select(listings).where(listings.c.id == listing_id)))
            .mappings()
            .first()
        )
        if row is not None and row["status"] == "published":
            await self._announce(session, row, ListingUpdated)

    async def current_expose_url(self, session: AsyncSession, listing_id: uuid.UUID) -> str | None:
        from pix_listings.models import exposes

        locale = await session.scalar(
            select(exposes.c.locale)
            .where(exposes.c.listing_id == listing_id, exposes.c.status == "done")
            .order_by(exposes.c.version.desc())
            .limit(1)
        )
        return self.links.url(listing_id, locale) if locale else None

    async def _embed_later(self, session: AsyncSession, listing_id: uuid.UUID) -> None:
        await enqueue_job(
            session,
            jobs_table,
            EMBED_LISTING,
            ListingJob(listing_id=listing_id),
            key=str(listing_id),
        )

    async def _locate_later(self, session: AsyncSession, listing_id: uuid.UUID) -> None:
        if self._locations is not None:
            await self._locations.listing_later(session, listing_id)

    async def save_draft(self, viewer: Identity, listing_id: uuid.UUID, writer: Any) -> Any:
        """Write a description draft and keep it beside the description (never over it)."""
        listing = await self.get(viewer, listing_id)
        draft = await writer.write(listing)  # outside the transaction: a model may be slow
        async with self._db.transaction() as session:
            await self.owned(session, viewer, listing_id, lock=True)
            await session.execute(
                update(listings)
                .where(listings.c.id == listing_id)
                .values(
                    draft_de=draft.description_de,
                    draft_en=draft.description_en,
                    draft_model=draft.model,
                )
            )
        return draft

    # --- events -------------------------------------------------------------------------------

    async def order_placed(self, event: OrderPlaced) -> None:
        """An order's property becomes a draft listing (or completes one an export began)."""
        if event.street and event.postcode and event.city:
            # The order's address in parts (orders placed since the event carries them).
            street: str | None = " ".join(filter(None, [event.street, event.house_number]))
            postcode: str | None = event.postcode
            city: str | None = event.city
        else:
            street, postcode, city = split_address(event.property_address)
        label = TYPE_LABELS.get(event.property_type or "", ("Immobilie", "Property"))[0]
        values: dict[str, Any] = {
            "org_id": event.org_id,
            "order_id": event.order_id,
            "gallery_id": event.gallery_id,
            "reference": event.reference,
            "property_type": event.property_type,
            "street": street,
            "postcode": postcode,
            "city": city,
            "living_area_m2": event.living_area_m2,
            "rooms": event.rooms,
            "marketing": event.marketing,
            "country": event.country,
            "contact_name": event.contact_name,
            "contact_email": str(event.contact_email),
            "contact_phone": event.contact_phone,
            "title": f"{label} in {city}" if city else label,
        }
        async with self._db.transaction() as session:
            if not await first_delivery(
                session, inbox, consumer="listings.orders", event_id=event.event_id
            ):
                return
            existing = await session.scalar(
                select(listings.c.id).where(
                    or_(
                        listings.c.order_id == event.order_id,
                        listings.c.gallery_id == event.gallery_id,
                    )
                )
            )
            if existing is not None:
                # An export came first and made a bare draft: fill in what the order knows,
                # never overwrite what the agent already typed.
                row = (
                    (await session.execute(select(listings).where(listings.c.id == existing)))
                    .mappings()
                    .one()
                )
                fill = {k: v for k, v in values.items() if row[k] in (None, "") and v is not None}
                if row["order_id"] is None:
                    # The bare draft only had the column defaults (sale, DE), nothing typed
                    # from an order: what the order says about them wins.
                    fill |= {
                        k: values[k] for k in ("marketing", "country") if values[k] is not None
                    }
                fill["order_id"] = event.order_id
                await session.execute(
                    update(listings).where(listings.c.id == existing).values(**fill)
                )
                if ADDRESS & fill.keys():
                    await self._locate_later(session, existing)
                return
            listing_id = uuid.uuid4()
            # Older orders say nothing on sale or rent and country: the column defaults hold.
            known = {k: v for k, v in values.items() if v is not None or k not in NOT_NULL}
            await session.execute(listings.insert().values(id=listing_id, **known))
            await self._embed_later(session, listing_id)
            await self._locate_later(session, listing_id)
        log.info("listing.from_order", order_id=str(event.order_id), listing_id=str(listing_id))

    async def listing_for_gallery(
        self, session: AsyncSession, gallery_id: uuid.UUID, org_id: uuid.UUID, reference: str | None
    ) -> uuid.UUID:
        """The gallery's listing, created as a bare draft when the export came first."""
        found = await session.scalar(
            select(listings.c.id).where(listings.c.gallery_id == gallery_id).with_for_update()
        )
        if found is not None:
            return uuid.UUID(str(found))
        listing_id = uuid.uuid4()
        await session.execute(
            insert(listings)
            .values(
                id=listing_id,
                org_id=org_id,
                gallery_id=gallery_id,
                reference=reference or f"L-{listing_id.hex[:8].upper()}",
            )
            .on_conflict_do_nothing()
        )
        again = await session.scalar(
            select(listings.c.id).where(listings.c.gallery_id == gallery_id)
        )
        return uuid.UUID(str(again))

    async def count(self, org_id: uuid.UUID) -> int:
        async with self._db.sessions() as session:
            return int(
                await session.scalar(
                    select(func.count()).select_from(listings).where(listings.c.org_id == org_id)
                )
                or 0
            )
