"""An organisation's lead settings: its intake address, sender name, website form and the
wording of its mails (per language, editable; defaults below)."""

from __future__ import annotations

import html
import re
import secrets
import uuid
from typing import Any

from pix_runtime.db import Database
from pix_runtime.errors import Conflict, Invalid
from pix_runtime.identity import Identity
from sqlalchemy import RowMapping, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pix_leads import models as m
from pix_leads.records import Mailbox, MessageTemplate

TEMPLATE_KINDS = ("acknowledgement", "follow_up_3", "follow_up_7", "follow_up_14")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9\-]{2,40}$")
_PLACEHOLDER = re.compile(r"\{(\w{1,40})\}")
# Built once (each acknowledgement reads both): a statement built per call cost more CPU than
# running it.
MAILBOX_OF = select(m.mailboxes).where(m.mailboxes.c.org_id == bindparam("org_id"))
TEMPLATE_OF = select(m.templates.c.subject, m.templates.c.body).where(
    m.templates.c.org_id == bindparam("org_id"),
    m.templates.c.kind == bindparam("kind"),
    m.templates.c.locale == bindparam("locale"),
)

DEFAULT_TEMPLATES: dict[tuple[str, str], tuple[str, str]] = {
    ("acknowledgement", "de"): (
        "Ihre Anfrage: {listing_title}",
        "{greeting}\n\nvielen Dank für Ihre Anfrage zu „{listing_title}“. Wir melden uns in "
        "Kürze persönlich bei Ihnen.{expose_line}{viewing_line}\n\nSie erreichen uns "
        "jederzeit, indem Sie "
        "auf diese E-Mail antworten.\n\nMit freundlichen Grüßen\n{sender_name}",
    ),
    ("acknowledgement", "en"): (
        "Your inquiry: {listing_title}",
        "{greeting}\n\nthank you for your inquiry about “{listing_title}”. We will get back "
        "to you personally very soon.{expose_line}{viewing_line}\n\nJust reply to this email "
        "to reach us.\n\n"
        "Kind regards\n{sender_name}",
    ),
    ("follow_up_3", "de"): (
        "Noch Interesse an {listing_title}?",
        "{greeting}\n\nhaben Sie noch Fragen zu „{listing_title}“? Gerne vereinbaren wir einen "
        "Besichtigungstermin – antworten Sie einfach auf diese E-Mail.\n\nViele Grüße\n"
        "{sender_name}",
    ),
    ("follow_up_3", "en"): (
        "Still interested in {listing_title}?",
        "{greeting}\n\ndo you have any questions about “{listing_title}”? We would be happy to "
        "arrange a viewing – just reply to this email.\n\nBest regards\n{sender_name}",
    ),
    ("follow_up_7", "de"): (
        "Besichtigung von {listing_title}",
        "{greeting}\n\nwir möchten Ihnen gern „{listing_title}“ zeigen. Welcher Termin passt "
        "Ihnen in den nächsten Tagen?\n\nViele Grüße\n{sender_name}",
    ),
    ("follow_up_7", "en"): (
        "Viewing {listing_title}",
        "{greeting}\n\nwe would love to show you “{listing_title}”. Which day suits you in the "
        "coming days?\n\nBest regards\n{sender_name}",
    ),
    ("follow_up_14", "de"): (
        "Letzte Nachricht zu {listing_title}",
        "{greeting}\n\nda wir nichts von Ihnen gehört haben, gehen wir davon aus, dass sich Ihre "
        "Suche erledigt hat. Wenn nicht, antworten Sie einfach – wir sind gern für Sie da.\n\n"
        "Viele Grüße\n{sender_name}",
    ),
    ("follow_up_14", "en"): (
        "Last note about {listing_title}",
        "{greeting}\n\nas we have not heard from you, we assume your search is settled. If not, "
        "just reply – we are happy to help.\n\nBest regards\n{sender_name}",
    ),
}


