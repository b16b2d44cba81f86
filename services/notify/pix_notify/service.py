"""Email: every event that a person should hear about becomes exactly one email.

Delivery goes through a `MailProvider`; the default, `outbox`, keeps each message in the
database (viewable by admins) and writes an `.eml` file to the outbox folder.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pix_contracts import GalleryExported, OrderPlaced
from pix_runtime.db import Database
from pix_runtime.inbox import first_delivery
from pix_runtime.logging import get_logger
from sqlalchemy import RowMapping, func, select, update

from pix_notify.models import emails, inbox, recipients

CONSUMER = "notify"
log = get_logger(__name__)

SUBJECTS = {
    ("order_confirmation", "de"): "Ihr Auftrag {reference} ist eingegangen",
    ("order_confirmation", "en"): "Your order {reference} has been received",
    ("gallery_ready", "de"): "Ihre Galerie {reference} ist fertig",
    ("gallery_ready", "en"): "Your gallery {reference} is ready",
}


@dataclass(frozen=True)
class Mail:
    recipient: str
    subject: str
    text: str
    html: str


class MailProvider(Protocol):
    name: str

    async def send(self, mail: Mail, *, sender: str, idempotency_key: str) -> None: ...


class OutboxProvider:
    """Development delivery: `.eml` files in a folder instead of the internet."""

    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def send(self, mail: Mail, *, sender: str, idempotency_key: str) -> None:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = mail.recipient
        message["Subject"] = mail.subject
        message["Message-ID"] = make_msgid(idstring=idempotency_key[:40], domain="pix.immo")
        message.set_content(mail.text)
        message.add_alternative(mail.html, subtype="html")
        path = self._folder / f"{idempotency_key.replace(':', '_')}.eml"
        await asyncio.to_thread(path.write_bytes, bytes(message))


class Templates:
    def __init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader("pix_notify", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
        )

    def render(self, kind: str, locale: str, recipient: str, **values: Any) -> Mail:
        locale = locale if locale in ("de", "en") else "de"
        subject = SUBJECTS[(kind, locale)].format(**values)
        context = {"locale": locale, "subject": subject, **values}
        return Mail(
            recipient=recipient,
            subject=subject,
            text=self._env.get_template(f"{kind}.txt").render(context),
            html=self._env.get_template(f"{kind}.html").render(context),
        )


class PostOffice:
    def __init__(self, db: Database, provider: MailProvider, *, sender: str) -> None:
        self._db = db
        self._provider = provider
        self._sender = sender
        self._templates = Templates()

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
                    )
                )
        # Delivery is idempotent by key, so a crash between the two steps only delays the mail.
        key = f"{event.event_id}:order_confirmation"
        await self.deliver(key, "order_confirmation", mail, event.locale)

    async def gallery_exported(self, event: GalleryExported) -> None:
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
        if who is None:
            # The order event has not arrived yet; retrying lets it catch up.
            raise LookupError(f"no recipient known for gallery {event.gallery_id}")
        expires = min(f.url_expires_at for f in event.files) if event.files else None
        mail = self._templates.render(
            "gallery_ready",
            who["locale"],
            who["email"],
            name=who["name"],
            reference=who["reference"],
            asset_count=event.asset_count,
            version=event.version,
            files=event.files,
            expires=expires.strftime("%d.%m.%Y %H:%M UTC") if expires else "-",
        )
        await self.deliver(f"{event.event_id}:gallery_ready", "gallery_ready", mail, who["locale"])

    async def deliver(self, key: str, kind: str, mail: Mail, locale: str) -> None:
        """Record, then send, exactly once per key; a crash mid-send leaves a `sending` row."""
        async with self._db.transaction() as session:
            existing = await session.scalar(
                select(emails.c.status).where(emails.c.idempotency_key == key)
            )
            if existing == "sent":
                return
            if existing is None:
                await session.execute(
                    emails.insert().values(
                        id=uuid.uuid4(),
                        idempotency_key=key,
                        kind=kind,
                        recipient=mail.recipient,
                        locale=locale,
                        subject=mail.subject,
                        text_body=mail.text,
                        html_body=mail.html,
                        provider=self._provider.name,
                    )
                )
        await self._provider.send(mail, sender=self._sender, idempotency_key=key)
        async with self._db.transaction() as session:
            await session.execute(
                update(emails)
                .where(emails.c.idempotency_key == key)
                .values(status="sent", sent_at=func.now())
            )
        log.info("mail.sent", kind=kind, key=key)

    async def recent(self, limit: int = 100) -> list[RowMapping]:
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(emails).order_by(emails.c.created_at.desc()).limit(limit)
            )
            return list(rows.mappings().all())
