"""Notification preferences: a user switches notification emails off per kind.

Every mail notify writes has a `kind` (its template); the switchable kinds group them as a
person thinks of them. Security mails (verification, password reset, invitation, password
changed, and any kind not named here, such as sign-in or mailbox warnings) cannot be switched
off: a mail whose kind belongs to no switchable group is always sent.

A preference belongs to the user who set it and is matched to mail by their address (stored
lower-case, refreshed from the signed identity whenever they read or write it): notify learns
recipients from events that carry an address, not a user id. The Courier asks before it
queues a mail; a switched-off mail is recorded as `skipped` in the mail log, not dropped.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal, get_args

from pix_runtime.db import Database
from pix_runtime.errors import Invalid, NotFound
from pix_runtime.identity import Identity
from pix_runtime.logging import get_logger
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_notify.models import notification_preferences as preferences

log = get_logger(__name__)

PreferenceKind = Literal[
    "order_updates", "gallery_delivered", "appointments", "admin_alerts", "security"
]
KINDS: tuple[PreferenceKind, ...] = get_args(PreferenceKind)
# Mail kinds (templates) per switchable preference kind.
SWITCHABLE: dict[PreferenceKind, frozenset[str]] = {
    "order_updates": frozenset({"order_confirmation", "order_status"}),
    "gallery_delivered": frozenset({"gallery_ready", "gallery_updated"}),
    "appointments": frozenset({"appointment", "appointment_photographer"}),
    "admin_alerts": frozenset({"new_order_admin", "caption_failed_admin"}),
}
# Shown (always on) so a person sees what they cannot switch off.
SECURITY_MAILS = frozenset({"welcome_verify", "password_reset", "invitation", "password_changed"})
PREFERENCE_OF: dict[str, PreferenceKind] = {
    mail: kind for kind, mails in SWITCHABLE.items() for mail in mails
}


def preference_of(mail_kind: str) -> PreferenceKind | None:
    """The switchable preference a mail kind belongs to; None: it is always sent."""
    return PREFERENCE_OF.get(mail_kind)


@dataclass(frozen=True)
class Preference:
    kind: PreferenceKind
    enabled: bool
    switchable: bool


async def switched_off(session: AsyncSession, address: str, mail_kind: str) -> str | None:
    """The preference kind under which the recipient switched this mail off, if they did."""
    kind = preference_of(mail_kind)
    if kind is None:
        return None
    found = await session.scalar(
        select(preferences.c.kind)
        .where(preferences.c.email == address.lower(), preferences.c.kind == kind)
        .limit(1)
    )
    return None if found is None else str(found)


class Preferences:
    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def _own(user_id: uuid.UUID, caller: Identity) -> None:
        # Nobody reads or writes another person's preferences, administrators included.
        if user_id != caller.user_id:
            raise NotFound("user")

    async def of(self, user_id: uuid.UUID, caller: Identity) -> list[Preference]:
        self._own(user_id, caller)
        async with self._db.transaction() as session:
            await self._follow_address(session, caller)
            off = set(
                (
                    await session.scalars(
                        select(preferences.c.kind).where(preferences.c.user_id == user_id)
                    )
                ).all()
            )
        return [Preference(kind=k, enabled=k not in off, switchable=k in SWITCHABLE) for k in KINDS]

    async def set(
        self, user_id: uuid.UUID, kind: PreferenceKind, enabled: bool, caller: Identity
    ) -> list[Preference]:
        self._own(user_id, caller)
        if kind not in SWITCHABLE:
            if not enabled:
                raise Invalid("not_switchable", f"{kind} emails cannot be switched off", "kind")
            return await self.of(user_id, caller)
        async with self._db.transaction() as session:
            await self._follow_address(session, caller)
            if enabled:
                await session.execute(
                    delete(preferences).where(
                        preferences.c.user_id == user_id, preferences.c.kind == kind
                    )
                )
            else:
                await session.execute(
                    insert(preferences)
                    .values(
                        user_id=user_id,
                        kind=kind,
                        email=caller.email.lower(),
                        org_id=caller.org_id,
                    )
                    .on_conflict_do_nothing()
                )
        log.info("preferences.set", user_id=str(user_id), kind=kind, enabled=enabled)
        return await self.of(user_id, caller)

    async def _follow_address(self, session: AsyncSession, caller: Identity) -> None:
        """The signed identity carries the user's current address: a changed one takes the
        preferences along."""
        await session.execute(
            update(preferences)
            .where(
                preferences.c.user_id == caller.user_id,
                preferences.c.email != caller.email.lower(),
            )
            .values(email=caller.email.lower(), updated_at=func.now())
        )
