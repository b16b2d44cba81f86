"""Mail to a lead, asked for by the leads service (`LeadMessageRequested`): the acknowledgement,
follow-ups and agents' replies.

Leads renders the organisation's own wording; here it is unsealed (recipient and content travel
sealed through the broker), wrapped in the lead-mail layout under the organisation's name and
delivered once per event: the event id is derived from the lead and the message, so a repeated
request is the same mail.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pix_contracts import LeadMessageRequested
from pix_contracts.leads import LEAD_MAIL_SEAL_PURPOSE
from pix_runtime.logging import get_logger
from pix_runtime.sealing import SealBroken, derive_key, unseal
from pix_runtime.settings import PlatformSettings

from pix_notify.i18n import html_helpers, text_helpers
from pix_notify.providers import Attachment, Mail

log = get_logger(__name__)
KIND = "lead_message"

Deliver = Callable[[str, str, Mail, str, uuid.UUID | None], Awaitable[None]]


def lead_mail_key() -> bytes:
    """The key leads seals with: derived from the platform's internal key."""
    internal = PlatformSettings().internal_key.get_secret_value().encode()
    return derive_key(internal, LEAD_MAIL_SEAL_PURPOSE)


def _calendar_entry(content: dict[str, object]) -> tuple[Attachment, ...]:
    """A viewing's invitation (.ics, METHOD REQUEST or CANCEL) that leads put into the content."""
    entry = content.get("calendar")
    if not isinstance(entry, dict) or not entry.get("content"):
        return ()
    method = "CANCEL" if entry.get("method") == "CANCEL" else "REQUEST"
    return (
        Attachment(
            filename=str(entry.get("filename") or "invite.ics"),
            content_type=f"text/calendar; method={method}; charset=UTF-8",
            content=str(entry["content"]),
        ),
    )


class LeadMailer:
    def __init__(self, deliver: Deliver, *, seal_key: bytes) -> None:
        self._deliver = deliver
        self._key = seal_key
        self._env = Environment(
            loader=PackageLoader("pix_notify", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
        )

    def render(self, event: LeadMessageRequested) -> Mail:
        recipient = unseal(event.sealed_recipient, self._key, context=event.message_key)
        content = json.loads(unseal(event.sealed_content, self._key, context=event.message_key))
        context = {
            "locale": event.locale,
            "subject": str(content["subject"]),
            "text": str(content["text"]),
            "sender_name": event.sender_name,
            "reply_to": event.reply_to,
        }
        return Mail(
            recipient=recipient,
            subject=context["subject"],
            text=self._env.get_template(f"{KIND}.txt").render(
                context, **text_helpers(event.locale)
            ),
            html=self._env.get_template(f"{KIND}.html").render(
                context, **html_helpers(event.locale)
            ),
            sender_name=event.sender_name,
            reply_to=event.reply_to,
            attachments=_calendar_entry(content),
        )

    async def lead_message_requested(self, event: LeadMessageRequested) -> None:
        try:
            mail = self.render(event)
        except SealBroken:
            # Sealed with another key (a mis-configured service): retrying cannot help.
            log.error("lead_mail.unsealable", lead_id=str(event.lead_id), key=event.message_key)
            return
        await self._deliver(f"{event.event_id}:{KIND}", KIND, mail, event.locale, event.org_id)