def render(template: str, values: dict[str, str]) -> str:
    """`{placeholder}` substitution, nothing else: agents edit templates, so no template
    language with code in it."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)


def greeting(locale: str, salutation: str | None, name: str) -> str:
    surname = name.split()[-1] if name.split() else ""
    if locale == "en":
        return f"Dear {name}," if name else "Hello,"
    if salutation == "Frau" and surname:
        return f"Sehr geehrte Frau {surname},"
    if salutation == "Herr" and surname:
        return f"Sehr geehrter Herr {surname},"
    return f"Guten Tag {name}," if name else "Guten Tag,"


class OrgSettings:
    def __init__(self, db: Database, *, inbound_domain: str, public_url: str) -> None:
        self._db = db
        self._domain = inbound_domain
        self._public_url = public_url.rstrip("/")

    async def ensure_mailbox(
        self, session: AsyncSession, org_id: uuid.UUID, sender_name: str = "pix.immo"
    ) -> RowMapping:
        """The organisation's mailbox, made on first use (a fresh address and form key)."""
        found = (await session.execute(MAILBOX_OF, {"org_id": org_id})).mappings().first()
        if found is not None:
            return found
        await session.execute(
            insert(m.mailboxes)
            .values(
                org_id=org_id,
                slug="org-" + secrets.token_hex(4),
                form_key=secrets.token_urlsafe(18),
                sender_name=sender_name[:200] or "pix.immo",
            )
            .on_conflict_do_nothing(index_elements=[m.mailboxes.c.org_id])
        )
        row = (
            (await session.execute(select(m.mailboxes).where(m.mailboxes.c.org_id == org_id)))
            .mappings()
            .one()
        )
        return row

    def view(self, row: RowMapping) -> Mailbox:
        form_url = f"{self._public_url}/api/leads/public/forms/{row['form_key']}"
        return Mailbox(
            org_id=row["org_id"],
            slug=row["slug"],
            intake_address=f"{row['slug']}@{self._domain}",
            sender_name=row["sender_name"],
            locale=row["locale"],
            form_key=row["form_key"],
            form_url=form_url,
            snippet_html=form_snippet(form_url, row["locale"]),
            snippet_script=f'<script src="{form_url}/embed.js" async></script>',
        )

    async def by_form_key(self, form_key: str) -> Mailbox | None:
        async with self._db.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(m.mailboxes).where(m.mailboxes.c.form_key == form_key)
                    )
                )
                .mappings()
                .first()
            )
        return self.view(row) if row is not None else None

    async def mailbox(self, viewer: Identity) -> Mailbox:
        async with self._db.transaction() as session:
            row = await self.ensure_mailbox(session, viewer.org_id, viewer.name)
        return self.view(row)

    async def update_mailbox(
        self, viewer: Identity, *, slug: str | None, sender_name: str | None, locale: str | None
    ) -> Mailbox:
        values: dict[str, Any] = {}
        if slug is not None:
            slug = slug.strip().lower()
            if not _SLUG.match(slug):
                raise Invalid("invalid", "3–41 lower-case letters, digits or dashes", "slug")
            values["slug"] = slug
        if sender_name is not None:
            if not sender_name.strip():
                raise Invalid("required", "the sender name must not be empty", "sender_name")
            values["sender_name"] = sender_name.strip()[:200]
        if locale is not None:
            if locale not in ("de", "en"):
                raise Invalid("invalid", "de or en", "locale")
            values["locale"] = locale
        try:
            async with self._db.transaction() as session:
                await self.ensure_mailbox(session, viewer.org_id, viewer.name)
                if values:
                    await session.execute(
                        update(m.mailboxes)
                        .where(m.mailboxes.c.org_id == viewer.org_id)
                        .values(**values)
                    )
                row = (
                    (
                        await session.execute(
                            select(m.mailboxes).where(m.mailboxes.c.org_id == viewer.org_id)
                        )
                    )
                    .mappings()
                    .one()
                )
        except IntegrityError as exc:
            raise Conflict("taken", "this address is taken", "slug") from exc
        return self.view(row)

    # --- templates ------------------------------------------------------------------------------

    async def template(
        self, session: AsyncSession, org_id: uuid.UUID, kind: str, locale: str
    ) -> MessageTemplate:
        row = (
            await session.execute(TEMPLATE_OF, {"org_id": org_id, "kind": kind, "locale": locale})
        ).first()
        if row is not None:
            return MessageTemplate(
                kind=kind, locale=locale, subject=row[0], body=row[1], custom=True
            )
        subject, body = DEFAULT_TEMPLATES[(kind, locale if locale == "en" else "de")]
        return MessageTemplate(kind=kind, locale=locale, subject=subject, body=body, custom=False)

    async def templates(self, viewer: Identity) -> list[MessageTemplate]:
        async with self._db.sessions() as session:
            return [
                await self.template(session, viewer.org_id, kind, locale)
                for kind in TEMPLATE_KINDS
                for locale in ("de", "en")
            ]

    async def save_template(
        self, viewer: Identity, kind: str, locale: str, subject: str, body: str
    ) -> MessageTemplate:
        if kind not in TEMPLATE_KINDS:
            raise Invalid("invalid", f"one of {', '.join(TEMPLATE_KINDS)}", "kind")
        if locale not in ("de", "en"):
            raise Invalid("invalid", "de or en", "locale")
        if not subject.strip() or not body.strip():
            raise Invalid("required", "subject and body must not be empty", "body")
        async with self._db.transaction() as session:
            await session.execute(
                insert(m.templates)
                .values(org_id=viewer.org_id, kind=kind, locale=locale, subject=subject, body=body)
                .on_conflict_do_update(
                    index_elements=[m.templates.c.org_id, m.templates.c.kind, m.templates.c.locale],
                    set_={"subject": subject, "body": body, "updated_at": func.now()},
                )
            )
        return MessageTemplate(kind=kind, locale=locale, subject=subject, body=body, custom=True)


