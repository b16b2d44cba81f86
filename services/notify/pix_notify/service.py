"""Email: every event that a person should hear about becomes exactly one email.

Each event handler renders its mail (Jinja2, DE/EN, text and HTML) and hands it to the
`Courier` (delivery.py) under an idempotency key made of the event id and the kind, so a
redelivered event never mails twice. How mail leaves is the provider's business (providers.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pix_contracts import (
    CaptionFailed,
    EmailVerificationRequested,
    GalleryExported,
    OrderPlaced,
    OrderStatusChanged,
    PasswordChanged,
    PasswordResetRequested,
    UserDeleted,
    UserDeletedV2,
    UserRegistered,
)
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.i18n import format_moment
from pix_runtime.inbox import first_delivery
from pix_runtime.logging import get_logger
from pix_runtime.personal_data import subject_digest
from pix_runtime.sealing import unseal
from sqlalchemy import Column, Table, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_notify.delivery import Courier
from pix_notify.gallery_mail import GalleryMailer
from pix_notify.i18n import gettext, html_helpers, text_helpers
from pix_notify.models import (
    admins,
    emails,
    inbox,
    notification_preferences,
    recipients,
    suppressions,
)
from pix_notify.providers import Mail

CONSUMER = "notify"
log = get_logger(__name__)


def when(moment: datetime, locale: str) -> str:
    """Berlin time with the zone named, as the pages show it ("06.12.2026, 18:00 MEZ")."""
    return format_moment(moment, locale)


class Templates:
    def __init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader("pix_notify", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
        )

    def render(self, kind: str, locale: str, recipient: str, **values: Any) -> Mail:
        locale = locale if locale in ("de", "en") else "de"
        subject = gettext(locale, f"subject.{kind}", **values)
        context = {"locale": locale, "subject": subject, **values}
        return Mail(
            recipient=recipient,
            subject=subject,
            text=self._env.get_template(f"{kind}.txt").render(context, **text_helpers(locale)),
            html=self._env.get_template(f"{kind}.html").render(context, **html_helpers(locale)),
        )


class PostOffice:
    def __init__(
        self,
        db: Database,
        courier: Courier,
        *,
        link_key: bytes,
        subject_key: bytes,
        admin_emails: list[str] | None = None,
        clock: Clock | None = None,
        gallery_update_interval: timedelta = timedelta(hours=3),
    ) -> None:
        self._admin_emails = admin_emails or []
        self._db = db
        self._courier = courier
        self._link_key = link_key
        self._subject_key = subject_key
        self._templates = Templates()
        self.gallery_mail = GalleryMailer(
            db,
            courier,
            self._templates.render,
            clock=clock or Clock(),
            update_interval=gallery_update_interval,
        )

    @property
    def sender(self) -> str:
        return self._courier.sender

    def _link(self, sealed: str) -> str:
        return unseal(sealed, self._link_key, context="email-link")

    async def verification_requested(self, event: EmailVerificationRequested) -> None:
        mail = self._templates.render(
            "welcome_verify",
            event.locale,
            str(event.email),
            name=event.name,
            link=self._link(event.sealed_verify_url),
            expires=when(event.expires_at, event.locale),
        )
        await self.deliver(f"{event.event_id}:welcome_verify", "welcome_verify", mail, event.locale)

    async def reset_requested(self, event: PasswordResetRequested) -> None:
        kind = "invitation" if event.purpose == "invitation" else "password_reset"
        mail = self._templates.render(
            kind,
            event.locale,
            str(event.email),
            name=event.name,
            link=self._link(event.sealed_reset_url),
            expires=when(event.expires_at, event.locale),
        )
        await self.deliver(f"{event.event_id}:{kind}", kind, mail, event.locale)

    async def password_changed(self, event: PasswordChanged) -> None:
        mail = self._templates.render(
            "password_changed", event.locale, str(event.email), name=event.name, via=event.via
        )
        key = f"{event.event_id}:password_changed"
        await self.deliver(key, "password_changed", mail, event.locale)

    async def user_deleted(self, event: UserDeleted | UserDeletedV2) -> int:
        """Erase what notify holds about the user: their mails, the recipients of the orders
        they placed, their admin entry, their notification preferences and a suppression of
        their address.

        v2 carries ids and the address's keyed digest only; rows from before the digest was
        kept have their digest computed here (the mail log's retention removes them in time).
        Returns how many rows went.
        """
        if isinstance(event, UserDeletedV2):
            digest = event.email_digest
        else:
            digest = subject_digest(str(event.email), self._subject_key)
        erased = 0
        async with self._db.transaction() as session:
            erased += await self._erase_digest(session, emails, emails.c.recipient, digest)
            erased += await self._erase_digest(session, recipients, recipients.c.email, digest)
            gone = await session.execute(
                delete(recipients).where(recipients.c.user_id == event.user_id)
            )
            erased += int(getattr(gone, "rowcount", 0) or 0)
            gone = await session.execute(delete(admins).where(admins.c.user_id == event.user_id))
            erased += int(getattr(gone, "rowcount", 0) or 0)
            gone = await session.execute(
                delete(notification_preferences).where(
                    notification_preferences.c.user_id == event.user_id
                )
            )
            erased += int(getattr(gone, "rowcount", 0) or 0)
            erased += await self._erase_digest(session, suppressions, suppressions.c.email, digest)
        log.info("mail.erased_user", user_id=str(event.user_id), rows=erased)
        return erased

    async def _erase_digest(
        self, session: AsyncSession, table: Table, address: Column[str], digest: str
    ) -> int:
        """Delete the rows whose address has `digest`: by the stored digest where the table
        keeps one, and by computing it for rows that have none."""
        stored = table.c.get("recipient_digest", table.c.get("email_digest"))
        erased = 0
        if stored is not None:
            gone = await session.execute(delete(table).where(stored == digest))
            erased += int(getattr(gone, "rowcount", 0) or 0)
            unmarked = select(address).where(stored.is_(None))
        else:
            unmarked = select(address)
        addresses = {
            value
            for value in (await session.scalars(unmarked.distinct())).all()
            if subject_digest(value, self._subject_key) == digest
        }
        if addresses:
            gone = await session.execute(delete(table).where(address.in_(addresses)))
            erased += int(getattr(gone, "rowcount", 0) or 0)
        return erased

    async def order_placed(self, event: OrderPlaced) -> None:
        """Remember who hears about the gallery, and confirm the order to them."""
        mail = self._templates.render(
            "order_confirmation",
            event.locale,
            str(event.contact_email),
            name=event.contact_name,
            reference=event.reference,
            address=event.property_address,
        )
        async with self._db.transaction() as session:
            if await first_delivery(session, inbox, consumer=CONSUMER, event_id=event.event_id):
                await session.execute(
                    recipients.insert().values(
                        gallery_id=event.gallery_id,
                        order_id=event.order_id,
                        reference=event.reference,
                        name=event.contact_name,
                        email=str(event.contact_email),
                        locale=event.locale,
                        user_id=event.placed_by,
                        email_digest=subject_digest(str(event.contact_email), self._subject_key),
                        org_id=event.org_id,
                    )
                )
        # Delivery is idempotent by key, so a crash between the two steps only delays the mail.
        key = f"{event.event_id}:order_confirmation"
        await self.deliver(key, "order_confirmation", mail, event.locale, event.org_id)
        for address, locale in await self._operators():
            note = self._templates.render(
                "new_order_admin",
                locale,
                address,
                reference=event.reference,
                contact=f"{event.contact_name} <{event.contact_email}>",
                address=event.property_address,
            )
            await self.deliver(
                f"{event.event_id}:new_order:{address}",
                "new_order_admin",
                note,
                locale,
                event.org_id,
            )

    async def _operators(self) -> list[tuple[str, str]]:
        async with self._db.sessions() as session:
            rows = (await session.execute(select(admins.c.email, admins.c.locale))).all()
        known = {email.lower(): (email, locale) for email, locale in rows}
        for email in self._admin_emails:
            known.setdefault(email.lower(), (email, "de"))
        return sorted(known.values())

    async def user_registered(self, event: UserRegistered) -> None:
        if event.role != "admin":
            return
        async with self._db.transaction() as session:
            await session.execute(
                insert(admins)
                .values(user_id=event.user_id, email=str(event.email), locale=event.locale)
                .on_conflict_do_nothing()
            )

    async def order_status_changed(self, event: OrderStatusChanged) -> None:
        if event.via == "gallery-delivery":
            # The client hears about the delivery from the gallery-ready mail, with the links.
            return
        async with self._db.sessions() as session:
            who = (
                (
                    await session.execute(
                        select(recipients).where(recipients.c.gallery_id == event.gallery_id)
                    )
                )
                .mappings()
                .first()
            )
        name = who["name"] if who else ""
        mail = self._templates.render(
            "order_status",
            event.locale,
            str(event.contact_email),
            name=name,
            reference=event.reference,
            status=gettext(event.locale, f"status.{event.new_status}"),
            note=getattr(event, "note", None),
        )
        await self.deliver(
            f"{event.event_id}:order_status", "order_status", mail, event.locale, event.org_id
        )

    async def caption_failed(self, event: CaptionFailed) -> None:
        for address, locale in await self._operators():
            mail = self._templates.render(
                "caption_failed_admin",
                locale,
                address,
                pseudonym=event.pseudonym,
                gallery_id=str(event.gallery_id),
                reason=event.reason,
            )
            key = f"{event.event_id}:caption_failed:{address}"
            await self.deliver(key, "caption_failed_admin", mail, locale, event.org_id)

    async def gallery_exported(self, event: GalleryExported) -> None:
        """Delivered versions only: "ready" once per gallery, then throttled "updated"."""
        await self.gallery_mail.exported(event)

    async def deliver(
        self, key: str, kind: str, mail: Mail, locale: str, org_id: uuid.UUID | None = None
    ) -> None:
        await self._courier.deliver(key, kind, mail, locale, org_id)
