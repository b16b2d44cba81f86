"""An agent's own mailbox broke (`leads.mailbox.broken.v1`: the provider revoked or expired our
grant, or the IMAP password changed): one mail to the agent saying so, with the link to
reconnect. Leads meanwhile sends their mails through the platform under their name.

The agent's address travels sealed (key from the internal key, purpose `lead-mail`, context the
mailbox id); the key is the event id, so a redelivered event mails once.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from pix_contracts.leads import AgentMailboxBroken
from pix_runtime.logging import get_logger
from pix_runtime.sealing import SealBroken, unseal

from pix_notify.providers import Mail

log = get_logger(__name__)
KIND = "mailbox_broken"
PROVIDERS = {"gmail": "Gmail", "outlook": "Outlook", "imap": "IMAP/SMTP"}

Render = Callable[..., Mail]
Deliver = Callable[[str, str, Mail, str, uuid.UUID | None], Awaitable[None]]


class MailboxMailer:
    def __init__(
        self, render: Render, deliver: Deliver, *, seal_key: bytes, public_url: str
    ) -> None:
        self._render = render
        self._deliver = deliver
        self._key = seal_key
        self._link = f"{public_url.rstrip('/')}/account/mailbox"

    async def mailbox_broken(self, event: AgentMailboxBroken) -> None:
        try:
            recipient = unseal(event.sealed_recipient, self._key, context=str(event.mailbox_id))
        except SealBroken:
            # Sealed with another key (a mis-configured service): retrying cannot help.
            log.error("mailbox_mail.unsealable", mailbox_id=str(event.mailbox_id))
            return
        mail = self._render(
            KIND,
            event.locale,
            recipient,
            name=event.agent_name,
            provider=PROVIDERS.get(event.provider, event.provider),
            link=self._link,
        )
        await self._deliver(f"{event.event_id}:{KIND}", KIND, mail, event.locale, event.org_id)
