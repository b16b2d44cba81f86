"""Share links: a gallery, read-only and without an account, for the agent's owner or a
co-broker.

A link's token is its id signed with a key derived from the internal key, so a guessed token is
refused without a database read and the agent's page can show a link again at any time
(nothing secret is stored). A link expires (at most 90 days), can be revoked, and may ask for a
PIN: the PIN is stored as a keyed HMAC (a short PIN hashed with a plain or salted hash would
fall to trying every PIN; without the key that is impossible), and after five wrong PINs the
link refuses PINs for 15 minutes, counted in its row so every replica counts together. A right
PIN gets a grant (the link's id and an expiry, signed) that the visitor's browser keeps in a
cookie, so the PIN is asked once per visit, not per photo.

What a link shows is the gallery's title (the property's address) and its photos in the
client's order with the title picture marked; nothing of the order or the organisation. Every
opening of the gallery counts as a view of the link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import DomainError, Invalid, NotFound
from pix_runtime.identity import Identity
from pix_runtime.logging import get_logger
from pix_runtime.sealing import derive_key
from pydantic import BaseModel, ConfigDict
from sqlalchemy import RowMapping, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pix_media.arrangement import DownloadSize, GalleryArrangement, PhotoDownload
from pix_media.models import galleries, gallery_shares
from pix_media.previews import gallery_unpaid
from pix_media.service import MediaLibrary

log = get_logger(__name__)
SHARED_SIZES: tuple[DownloadSize, ...] = ("portal", "web")

MAX_DAYS = 90
PIN_ATTEMPTS = 5
PIN_LOCK = timedelta(minutes=15)
GRANT_TTL = timedelta(hours=12)
_SIGNATURE_BYTES = 16


class LinkGone(DomainError):
    """The link existed but is expired or revoked: the visitor is told so."""

    status = 410


class PinRequired(DomainError):
    """The link asks for a PIN and the request carries no valid grant."""

    status = 401

    def __init__(self) -> None:
        super().__init__("pin_required", "this gallery is protected by a PIN")


class TooManyAttempts(DomainError):
    status = 429

    def __init__(self, until: datetime) -> None:
        super().__init__(
            "pin_locked", f"too many wrong PINs; try again after {until:%H:%M} UTC", "pin"
        )
        self.until = until


class ShareLink(BaseModel):
    """A share link as its organisation's members see it."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    gallery_id: uuid.UUID
    token: str
    label: str
    has_pin: bool
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool
    view_count: int
    last_viewed_at: datetime | None