def form_snippet(form_url: str, locale: str) -> str:
    """A plain HTML form for the agent's website: works without JavaScript, with a honeypot
    field and the consent text that is stored with the inquiry (GDPR Art. 7)."""
    en = locale == "en"
    consent = html.escape(
        "I agree that my details are stored and used to answer my inquiry. I can withdraw this "
        "consent at any time."
        if en
        else "Ich bin damit einverstanden, dass meine Angaben zur Bearbeitung meiner Anfrage "
        "gespeichert und verwendet werden. Die Einwilligung kann ich jederzeit widerrufen."
    )
    labels = (
        ("Name", "Email", "Phone", "Message", "Send")
        if en
        else ("Name", "E-Mail", "Telefon", "Nachricht", "Senden")
    )
    return (
        f'<form method="post" action="{html.escape(form_url)}" class="pix-lead-form">\n'
        f'  <label>{labels[0]} <input name="name" required maxlength="200"></label>\n'
        f'  <label>{labels[1]} <input name="email" type="email" maxlength="320"></label>\n'
        f'  <label>{labels[2]} <input name="phone" type="tel" maxlength="80"></label>\n'
        f'  <label>{labels[3]} <textarea name="message" maxlength="10000"></textarea></label>\n'
        '  <input type="hidden" name="listing" value="">\n'
        f'  <input type="hidden" name="locale" value="{"en" if en else "de"}">\n'
        '  <div style="position:absolute;left:-9999px" aria-hidden="true">'
        '<input name="website" tabindex="-1" autocomplete="off"></div>\n'
        f'  <input type="hidden" name="consent_text" value="{consent}">\n'
        f'  <label><input type="checkbox" name="consent" value="true" required> {consent}</label>\n'
        f'  <button type="submit">{labels[4]}</button>\n'
        "</form>"
    )
