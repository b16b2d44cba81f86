"""The agent's own mailbox: connected once (Gmail or Outlook through OAuth 2.0 with PKCE, or any
IMAP/SMTP mailbox), it sends the agent's mails to leads so they sit in its Sent folder, and the
leads' answers are read from its inbox onto their timelines.

- Credentials are sealed (AES-256-GCM, `pix_runtime.sealing.SecretBox`, key ring from
  `PIX_LEADS_SECRETS_KEY`), bound to the mailbox's row, never logged; disconnecting deletes them
  and revokes the OAuth grant where the provider has an endpoint for it.
- Sending: `route` (called by the Messenger in the transaction that records the message) takes
  the message off the platform's path and queues `leads.mailbox-send` (key: the message key, so
  once per message). The job sends it with our Message-ID and the thread's In-Reply-To and
  References, keeping the lead's plus-address as Reply-To.
- Reading: a periodic job queues `leads.mailbox-read` per live mailbox; each reads what arrived
  since its cursor, matches an answer to a lead by thread headers (our Message-IDs) or by the
  sender being a lead of the organisation, and attaches it exactly as the intake attaches a reply
  (`LeadBook.attach_reply`). Nothing else of the mailbox is kept; the cursor moves in the same
  transaction, so an answer is attached once.
- A refusal of our credentials (invalid_grant, 401 after a refresh, IMAP login failure) makes the
  mailbox `broken`: one `leads.mailbox.broken.v1` (notify mails the agent), a warning on the
  pages, and mail goes through the platform again under the agent's name until they reconnect.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime, formataddr
from typing import Any, Literal, TypeVar

import httpx
from pix_contracts import LeadMessageRequested
from pix_contracts.leads import AgentMailboxBroken
from pix_runtime.clock import Clock
from pix_runtime.errors import Forbidden, Invalid, NotFound
from pix_runtime.identity import Identity
from pix_runtime.jobs import JobContext, cancel_jobs, enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.sealing import SecretBox, seal
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy import RowMapping, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_leads import models as m
from pix_leads.enrichment import normalise_email
from pix_leads.mail import read_mail, without_quote
from pix_leads.mailbox_providers import (
    GMAIL_SCOPES,
    OUTLOOK_SCOPES,
    AccessExpired,
    GmailMailbox,
    Grant,
    ImapSmtpMailbox,
    MailboxClient,
    MailboxRefused,
    OAuthEndpoints,
    OAuthMailbox,
    OutlookMailbox,
    Provider,
    Security,
    ServerSettings,
)
from pix_leads.messages import Route, message_event_id
from pix_leads.organisation import OrgSettings
from pix_leads.parsers import classify
from pix_leads.service import LeadBook
from pix_leads.settings import LeadsSettings
from pix_leads.viewing_models import calendars

log = get_logger(__name__)

SEND = "leads.mailbox-send"
READ = "leads.mailbox-read"
SYNC = "leads.mailbox-sync"
STATE_TTL = timedelta(minutes=15)
SECRETS_PURPOSE = "leads-mailbox-secrets"
Result = TypeVar("Result")


class MailboxSend(BaseModel):
    mailbox_id: uuid.UUID
    lead_id: uuid.UUID
    message_key: str


class MailboxRef(BaseModel):
    mailbox_id: uuid.UUID


class AgentMailbox(BaseModel):
    """A connected mailbox as its agent sees it (no secrets)."""

    id: uuid.UUID
    provider: Provider
    address: str
    status: Literal["live", "broken"]
    broken_reason: str | None = None
    last_sync_at: datetime | None = None
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> AgentMailbox:
        return cls.model_validate(dict(row), from_attributes=False)


class MailboxOverview(BaseModel):
    """The caller's mailbox (if any) and the providers that can be connected here."""

    mailbox: AgentMailbox | None
    providers: list[Provider]


class OAuthStart(BaseModel):
    authorization_url: str