class SharedPhoto(BaseModel):
    """A photo of a shared gallery: its pseudonymous name, size and preview links."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    name: str
    width: int | None
    height: int | None
    thumb_url: str | None
    web_url: str | None
    title: bool


class SharedGallery(BaseModel):
    """What a share link shows."""

    model_config = ConfigDict(frozen=True)

    title: str
    expires_at: datetime
    downloads: bool
    photos: list[SharedPhoto]


@dataclass(frozen=True)
class ShareGrant:
    grant: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class GalleryShares:
    def __init__(
        self,
        db: Database,
        arrangement: GalleryArrangement,
        library: MediaLibrary,
        *,
        internal_key: bytes,
        clock: Clock,
    ) -> None:
        self._db = db
        self._arrangement = arrangement
        self._library = library
        self._link_key = derive_key(internal_key, "media-share-link")
        self._pin_key = derive_key(internal_key, "media-share-pin")
        self._clock = clock

    # --- signatures ---------------------------------------------------------------------------

    def token_of(self, share_id: uuid.UUID) -> str:
        mac = hmac.new(self._link_key, b"link:" + share_id.bytes, hashlib.sha256).digest()
        return f"{share_id.hex}-{_b64(mac[:_SIGNATURE_BYTES])}"

    def _share_id(self, token: str) -> uuid.UUID:
        """The link's id, if the token is one we signed; otherwise not found."""
        raw, _, _ = token.partition("-")
        try:
            share_id = uuid.UUID(hex=raw)
        except ValueError as exc:
            raise NotFound("share link") from exc
        if not hmac.compare_digest(self.token_of(share_id), token):
            raise NotFound("share link")
        return share_id

    def _pin_hash(self, share_id: uuid.UUID, pin: str) -> str:
        message = share_id.bytes + pin.encode()
        return hmac.new(self._pin_key, message, hashlib.sha256).hexdigest()

    def _grant_mac(self, share_id: uuid.UUID, until: int) -> str:
        message = b"grant:" + share_id.bytes + str(until).encode()
        return _b64(hmac.new(self._link_key, message, hashlib.sha256).digest()[:20])

    def _granted(self, share_id: uuid.UUID, grant: str | None) -> bool:
        if not grant:
            return False
        until, _, mac = grant.partition(".")
        if not until.isdigit() or int(until) < self._clock.now().timestamp():
            return False
        return hmac.compare_digest(self._grant_mac(share_id, int(until)), mac)

    # --- the agent's side ---------------------------------------------------------------------

    def _link(self, row: RowMapping) -> ShareLink:
        now = self._clock.now()
        return ShareLink(
            id=row["id"],
            gallery_id=row["gallery_id"],
            token=self.token_of(row["id"]),
            label=row["label"],
            has_pin=row["pin_hash"] is not None,
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            revoked_at=row["revoked_at"],
            active=row["revoked_at"] is None and row["expires_at"] > now,
            view_count=row["view_count"],
            last_viewed_at=row["last_viewed_at"],
        )

    async def create(
        self,
        gallery_id: uuid.UUID,
        viewer: Identity,
        *,
        days: int,
        pin: str | None,
        label: str,
    ) -> ShareLink:
        if not 1 <= days <= MAX_DAYS:
            raise Invalid("invalid_expiry", f"a link lasts 1 to {MAX_DAYS} days", "expires_in_days")
        if pin is not None and not (pin.isdigit() and 4 <= len(pin) <= 8):
            raise Invalid("invalid_pin", "a PIN is 4 to 8 digits", "pin")
        share_id = uuid.uuid4()
        now = self._clock.now()
        async with self._db.transaction() as session:
            gallery = await self._arrangement.member_gallery(session, gallery_id, viewer)
            row = (
                (
                    await session.execute(
                        gallery_shares.insert()
                        .values(
                            id=share_id,
                            gallery_id=gallery_id,
                            org_id=gallery["org_id"],
                            label=label.strip()[:120],
                            pin_hash=self._pin_hash(share_id, pin) if pin else None,
                            created_at=now,
                            expires_at=now + timedelta(days=days),
                            created_by=viewer.user_id,
                        )
                        .returning(*gallery_shares.c)
                    )
                )
                .mappings()
                .one()
            )
        log.info("share.created", gallery_id=str(gallery_id), share_id=str(share_id), pin=bool(pin))
        return self._link(row)

    async def links(self, gallery_id: uuid.UUID, viewer: Identity) -> list[ShareLink]:
        async with self._db.sessions() as session:
            await self._arrangement.member_gallery(session, gallery_id, viewer)
            rows = await session.execute(
                select(gallery_shares)
                .where(gallery_shares.c.gallery_id == gallery_id)
                .order_by(gallery_shares.c.created_at.desc())
            )
            return [self._link(row) for row in rows.mappings()]

    async def revoke(
        self, gallery_id: uuid.UUID, share_id: uuid.UUID, viewer: Identity
    ) -> ShareLink:
        async with self._db.transaction() as session:
            await self._arrangement.member_gallery(session, gallery_id, viewer)
            share = gallery_shares.c
            await session.execute(
                update(gallery_shares)
                .where(share.id == share_id, share.gallery_id == gallery_id)
                .where(share.revoked_at.is_(None))
                .values(revoked_at=self._clock.now())
            )
            row = (
                (
                    await session.execute(
                        select(gallery_shares).where(
                            share.id == share_id, share.gallery_id == gallery_id
                        )
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound("share link")
        log.info("share.revoked", gallery_id=str(gallery_id), share_id=str(share_id))
        return self._link(row)

    # --- the visitor's side -------------------------------------------------------------------

    async def _live(
        self, session: AsyncSession, share_id: uuid.UUID, *, lock: bool = False
    ) -> RowMapping:
        query = select(gallery_shares).where(gallery_shares.c.id == share_id)
        row = (await session.execute(query.with_for_update() if lock else query)).mappings().first()
        if row is None:
            raise NotFound("share link")
        if row["revoked_at"] is not None:
            raise LinkGone("link_revoked", "this link was withdrawn")
        if row["expires_at"] <= self._clock.now():
            raise LinkGone("link_expired", "this link has expired")
        return row

    async def unlock(self, token: str, pin: str) -> ShareGrant:
        """A grant for the right PIN; a wrong one counts, and the fifth locks the link."""
        share_id = self._share_id(token)
        now = self._clock.now()
        refusal: DomainError | None = None
        async with self._db.transaction() as session:
            row = await self._live(session, share_id, lock=True)
            locked = row["pin_locked_until"]
            if row["pin_hash"] is None:  # a link without a PIN: every visitor gets the grant
                refusal = None
            elif locked is not None and locked > now:
                refusal = TooManyAttempts(locked)
            elif hmac.compare_digest(self._pin_hash(share_id, pin), row["pin_hash"]):
                await session.execute(
                    update(gallery_shares)
                    .where(gallery_shares.c.id == share_id)
                    .values(failed_pins=0, pin_locked_until=None)
                )
            else:
                # An ended lock starts a fresh count.
                failed = (0 if locked is not None else row["failed_pins"]) + 1
                lock_until = now + PIN_LOCK if failed >= PIN_ATTEMPTS else None
                await session.execute(
                    update(gallery_shares)
                    .where(gallery_shares.c.id == share_id)
                    .values(failed_pins=0 if lock_until else failed, pin_locked_until=lock_until)
                )
                refusal = (
                    TooManyAttempts(lock_until)
                    if lock_until
                    else Invalid("wrong_pin", "the PIN is not right", "pin")
                )
                log.info("share.wrong_pin", share_id=str(share_id), failed=failed)
            expires_at = min(row["expires_at"], now + GRANT_TTL)
        if refusal is not None:
            raise refusal
        until = int(expires_at.timestamp())
        return ShareGrant(
            grant=f"{until}.{self._grant_mac(share_id, until)}",
            expires_at=datetime.fromtimestamp(until, tz=now.tzinfo),
        )

    async def _admitted(
        self, session: AsyncSession, token: str, grant: str | None
    ) -> tuple[uuid.UUID, RowMapping]:
        share_id = self._share_id(token)
        row = await self._live(session, share_id)
        if row["pin_hash"] is not None and not self._granted(share_id, grant):
            raise PinRequired()
        return share_id, row

    async def view(self, token: str, grant: str | None) -> SharedGallery:
        """The shared gallery; counts a view of the link."""
        async with self._db.transaction() as session:
            share_id, row = await self._admitted(session, token, grant)
            await session.execute(
                update(gallery_shares)
                .where(gallery_shares.c.id == share_id)
                .values(
                    view_count=gallery_shares.c.view_count + 1,
                    last_viewed_at=self._clock.now(),
                )
            )
            gallery_id = row["gallery_id"]
            title = await session.scalar(
                select(galleries.c.title).where(galleries.c.id == gallery_id)
            )
            unpaid = await gallery_unpaid(session, gallery_id)
            photos = await self._arrangement.photos(session, gallery_id)
            arrangement = await self._arrangement.current(session, gallery_id)
        shown = []
        for photo in photos:
            urls = await self._library.preview_urls(photo.asset, watermarked=unpaid)
            shown.append(
                SharedPhoto(
                    id=photo.id,
                    name=photo.name,
                    width=photo.asset.width,
                    height=photo.asset.height,
                    thumb_url=urls["thumb_url"],
                    web_url=urls["web_url"],
                    title=photo.id == arrangement.title_asset_id,
                )
            )
        return SharedGallery(
            title=title or "", expires_at=row["expires_at"], downloads=not unpaid, photos=shown
        )

    async def download(
        self, token: str, grant: str | None, asset_id: uuid.UUID, size: DownloadSize
    ) -> PhotoDownload:
        if size not in SHARED_SIZES:
            # The original still carries its EXIF/GPS and unblurred faces: for the members of
            # the organisation, never for whoever holds a link.
            raise Invalid("size_not_shared", "a share link offers the web and portal sizes", "size")
        async with self._db.sessions() as session:
            _, row = await self._admitted(session, token, grant)
        return await self._arrangement.download_of(row["gallery_id"], asset_id, size)
