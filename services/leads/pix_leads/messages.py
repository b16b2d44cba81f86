"""Mail to the lead: the acknowledgement within minutes, follow-ups on day 3, 7 and 14 while the
lead stays silent, LOST after that, and the agent's own replies.

Leads renders the organisation's template (or an A/B variant of it) and asks notify to send it
with a `LeadMessageRequested` event (recipient and content sealed), reply-to the lead's
plus-address. The event id derives from the lead and the message, and each job completes in the
transaction that records its message, so nothing is sent twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from pix_contracts import LeadMessageRequested
from pix_runtime.clock import Clock
from pix_runtime.errors import Conflict, Invalid, NotFound
from pix_runtime.identity import Identity
from pix_runtime.jobs import JobContext
from pix_runtime.logging import get_logger
from pix_runtime.sealing import seal
from sqlalchemy import RowMapping, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pix_leads import models as m
from pix_leads.abtests import Experiments
from pix_leads.organisation import OrgSettings, greeting, render
from pix_leads.records import Activity
from pix_leads.sentiment import SentimentModel
from pix_leads.service import Analysis, FollowUp, LeadBook, LeadRef
from pix_leads.tenancy import lead_scope

log = get_logger(__name__)
MESSAGE_NAMESPACE = uuid.UUID("3f4b2a6e-5d0c-4f0e-9a57-1e0c2b7d8a11")
# Built once, run with parameters: every acknowledgement and follow-up runs them, and building
# a statement per call cost SQLAlchemy more CPU than running it.
LEAD_FOR_UPDATE = select(m.leads).where(m.leads.c.id == bindparam("lead_id")).with_for_update()
ALREADY_SENT = select(m.activities.c.id).where(
    m.activities.c.lead_id == bindparam("lead_id"),
    m.activities.c.kind == "email_out",
    m.activities.c.data["message_key"].astext == bindparam("key"),
)
# After a message: written to now; the first contact kept once set (coalesce).
WROTE = (
    update(m.leads)
    .where(m.leads.c.id == bindparam("lead_id"))
    .values(
        last_outbound_at=bindparam("last_outbound_at"),
        first_contact_at=func.coalesce(
            m.leads.c.first_contact_at,
            bindparam("first_contact_at", type_=m.leads.c.first_contact_at.type),
        ),
    )
)

MessageKind = Literal["acknowledgement", "follow_up", "reply"]


@dataclass(frozen=True)
class Route:
    """How a message to a lead goes out: through the agent's mailbox (a job is queued), or
    through the platform under `sender_name` (the agent's, when their mailbox is broken)."""

    through_mailbox: bool
    sender_name: str | None = None


class AgentMailboxes(Protocol):
    """The agents' own mailboxes (pix_leads.mailboxes), asked how each message goes out."""

    async def route(
        self, session: AsyncSession, lead: RowMapping, *, key: str, actor: uuid.UUID | None
    ) -> Route | None: ...


def message_event_id(message_key: str) -> uuid.UUID:
    return uuid.uuid5(MESSAGE_NAMESPACE, message_key)


class Messenger:
    def __init__(
        self,
        book: LeadBook,
        org: OrgSettings,
        experiments: Experiments,
        *,
        seal_key: bytes,
        clock: Clock,
        model: SentimentModel | None = None,
        objected: Callable[[AsyncSession, RowMapping], Awaitable[bool]] | None = None,
        viewing_link: Callable[[AsyncSession, RowMapping], Awaitable[str | None]] | None = None,
        agent_mailboxes: AgentMailboxes | None = None,
    ) -> None:
        # The agent's own mailbox (pix_leads.mailboxes), where one is connected.
        self._agent_mailboxes = agent_mailboxes
        # The lead's page to pick a viewing slot (pix_leads.viewings), when a calendar is there.
        self._viewing_link = viewing_link
        # Whether the lead's person objected to contact (pix_leads.subjects): no mail then.
        self._objected = objected
        self._book = book
        self._db = book.db
        self._org = org
        self._experiments = experiments
        self._seal_key = seal_key
        self._clock = clock
        self._model = model

    async def _lead(self, session: AsyncSession, lead_id: uuid.UUID) -> RowMapping | None:
        found = await session.execute(LEAD_FOR_UPDATE, {"lead_id": lead_id})
        lead: RowMapping | None = found.mappings().first()
        return lead

    async def _may_contact(self, session: AsyncSession, lead: RowMapping) -> bool:
        return self._objected is None or not await self._objected(session, lead)

    async def _already_sent(self, session: AsyncSession, lead_id: uuid.UUID, key: str) -> bool:
        found = await session.scalar(ALREADY_SENT, {"lead_id": lead_id, "key": key})
        return found is not None

    async def _send(
        self,
        session: AsyncSession,
        lead: RowMapping,
        mailbox: RowMapping,
        *,
        kind: MessageKind,
        key: str,
        subject: str,
        body: str,
        variant: str | None = None,
        actor: uuid.UUID | None = None,
    ) -> bool:
        """Record the message on the timeline and ask notify to send it; False if it was
        already sent (a retried job)."""
        if await self._already_sent(session, lead["id"], key):
            return False
        reply_to = self._book.reply_address(mailbox["slug"], lead["reply_token"])
        route = None
        if self._agent_mailboxes is not None:
            route = await self._agent_mailboxes.route(session, lead, key=key, actor=actor)
        if route is None or not route.through_mailbox:
            await self._book.publish(
                session,
                LeadMessageRequested(
                    event_id=message_event_id(key),
                    lead_id=lead["id"],
                    org_id=lead["org_id"],
                    message_key=key,
                    kind=kind,
                    locale="en" if lead["locale"] == "en" else "de",
                    # A broken agent mailbox: the platform sends under the agent's name.
                    sender_name=(route and route.sender_name) or mailbox["sender_name"],
                    reply_to=reply_to,
                    sealed_recipient=seal(lead["email"], self._seal_key, context=key),
                    sealed_content=seal(
                        json.dumps({"subject": subject, "text": body}), self._seal_key, context=key
                    ),
                    variant=variant,
                ),
            )
        await self._book.record(
            session,
            lead,
            "email_out",
            text_=body,
            data={
                "message_key": key,
                "subject": subject,
                "kind": kind,
                "variant": variant,
                "via": "mailbox" if route is not None and route.through_mailbox else "platform",
            },
            actor=actor,
        )
        return True

    async def _values(
        self, session: AsyncSession, lead: RowMapping, mailbox: RowMapping
    ) -> dict[str, str]:
        expose = None
        if lead["listing_id"] is not None:
            expose = await session.scalar(
                select(m.listings.c.expose_url).where(m.listings.c.listing_id == lead["listing_id"])
            )
        en = lead["locale"] == "en"
        link = await self._viewing_link(session, lead) if self._viewing_link else None
        viewing_line = ""
        if link:
            viewing_line = (
                f"\n\nPick a time for a viewing here: {link}"
                if en
                else f"\n\nHier können Sie direkt einen Besichtigungstermin wählen: {link}"
            )
        title = lead["listing_title"] or ("your property search" if en else "Ihre Immobiliensuche")
        expose_line = ""
        if expose:
            expose_line = (
                f"\n\nThe exposé: {expose}" if en else f"\n\nDas Exposé finden Sie hier: {expose}"
            )
        return {
            "greeting": greeting(lead["locale"], lead["salutation"], lead["name"]),
            "name": lead["name"],
            "listing_title": title,
            "expose_url": expose or "",
            "expose_line": expose_line,
            "sender_name": mailbox["sender_name"],
            "viewing_link": link or "",
            "viewing_line": viewing_line,
        }

    async def _compose(
        self, session: AsyncSession, lead: RowMapping, mailbox: RowMapping, template_kind: str
    ) -> tuple[str, str, str | None]:
        variant = await self._experiments.variant_for(session, lead, template_kind)
        if variant is not None:
            subject, body, name = variant.subject, variant.body, variant.name
        else:
            template = await self._org.template(
                session, lead["org_id"], template_kind, lead["locale"]
            )
            subject, body, name = template.subject, template.body, None
        values = await self._values(session, lead, mailbox)
        return render(subject, values), render(body, values), name

    # --- jobs -----------------------------------------------------------------------------------

    async def acknowledge(self, ref: LeadRef, ctx: JobContext) -> None:
        async with self._db.transaction() as session:
            lead = await self._lead(session, ref.lead_id)
            if (
                lead is not None
                and lead["email"]
                and lead["status"] == "NEW"
                and await self._may_contact(session, lead)
            ):
                mailbox = await self._org.ensure_mailbox(session, lead["org_id"])
                subject, body, variant = await self._compose(
                    session, lead, mailbox, "acknowledgement"
                )
                key = f"{lead['id']}:acknowledgement"
                if await self._send(
                    session,
                    lead,
                    mailbox,
                    kind="acknowledgement",
                    key=key,
                    subject=subject,
                    body=body,
                    variant=variant,
                ):
                    await self._wrote(session, lead, first=True)
            await ctx.finish(session)

    async def _wrote(self, session: AsyncSession, lead: RowMapping, *, first: bool) -> None:
        """The lead after a message went out: written to now, in one update of its row; with
        `first` (the acknowledgement, an agent's reply), the first contact too: follow-ups
        planned on the first one, and a NEW lead CONTACTED."""
        now = self._clock.now()
        changes = {"last_outbound_at": now}
        if first and lead["first_contact_at"] is None:
            changes["first_contact_at"] = now
            await self._book.plan_follow_ups(session, lead)
        await session.execute(WROTE, {"lead_id": lead["id"], "first_contact_at": None, **changes})
        if first and lead["status"] == "NEW":
            await self._book.set_status(
                session, lead, "CONTACTED", reason="first message sent", actor=None
            )

    @staticmethod
    def _silent(lead: RowMapping) -> bool:
        """No answer since we first wrote, and nobody moved the lead on."""
        if lead["status"] not in ("NEW", "CONTACTED") or lead["first_contact_at"] is None:
            return False
        last_in = lead["last_inbound_at"]
        return lead["reply_count"] == 0 and (last_in is None or last_in <= lead["first_contact_at"])

    async def follow_up(self, payload: FollowUp, ctx: JobContext) -> None:
        async with self._db.transaction() as session:
            lead = await self._lead(session, payload.lead_id)
            # Engagement is checked now, just before sending, not when it was planned.
            if (
                lead is not None
                and lead["email"]
                and self._silent(lead)
                and await self._may_contact(session, lead)
            ):
                mailbox = await self._org.ensure_mailbox(session, lead["org_id"])
                subject, body, variant = await self._compose(
                    session, lead, mailbox, f"follow_up_{payload.step}"
                )
                if await self._send(
                    session,
                    lead,
                    mailbox,
                    kind="follow_up",
                    key=f"{lead['id']}:follow-up:{payload.step}",
                    subject=subject,
                    body=body,
                    variant=variant,
                ):
                    await self._wrote(session, lead, first=False)
            elif lead is not None:
                await self._book.record(
                    session, lead, "follow_up_skipped", data={"step": payload.step}
                )
            await ctx.finish(session)

    async def expire(self, ref: LeadRef, ctx: JobContext) -> None:
        async with self._db.transaction() as session:
            lead = await self._lead(session, ref.lead_id)
            if lead is not None and self._silent(lead):
                await self._book.set_status(
                    session, lead, "LOST", reason="no response after 14 days", actor=None
                )
                await self._book.rescore(session, lead["id"])
            await ctx.finish(session)

    async def analyse(self, payload: Analysis, ctx: JobContext) -> None:
        """The model's full analysis of an inquiry or reply, stored as an activity."""
        if self._model is None:
            return
        async with self._db.sessions() as session:
            words = await session.scalar(
                select(m.activities.c.text).where(m.activities.c.id == payload.activity_id)
            )
        if not words:
            return
        analysis = await self._model.analyse(words)
        if analysis is None:
            return  # the keyword quick score stands
        async with self._db.transaction() as session:
            lead = await self._lead(session, payload.lead_id)
            if lead is not None:
                data = {**analysis.model_dump(), "model": self._model.model}
                await self._book.record(session, lead, "analysis", data=data)
                await session.execute(
                    update(m.leads)
                    .where(m.leads.c.id == lead["id"])
                    .values(sentiment={**lead["sentiment"], "analysis": data})
                )
            await ctx.finish(session)

    # --- the agent writes -----------------------------------------------------------------------

    async def reply(
        self, lead_id: uuid.UUID, subject: str, body: str, viewer: Identity
    ) -> Activity:
        if not body.strip():
            raise Invalid("required", "the message is empty", "text")
        async with self._db.transaction() as session:
            lead = (
                (
                    await session.execute(
                        select(m.leads)
                        .where(
                            m.leads.c.id == lead_id,
                            lead_scope(viewer),
                        )
                        .with_for_update()
                    )
                )
                .mappings()
                .first()
            )
            if lead is None:
                raise NotFound("lead")
            if not lead["email"]:
                raise Invalid("no_email", "the lead has no email address", "email")
            if not await self._may_contact(session, lead):
                # Art. 21 GDPR: the objection holds for people as it does for the automatic
                # mails.
                raise Conflict(
                    "objected", "this person objected to being contacted; nothing was sent"
                )
            key = f"{lead_id}:reply:{uuid.uuid4()}"
            subject = subject.strip() or (
                f"Re: {lead['listing_title']}" if lead["listing_title"] else "Ihre Anfrage"
            )
            await self._send(
                session,
                lead,
                await self._org.ensure_mailbox(session, lead["org_id"]),
                kind="reply",
                key=key,
                subject=subject,
                body=body,
                actor=viewer.user_id,
            )
            await self._wrote(session, lead, first=True)
            row = (
                (
                    await session.execute(
                        select(m.activities)
                        .where(
                            m.activities.c.lead_id == lead_id, m.activities.c.kind == "email_out"
                        )
                        .order_by(m.activities.c.id.desc())
                        .limit(1)
                    )
                )
                .mappings()
                .one()
            )
        return Activity.from_row(row)