class OAuthCallback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: str = Field(min_length=8, max_length=200)
    code: str = Field(min_length=1, max_length=4000)


class ImapConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=320, description="usually the address")
    password: SecretStr = Field(min_length=1, max_length=500)
    imap_host: str = Field(min_length=1, max_length=255)
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_security: Security = "ssl"
    smtp_host: str = Field(min_length=1, max_length=255)
    smtp_port: int = Field(default=465, ge=1, le=65535)
    smtp_security: Security = "ssl"
    sent_folder: str = Field(default="Sent", min_length=1, max_length=200)


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _members_only(viewer: Identity) -> None:
    if viewer.role not in ("owner", "agent"):
        raise Forbidden("only members of an organisation connect a mailbox")


def _thread_ids(raw: bytes) -> list[str]:
    headers = BytesHeaderParser().parsebytes(raw)
    found: list[str] = []
    for name in ("In-Reply-To", "References"):
        for value in headers.get_all(name, []):
            found.extend(part for part in str(value).split() if part.startswith("<"))
    return found[:50]


class AgentMailboxes:
    def __init__(
        self,
        book: LeadBook,
        org: OrgSettings,
        *,
        box: SecretBox,
        settings: LeadsSettings,
        clock: Clock,
        lead_mail_key: bytes,
    ) -> None:
        self._book = book
        self._db = book.db
        self._org = org
        self._box = box
        self._settings = settings
        self._clock = clock
        self._lead_mail_key = lead_mail_key
        self._redirect_url = settings.mailbox_redirect_url or (
            f"{settings.platform.public_url.rstrip('/')}/account/mailbox/callback"
        )
        self._oauth: dict[str, OAuthMailbox] = {}
        s = settings
        if s.gmail_client_id:
            self._oauth["gmail"] = GmailMailbox(
                OAuthEndpoints(
                    client_id=s.gmail_client_id,
                    client_secret=_secret(s.gmail_client_secret),
                    auth_url=s.gmail_auth_url,
                    token_url=s.gmail_token_url,
                    revoke_url=s.gmail_revoke_url,
                    api_url=s.gmail_api_url,
                    scopes=GMAIL_SCOPES,
                    extra_authorize=(("access_type", "offline"), ("prompt", "consent")),
                ),
                timeout=s.mailbox_timeout_seconds,
            )
        if s.outlook_client_id:
            self._oauth["outlook"] = OutlookMailbox(
                OAuthEndpoints(
                    client_id=s.outlook_client_id,
                    client_secret=_secret(s.outlook_client_secret),
                    auth_url=s.outlook_auth_url,
                    token_url=s.outlook_token_url,
                    revoke_url=None,
                    api_url=s.outlook_api_url,
                    scopes=OUTLOOK_SCOPES,
                ),
                timeout=s.mailbox_timeout_seconds,
            )

    @property
    def providers(self) -> list[Provider]:
        offered: list[Provider] = [p for p in ("gmail", "outlook") if p in self._oauth]
        return [*offered, "imap"]

    # --- credentials ----------------------------------------------------------------------------

    def _seal(self, mailbox_id: uuid.UUID, grant: Grant) -> bytes:
        return self._box.seal(grant.dumps(), context=mailbox_id.bytes)

    def _grant(self, row: RowMapping) -> Grant:
        return Grant.loads(self._box.open(row["sealed_credentials"], context=row["id"].bytes))

    def _client(self, row: RowMapping) -> MailboxClient:
        if row["provider"] == "imap":
            return ImapSmtpMailbox(
                ServerSettings(**row["settings"]), timeout=self._settings.mailbox_timeout_seconds
            )
        oauth = self._oauth.get(row["provider"])
        if oauth is None:
            raise MailboxRefused("provider_not_configured")
        return oauth  # type: ignore[return-value]

    async def _store_grant(self, mailbox_id: uuid.UUID, grant: Grant) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(m.agent_mailboxes)
                .where(m.agent_mailboxes.c.id == mailbox_id)
                .values(
                    sealed_credentials=self._seal(mailbox_id, grant), updated_at=self._clock.now()
                )
            )

    async def _using(
        self, row: RowMapping, action: Callable[[MailboxClient, Grant], Awaitable[Result]]
    ) -> Result:
        """Run `action` with fresh credentials: an OAuth access token about to expire is
        refreshed first, and a 401 refreshes once more; a second 401 is a refusal."""
        client = self._client(row)
        grant = self._grant(row)
        oauth = self._oauth.get(row["provider"]) if row["provider"] != "imap" else None
        if (
            oauth is not None
            and grant.expires_at
            and (grant.expires_at <= self._clock.now().timestamp() + 60)
        ):
            grant = await oauth.refresh(grant)
            await self._store_grant(row["id"], grant)
        try:
            return await action(client, grant)
        except AccessExpired:
            if oauth is None:
                raise MailboxRefused("unauthorized") from None
        grant = await oauth.refresh(grant)
        await self._store_grant(row["id"], grant)
        try:
            return await action(client, grant)
        except AccessExpired:
            raise MailboxRefused("unauthorized_after_refresh") from None

    async def calendar_call(
        self, user_id: uuid.UUID, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        """A calendar API call through the user's Gmail or Outlook grant (Google Calendar v3 or
        Graph, `path` relative to it), with the same refresh and broken-grant handling as mail.
        MailboxRefused when there is no live grant or the provider refuses it."""
        async with self._db.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(m.agent_mailboxes).where(
                            m.agent_mailboxes.c.user_id == user_id,
                            m.agent_mailboxes.c.provider.in_(("gmail", "outlook")),
                            m.agent_mailboxes.c.status == "live",
                        )
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise MailboxRefused("no_mailbox")
        base = (
            self._settings.google_calendar_api_url
            if row["provider"] == "gmail"
            else self._settings.outlook_api_url
        )
        oauth = self._oauth.get(row["provider"])
        if oauth is None:
            raise MailboxRefused("provider_not_configured")

        async def action(_: MailboxClient, grant: Grant) -> httpx.Response:
            assert oauth is not None
            return await oauth.call(grant, method, base.rstrip("/") + path, **kwargs)

        try:
            return await self._using(row, action)
        except MailboxRefused as exc:
            await self._broken(row, exc.reason)
            raise

    # --- connecting -----------------------------------------------------------------------------

    async def overview(self, viewer: Identity) -> MailboxOverview:
        async with self._db.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(m.agent_mailboxes).where(
                            m.agent_mailboxes.c.user_id == viewer.user_id,
                            m.agent_mailboxes.c.org_id == viewer.org_id,
                        )
                    )
                )
                .mappings()
                .first()
            )
        return MailboxOverview(
            mailbox=AgentMailbox.from_row(row) if row is not None else None,
            providers=self.providers,
        )

    async def _visible(
        self, session: AsyncSession, mailbox_id: uuid.UUID, viewer: Identity
    ) -> RowMapping:
        """The mailbox if it is the caller's own (or, for an owner, one of the organisation's);
        anything else is 404."""
        t = m.agent_mailboxes
        condition = t.c.org_id == viewer.org_id
        if not viewer.manages_organisation or viewer.is_admin:
            condition = condition & (t.c.user_id == viewer.user_id)
        row = (
            (await session.execute(select(t).where(t.c.id == mailbox_id, condition)))
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("mailbox")
        return row

    async def get(self, mailbox_id: uuid.UUID, viewer: Identity) -> AgentMailbox:
        async with self._db.sessions() as session:
            return AgentMailbox.from_row(await self._visible(session, mailbox_id, viewer))

    async def start_oauth(self, provider: str, viewer: Identity) -> OAuthStart:
        """The provider's consent page, with a fresh state and PKCE verifier bound to the
        caller's user and session."""
        _members_only(viewer)
        oauth = self._oauth.get(provider)
        if oauth is None:
            raise NotFound("provider")
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        digest = _digest(state)
        now = self._clock.now()
        async with self._db.transaction() as session:
            await session.execute(
                delete(m.mailbox_oauth_states).where(m.mailbox_oauth_states.c.expires_at < now)
            )
            await session.execute(
                insert(m.mailbox_oauth_states).values(
                    state_digest=digest,
                    org_id=viewer.org_id,
                    user_id=viewer.user_id,
                    session_id=viewer.session_id,
                    provider=provider,
                    sealed_verifier=self._box.seal(verifier.encode(), context=digest.encode()),
                    expires_at=now + STATE_TTL,
                )
            )
        url = oauth.authorization_url(
            state=state, verifier=verifier, redirect_uri=self._redirect_url
        )
        return OAuthStart(authorization_url=url)

    async def complete_oauth(self, callback: OAuthCallback, viewer: Identity) -> AgentMailbox:
        """The provider sent the agent back: the state is consumed (a replay finds nothing), must
        belong to this user and session, and its verifier proves the code is ours."""
        _members_only(viewer)
        digest = _digest(callback.state)
        async with self._db.transaction() as session:
            row = (
                (
                    await session.execute(
                        delete(m.mailbox_oauth_states)
                        .where(m.mailbox_oauth_states.c.state_digest == digest)
                        .returning(*m.mailbox_oauth_states.c)
                    )
                )
                .mappings()
                .first()
            )
        if (
            row is None
            or row["user_id"] != viewer.user_id
            or row["org_id"] != viewer.org_id
            or row["session_id"] != viewer.session_id
            or row["expires_at"] < self._clock.now()
        ):
            log.warning("mailbox.oauth_state_refused", user_id=str(viewer.user_id))
            raise Invalid("bad_state", "this sign-in link is unknown, used or expired", "state")
        oauth = self._oauth.get(row["provider"])
        if oauth is None:
            raise NotFound("provider")
        verifier = self._box.open(row["sealed_verifier"], context=digest.encode()).decode()
        try:
            grant = await oauth.exchange(
                code=callback.code, verifier=verifier, redirect_uri=self._redirect_url
            )
            address = await oauth.address(grant)  # type: ignore[attr-defined]
            cursor = await oauth.start_cursor(grant)  # type: ignore[attr-defined]
        except (MailboxRefused, AccessExpired) as exc:
            raise Invalid("refused", "the provider refused the connection", "code") from exc
        return await self._save(viewer, row["provider"], address, grant, {}, cursor)

    async def connect_imap(self, form: ImapConnection, viewer: Identity) -> AgentMailbox:
        """An IMAP/SMTP mailbox: the login is tried before anything is stored."""
        _members_only(viewer)
        plaintext = "plain" in (form.imap_security, form.smtp_security)
        if plaintext and not self._settings.mailbox_allow_plaintext:
            raise Invalid(
                "tls_required", "the mail servers must be reached over TLS", "imap_security"
            )
        server = ServerSettings(
            username=form.username.strip(),
            imap_host=form.imap_host.strip(),
            imap_port=form.imap_port,
            imap_security=form.imap_security,
            smtp_host=form.smtp_host.strip(),
            smtp_port=form.smtp_port,
            smtp_security=form.smtp_security,
            sent_folder=form.sent_folder.strip(),
        )
        grant = Grant(password=form.password.get_secret_value())
        client = ImapSmtpMailbox(server, timeout=self._settings.mailbox_timeout_seconds)
        try:
            cursor = await client.start_cursor(grant)
        except MailboxRefused as exc:
            raise Invalid("login_failed", "the IMAP server refused the login", "password") from exc
        except ConnectionError as exc:
            raise Invalid("unreachable", "the IMAP server did not answer", "imap_host") from exc
        address = server.username if "@" in server.username else viewer.email
        settings = {
            "username": server.username,
            "imap_host": server.imap_host,
            "imap_port": server.imap_port,
            "imap_security": server.imap_security,
            "smtp_host": server.smtp_host,
            "smtp_port": server.smtp_port,
            "smtp_security": server.smtp_security,
            "sent_folder": server.sent_folder,
        }
        return await self._save(viewer, "imap", address, grant, settings, cursor)

    async def _save(
        self,
        viewer: Identity,
        provider: str,
        address: str,
        grant: Grant,
        settings: dict[str, object],
        cursor: str,
    ) -> AgentMailbox:
        now = self._clock.now()
        t = m.agent_mailboxes
        async with self._db.transaction() as session:
            existing = await session.scalar(select(t.c.id).where(t.c.user_id == viewer.user_id))
            mailbox_id = existing or uuid.uuid4()
            values = {
                "org_id": viewer.org_id,
                "provider": provider,
                "address": address[:320],
                "agent_email": viewer.email[:320],
                "agent_name": viewer.name[:200],
                "locale": viewer.locale,
                "status": "live",
                "broken_reason": None,
                "sealed_credentials": self._seal(mailbox_id, grant),
                "settings": settings,
                "cursor": cursor,
                "updated_at": now,
            }
            row = (
                (
                    await session.execute(
                        insert(t)
                        .values(id=mailbox_id, user_id=viewer.user_id, created_at=now, **values)
                        .on_conflict_do_update(index_elements=[t.c.user_id], set_=values)
                        .returning(*t.c)
                    )
                )
                .mappings()
                .one()
            )
            if provider in ("gmail", "outlook"):
                # A fresh grant heals the calendar that hangs on it (viewings keep their link).
                await session.execute(
                    update(calendars)
                    .where(
                        calendars.c.user_id == viewer.user_id,
                        calendars.c.kind.in_(("gmail", "outlook")),
                    )
                    .values(
                        kind=provider,
                        username=address[:320],
                        status="live",
                        last_error=None,
                        updated_at=now,
                    )
                )
        log.info("mailbox.connected", mailbox_id=str(mailbox_id), provider=provider)
        return AgentMailbox.from_row(row)

    async def disconnect(self, mailbox_id: uuid.UUID, viewer: Identity) -> None:
        """Delete the credentials; for OAuth also revoke the grant at the provider (best
        effort: the credentials are gone here either way)."""
        async with self._db.transaction() as session:
            row = await self._visible(session, mailbox_id, viewer)
            await session.execute(
                delete(m.agent_mailboxes).where(m.agent_mailboxes.c.id == mailbox_id)
            )
            await cancel_jobs(session, m.jobs, READ, key=str(mailbox_id))
            # The grant carried the calendar too: viewings stay, without a calendar.
            await session.execute(
                delete(calendars).where(
                    calendars.c.user_id == row["user_id"], calendars.c.kind == row["provider"]
                )
            )
        try:
            await self._client(row).revoke(self._grant(row))
        except Exception as exc:
            log.warning(
                "mailbox.revoke_failed", mailbox_id=str(mailbox_id), error=exc.__class__.__name__
            )
        log.info("mailbox.disconnected", mailbox_id=str(mailbox_id), provider=row["provider"])

    async def sync_now(self, mailbox_id: uuid.UUID, viewer: Identity) -> None:
        async with self._db.transaction() as session:
            await self._visible(session, mailbox_id, viewer)
            await enqueue_job(
                session, m.jobs, READ, MailboxRef(mailbox_id=mailbox_id), key=str(mailbox_id)
            )

    # --- sending --------------------------------------------------------------------------------

    async def route(
        self, session: AsyncSession, lead: RowMapping, *, key: str, actor: uuid.UUID | None
    ) -> Route | None:
        """In the transaction recording a message to the lead: through the replying agent's (or
        else the assigned agent's) live mailbox, queued once per message key; None when neither
        has a mailbox (the platform sends as before)."""
        t = m.agent_mailboxes
        users = [u for u in (actor, lead["assignee_id"]) if u is not None]
        if not users:
            return None
        rows = (
            (
                await session.execute(
                    select(t).where(t.c.org_id == lead["org_id"], t.c.user_id.in_(users))
                )
            )
            .mappings()
            .all()
        )
        row = next((r for u in users for r in rows if r["user_id"] == u), None)
        if row is None:
            return None
        if row["status"] != "live":
            return Route(through_mailbox=False, sender_name=row["agent_name"])
        await session.execute(
            insert(m.mailbox_messages)
            .values(
                message_id=self._message_id(key),
                org_id=lead["org_id"],
                lead_id=lead["id"],
                mailbox_id=row["id"],
                direction="out",
                message_key=key,
                status="queued",
                at=self._clock.now(),
            )
            .on_conflict_do_nothing()
        )
        await enqueue_job(
            session,
            m.jobs,
            SEND,
            MailboxSend(mailbox_id=row["id"], lead_id=lead["id"], message_key=key),
            key=key,
        )
        return Route(through_mailbox=True)

    def _message_id(self, key: str) -> str:
        return f"<{message_event_id(key)}@{self._settings.inbound_domain}>"

    async def _composed(
        self, session: AsyncSession, row: RowMapping, lead: RowMapping, key: str
    ) -> tuple[EmailMessage, RowMapping] | None:
        activity = (
            (
                await session.execute(
                    select(m.activities).where(
                        m.activities.c.lead_id == lead["id"],
                        m.activities.c.kind == "email_out",
                        m.activities.c.data["message_key"].astext == key,
                    )
                )
            )
            .mappings()
            .first()
        )
        if activity is None or not lead["email"]:
            return None
        own = self._message_id(key)
        earlier = (
            (
                await session.execute(
                    select(m.mailbox_messages.c.message_id)
                    .where(
                        m.mailbox_messages.c.lead_id == lead["id"],
                        m.mailbox_messages.c.message_id != own,
                        m.mailbox_messages.c.status.in_(("sent", "read")),
                    )
                    .order_by(m.mailbox_messages.c.at)
                )
            )
            .scalars()
            .all()
        )
        intake = await self._org.ensure_mailbox(session, lead["org_id"])
        message = EmailMessage()
        message["From"] = formataddr((row["agent_name"], row["address"]))
        message["To"] = lead["email"]
        message["Subject"] = str(activity["data"].get("subject", ""))
        message["Reply-To"] = self._book.reply_address(intake["slug"], lead["reply_token"])
        message["Date"] = format_datetime(self._clock.now())
        message["Message-ID"] = own
        if earlier:
            message["In-Reply-To"] = earlier[-1]
            message["References"] = " ".join(earlier[-20:])
        message.set_content(activity["text"])
        return message, activity

    async def send_job(self, payload: MailboxSend, ctx: JobContext) -> None:
        async with self._db.sessions() as session:
            row = await self._mailbox(session, payload.mailbox_id)
            lead = (
                (await session.execute(select(m.leads).where(m.leads.c.id == payload.lead_id)))
                .mappings()
                .first()
            )
            status = await session.scalar(
                select(m.mailbox_messages.c.status).where(
                    m.mailbox_messages.c.message_key == payload.message_key
                )
            )
            composed = (
                await self._composed(session, row, lead, payload.message_key)
                if row is not None and lead is not None
                else None
            )
        if lead is None or status not in ("queued", None):
            return
        if row is None or row["status"] != "live" or composed is None:
            await self._fall_back(payload, ctx, row)
            return
        message, _ = composed
        try:
            await self._using(row, lambda client, grant: client.send(grant, message))
        except MailboxRefused as exc:
            await self._broken(row, exc.reason)
            await self._fall_back(payload, ctx, row)
            return
        async with self._db.transaction() as session:
            await session.execute(
                update(m.mailbox_messages)
                .where(m.mailbox_messages.c.message_key == payload.message_key)
                .values(status="sent", at=self._clock.now())
            )
            await ctx.finish(session)
        log.info("mailbox.sent", mailbox_id=str(row["id"]), lead_id=str(payload.lead_id))

    async def _fall_back(
        self, payload: MailboxSend, ctx: JobContext, row: RowMapping | None
    ) -> None:
        """The mailbox cannot send (broken, disconnected): the platform sends it, under the
        agent's name; the event id is the message's, so it is still sent once."""
        key = payload.message_key
        async with self._db.transaction() as session:
            lead = (
                (await session.execute(select(m.leads).where(m.leads.c.id == payload.lead_id)))
                .mappings()
                .first()
            )
            activity = (
                (
                    await session.execute(
                        select(m.activities).where(
                            m.activities.c.lead_id == payload.lead_id,
                            m.activities.c.kind == "email_out",
                            m.activities.c.data["message_key"].astext == key,
                        )
                    )
                )
                .mappings()
                .first()
            )
            if lead is not None and activity is not None and lead["email"]:
                intake = await self._org.ensure_mailbox(session, lead["org_id"])
                data = activity["data"]
                kind = data.get("kind", "reply")
                await self._book.publish(
                    session,
                    LeadMessageRequested(
                        event_id=message_event_id(key),
                        lead_id=lead["id"],
                        org_id=lead["org_id"],
                        message_key=key,
                        kind=kind if kind in ("acknowledgement", "follow_up") else "reply",
                        locale="en" if lead["locale"] == "en" else "de",
                        sender_name=row["agent_name"] if row is not None else intake["sender_name"],
                        reply_to=self._book.reply_address(intake["slug"], lead["reply_token"]),
                        sealed_recipient=seal(lead["email"], self._lead_mail_key, context=key),
                        sealed_content=seal(
                            json.dumps(
                                {"subject": data.get("subject", ""), "text": activity["text"]}
                            ),
                            self._lead_mail_key,
                            context=key,
                        ),
                        variant=data.get("variant"),
                    ),
                )
            await session.execute(
                update(m.mailbox_messages)
                .where(m.mailbox_messages.c.message_key == key)
                .values(status="fallback")
            )
            await ctx.finish(session)

    async def _mailbox(self, session: AsyncSession, mailbox_id: uuid.UUID) -> RowMapping | None:
        return (
            (
                await session.execute(
                    select(m.agent_mailboxes).where(m.agent_mailboxes.c.id == mailbox_id)
                )
            )
            .mappings()
            .first()
        )

    async def _broken(self, row: RowMapping, reason: str) -> None:
        """live -> broken, announced once (notify mails the agent)."""
        async with self._db.transaction() as session:
            changed = (
                (
                    await session.execute(
                        update(m.agent_mailboxes)
                        .where(
                            m.agent_mailboxes.c.id == row["id"],
                            m.agent_mailboxes.c.status == "live",
                        )
                        .values(
                            status="broken",
                            broken_reason=reason[:300],
                            updated_at=self._clock.now(),
                        )
                        .returning(*m.agent_mailboxes.c)
                    )
                )
                .mappings()
                .first()
            )
            if changed is None:
                return
            await self._book.publish(
                session,
                AgentMailboxBroken(
                    mailbox_id=changed["id"],
                    org_id=changed["org_id"],
                    user_id=changed["user_id"],
                    provider=changed["provider"],
                    locale="en" if changed["locale"] == "en" else "de",
                    reason=reason[:100],
                    agent_name=changed["agent_name"],
                    sealed_recipient=seal(
                        changed["agent_email"], self._lead_mail_key, context=str(changed["id"])
                    ),
                ),
            )
            await cancel_jobs(session, m.jobs, READ, key=str(changed["id"]))
        log.warning(
            "mailbox.broken", mailbox_id=str(row["id"]), provider=row["provider"], reason=reason
        )

    # --- reading --------------------------------------------------------------------------------

    async def sync_all(self, ctx: JobContext) -> None:
        """Periodic: one read job per live mailbox (each retried on its own)."""
        async with self._db.transaction() as session:
            ids = (
                (
                    await session.execute(
                        select(m.agent_mailboxes.c.id).where(m.agent_mailboxes.c.status == "live")
                    )
                )
                .scalars()
                .all()
            )
            for mailbox_id in ids:
                await enqueue_job(
                    session, m.jobs, READ, MailboxRef(mailbox_id=mailbox_id), key=str(mailbox_id)
                )

    async def read_job(self, ref: MailboxRef, ctx: JobContext) -> None:
        async with self._db.sessions() as session:
            row = await self._mailbox(session, ref.mailbox_id)
        if row is None or row["status"] != "live":
            return
        try:
            if row["cursor"] is None:
                cursor = await self._using(row, lambda client, grant: client.start_cursor(grant))
                messages: list[bytes] = []
            else:
                fetched = await self._using(
                    row, lambda client, grant: client.fetch(grant, row["cursor"])
                )
                messages, cursor = fetched.messages, fetched.cursor
        except MailboxRefused as exc:
            await self._broken(row, exc.reason)
            return
        attached = 0
        async with self._db.transaction() as session:
            for raw in messages:
                attached += await self._take_answer(session, row, raw)
            await session.execute(
                update(m.agent_mailboxes)
                .where(m.agent_mailboxes.c.id == row["id"])
                .values(cursor=cursor, last_sync_at=self._clock.now())
            )
            await ctx.finish(session)
        log.info("mailbox.read", mailbox_id=str(row["id"]), seen=len(messages), attached=attached)

    async def _take_answer(self, session: AsyncSession, row: RowMapping, raw: bytes) -> int:
        """A lead's answer joins its conversation; anything else is left alone, unstored."""
        mail = read_mail(raw)
        if mail.from_addr == row["address"].lower():
            return 0
        lead_id = None
        thread = _thread_ids(raw)
        if thread:
            lead_id = await session.scalar(
                select(m.mailbox_messages.c.lead_id)
                .where(
                    m.mailbox_messages.c.org_id == row["org_id"],
                    m.mailbox_messages.c.message_id.in_(thread),
                )
                .order_by(m.mailbox_messages.c.at.desc())
                .limit(1)
            )
        sender = normalise_email(mail.from_addr)
        if lead_id is None and sender:
            lead_id = await session.scalar(
                select(m.leads.c.id)
                .where(m.leads.c.org_id == row["org_id"], m.leads.c.email == sender)
                .order_by(m.leads.c.created_at.desc())
                .limit(1)
            )
        if lead_id is None:
            return 0
        message_id = (mail.message_id or "").strip()[:400] or (
            f"<{hashlib.sha256(raw).hexdigest()}@mailbox.invalid>"
        )
        fresh = await session.scalar(
            insert(m.mailbox_messages)
            .values(
                message_id=message_id,
                org_id=row["org_id"],
                lead_id=lead_id,
                mailbox_id=row["id"],
                direction="in",
                status="read",
                at=self._clock.now(),
            )
            .on_conflict_do_nothing()
            .returning(m.mailbox_messages.c.message_id)
        )
        if fresh is None or classify(mail, mail.from_addr):
            return 0  # seen before, or an auto-reply
        words = without_quote(mail.body) or mail.body.strip()
        await self._book.attach_reply(session, lead_id, words[:20_000], raw_message_id=None)
        return 1


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def secret_box(settings: LeadsSettings, internal_key: bytes) -> SecretBox:
    key = _secret(settings.secrets_key)
    return SecretBox.from_config(key, internal_key, SECRETS_PURPOSE)


__all__ = [
    "AgentMailbox",
    "AgentMailboxes",
    "ImapConnection",
    "MailboxOverview",
    "OAuthCallback",
    "OAuthStart",
    "Route",
    "secret_box",
]
